//! Integration tests of kvs-h264: properties over arbitrary input (proptest).

/// Arbitrary bytes never panic any parser; what is written reads back byte for byte.
mod properties;
