//! One test binary for the crate: the fleet against the local server, and leases against a
//! real DynamoDB (moto), skipped where moto is absent.

mod fleet;
mod lease;
