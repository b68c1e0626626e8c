//! Integration tests of kvs-producer, against kvs-local on loopback.

// Puts into a local server, then GetMedia EARLIEST: every frame, once, in fragments
// that start at keyframes; real files re-fragmented byte-exact.
mod put;
mod util;
