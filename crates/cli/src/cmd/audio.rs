//! `kvs audio` (placeholder until its crate lands).

/// Arguments of `kvs audio`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `kvs audio`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`kvs audio` is not available yet")
}
