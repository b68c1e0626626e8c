//! `kvs serve` (placeholder until its crate lands).

/// Arguments of `kvs serve`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `kvs serve`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`kvs serve` is not available yet")
}
