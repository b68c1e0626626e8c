//! `kvs frames` (placeholder until its crate lands).

/// Arguments of `kvs frames`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `kvs frames`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`kvs frames` is not available yet")
}
