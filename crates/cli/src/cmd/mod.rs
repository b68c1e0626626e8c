//! One module per subcommand: its arguments and its `run`.

pub mod audio;
pub mod consume;
pub mod demo;
pub mod fleet;
pub mod frames;
pub mod inspect;
pub mod serve;
