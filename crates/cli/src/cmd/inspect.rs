//! `kvs inspect` (placeholder until its crate lands).

/// Arguments of `kvs inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `kvs inspect`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`kvs inspect` is not available yet")
}
