//! `kvs`: consume Kinesis Video Streams from the command line.
//!
//! A thin binary over the library crates: argument parsing, progress display and exit
//! codes live here; everything else is in `kvs-mkv`, `kvs-consumer`, `kvs-local` and
//! `kvs-media`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod display;
mod images;
mod input;
mod metrics_endpoint;
mod record;

/// Consume Amazon Kinesis Video Streams: live, archived, or from files.
#[derive(Debug, Parser)]
#[command(name = "kvs", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the local KVS server with a synthetic camera and consume it live.
    Demo(cmd::demo::Args),
    /// Consume a stream (live or archived) fragment by fragment.
    Consume(cmd::consume::Args),
    /// Read many streams (a list, a prefix or all), with checkpoints and leases.
    Fleet(cmd::fleet::Args),
    /// List the fragments of a GetMedia capture or MKV file.
    Inspect(cmd::inspect::Args),
    /// Run a KVS-compatible server on loopback.
    Serve(cmd::serve::Args),
    /// Send a Matroska file, a pipe or the synthetic camera to a stream (PutMedia).
    Put(cmd::put::Args),
    /// Decode video frames of a capture to JPEG or PNG files.
    Frames(cmd::frames::Args),
    /// Save audio tracks of a capture as WAV files.
    Audio(cmd::audio::Args),
    /// An MP4 of a stream's range (GetClip), or of a capture remuxed locally.
    Clip(cmd::clip::Args),
    /// Pictures of a stream's range from the service (GetImages), one file each.
    Images(cmd::images::Args),
    /// Print HLS (and DASH) streaming session URLs of a stream for a player.
    Play(cmd::play::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kvs: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo(args) => cmd::demo::run(args),
        Command::Consume(args) => cmd::consume::run(args),
        Command::Fleet(args) => cmd::fleet::run(args),
        Command::Inspect(args) => cmd::inspect::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Put(args) => cmd::put::run(args),
        Command::Frames(args) => cmd::frames::run(args),
        Command::Audio(args) => cmd::audio::run(args),
        Command::Clip(args) => cmd::clip::run(args),
        Command::Images(args) => cmd::images::run(args),
        Command::Play(args) => cmd::play::run(args),
    }
}

/// `kvs inspect ... | head` must not report an error when `head` exits.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
