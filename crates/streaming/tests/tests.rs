//! Integration tests of kvs-streaming, one module per concern.

/// Shared fixtures: a stream of fragments and sessions on it.
mod common;
/// DASH manifests parsed back with roxmltree.
mod dash;
/// HLS playlists parsed back with m3u8-rs.
mod hls;
/// Player paths and session URLs.
mod player;
/// Request validation: AWS's ranges, defaults and errors.
mod requests;
/// Session table: tokens, expiry, limits, and the windows of each mode.
mod sessions;
