//! `kvs consume` (placeholder until its crate lands).

/// Arguments of `kvs consume`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `kvs consume`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`kvs consume` is not available yet")
}
