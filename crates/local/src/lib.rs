//! A KVS-compatible server on loopback with a synthetic camera: the embedded default.
#![deny(missing_docs)]
