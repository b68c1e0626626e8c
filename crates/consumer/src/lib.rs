//! Consume KVS streams: every fragment exactly once, in order, as soon as it is complete.
#![deny(missing_docs)]
