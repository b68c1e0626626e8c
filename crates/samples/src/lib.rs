//! Where the real KVS captures are, for the tests, benchmarks and doctests of this workspace.
//!
//! The captures (recorded GetMedia responses and two plain MKV files, listed with their
//! facts in the folder's README) live outside the repository: `$KVS_SAMPLES`, else
//! `../shared/kvs-samples` beside it. Where neither holds them (a fresh clone), the functions
//! here return `None` after a note on standard error, and the tests that need them skip.
//!
//! A dev-dependency only: it reads the environment and files, which the library crates never
//! do. Synthetic streams, which need no files, are `kvs_mkv::testing` (feature `testing`).
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use bytes::Bytes;

/// The folder of real KVS captures: `$KVS_SAMPLES`, else `../shared/kvs-samples` beside the
/// repository. `None`, with a note on standard error, where neither holds them.
pub fn samples_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("KVS_SAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/kvs-samples"));
    if dir.join("README.md").is_file() {
        Some(dir)
    } else {
        eprintln!("skipping: no KVS captures at {} (set KVS_SAMPLES)", dir.display());
        None
    }
}

/// One capture from [`samples_dir`], read whole; `None` to skip.
///
/// # Panics
/// If the folder exists but the file cannot be read: a broken checkout should fail loudly.
pub fn sample(name: &str) -> Option<Bytes> {
    let path = samples_dir()?.join(name);
    Some(Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))))
}
