//! `kvs demo` (placeholder until its crate lands).

/// Arguments of `kvs demo`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `kvs demo`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`kvs demo` is not available yet")
}
