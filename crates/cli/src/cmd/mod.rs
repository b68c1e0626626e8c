//! One module per subcommand: its arguments and its `run`.

pub mod archived;
pub mod audio;
pub mod clip;
pub mod consume;
pub mod demo;
pub mod fleet;
pub mod frames;
pub mod images;
pub mod inspect;
pub mod play;
pub mod put;
pub mod serve;

/// Parses a subcommand's arguments the way `kvs` does, for its unit tests.
#[cfg(test)]
pub(crate) fn parse_args<A: clap::Args + clap::FromArgMatches>(args: &[&str]) -> Result<A, clap::Error> {
    let command = A::augment_args(clap::Command::new("kvs-test"));
    let matches = command.try_get_matches_from(std::iter::once("kvs-test").chain(args.iter().copied()))?;
    A::from_arg_matches(&matches)
}
