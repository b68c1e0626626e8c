//! Integration tests of kvs-mkv, one module per concern.

/// Shared helpers: finding the real captures and splitting whole inputs.
mod util;

/// Every real capture in ../shared/kvs-samples gives exactly the facts of its README.
mod samples;

/// Chunking, garbage and truncation, on captures and synthetic streams (proptest).
mod chunking;

/// Segments holding several fragments: merged KVS files, plain Matroska files.
mod segments;

/// Bad input: limits, hostile sizes, in-band errors.
mod bad_input;

/// Writing fragments back: playable files with known sizes.
mod writer;
