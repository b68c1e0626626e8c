//! The Python package kvs_consumer: the AWS Python sample's API on the Rust engine.
#![deny(missing_docs)]
