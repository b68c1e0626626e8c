//! `kvs play`: prints an HLS streaming session URL for a stream (and a DASH one with
//! `--dash`), live, replayed from a time, or a fixed range, for a player such as ffplay,
//! VLC, Safari or hls.js.
//!
//! The calls are `kvs_consumer::archived`'s; the service serves the playlists.

use kvs_consumer::TimestampKind;
use kvs_consumer::archived::{ContainerFormat, Playback, SessionRequest};

use crate::cmd::archived::{ServiceArgs, runtime, time};

/// How the session plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// The live edge (LIVE).
    Live,
    /// From --from, following new fragments, until --to if given (LIVE_REPLAY).
    Replay,
    /// --from to --to (ON_DEMAND).
    OnDemand,
}

/// HLS media container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Container {
    /// Fragmented MP4 (FRAGMENTED_MP4).
    Fmp4,
    /// MPEG-TS (MPEG_TS).
    Ts,
}

/// Arguments of `kvs play`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stream name, or ARN (`arn:...`).
    #[arg(long)]
    stream: String,
    /// Playback mode (default: live, or replay / on-demand when --from is given).
    #[arg(long, value_enum)]
    mode: Option<Mode>,
    /// Start (RFC 3339 or Unix seconds): replay and on-demand.
    #[arg(long)]
    from: Option<String>,
    /// End (RFC 3339 or Unix seconds): on-demand, and optional for replay.
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// --from and --to are producer timestamps, not server timestamps.
    #[arg(long)]
    producer_time: bool,
    /// Print the DASH manifest URL too, on a second line.
    #[arg(long)]
    dash: bool,
    /// Seconds the URLs work (300 to 43200; default: the service's, 300).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(300..=43200))]
    expires: Option<u64>,
    /// HLS media container.
    #[arg(long, value_enum, default_value_t = Container::Fmp4)]
    container: Container,
    /// Fragments per playlist (default: the service's).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=5000))]
    max_fragments: Option<u32>,
    /// Fragments show their producer timestamps to the player.
    #[arg(long)]
    display_timestamps: bool,
    /// Where the service is.
    #[command(flatten)]
    service: ServiceArgs,
}

impl Args {
    /// The session asked for, checked.
    fn request(&self) -> anyhow::Result<SessionRequest> {
        let from = self.from.as_deref().map(|t| time("--from", t)).transpose()?;
        let to = self.to.as_deref().map(|t| time("--to", t)).transpose()?;
        let mode = self.mode.unwrap_or(match (from, to) {
            (None, _) => Mode::Live,
            (Some(_), None) => Mode::Replay,
            (Some(_), Some(_)) => Mode::OnDemand,
        });
        let playback = match (mode, from, to) {
            (Mode::Live, None, None) => Playback::Live,
            (Mode::Live, _, _) => {
                anyhow::bail!("--mode live plays the live edge: --from and --to are for replay and on-demand")
            }
            (Mode::Replay, Some(from), to) => Playback::LiveReplay { from, to },
            (Mode::OnDemand, Some(from), Some(to)) => Playback::OnDemand { from, to },
            (Mode::Replay, None, _) => anyhow::bail!("--mode replay needs --from"),
            (Mode::OnDemand, _, _) => anyhow::bail!("--mode on-demand needs --from and --to"),
        };
        if let (Some(from), Some(to)) = (from, to) {
            anyhow::ensure!(from <= to, "--to is before --from");
        }
        let mut request = SessionRequest::new(playback);
        if self.producer_time {
            request.kind = TimestampKind::Producer;
        }
        request.expires = self.expires.map(std::time::Duration::from_secs);
        request.max_fragments = self.max_fragments;
        request.display_fragment_timestamp = self.display_timestamps;
        request.container = match self.container {
            Container::Fmp4 => ContainerFormat::FragmentedMp4,
            Container::Ts => ContainerFormat::MpegTs,
        };
        Ok(request)
    }
}

/// Runs `kvs play`: the HLS URL on standard output, then the DASH one with `--dash`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let request = args.request()?;
    let (hls, dash) = runtime()?.block_on(async {
        let archive = args.service.archive(&args.stream).await?;
        let hls = archive.hls_url(&request).await?;
        let dash = if args.dash { Some(archive.dash_url(&request).await?) } else { None };
        Ok::<_, anyhow::Error>((hls, dash))
    })?;
    println!("{hls}");
    if let Some(dash) = dash {
        println!("{dash}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::cmd::parse_args;

    fn request(args: &[&str]) -> anyhow::Result<SessionRequest> {
        let mut all = vec!["--stream", "cam"];
        all.extend_from_slice(args);
        parse_args::<Args>(&all)?.request()
    }

    #[test]
    fn the_mode_follows_the_range() {
        let t = |s| UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(request(&[]).unwrap().playback, Playback::Live);
        assert_eq!(
            request(&["--from", "10"]).unwrap().playback,
            Playback::LiveReplay { from: t(10), to: None }
        );
        assert_eq!(
            request(&["--from", "10", "--to", "20"]).unwrap().playback,
            Playback::OnDemand { from: t(10), to: t(20) }
        );
        assert_eq!(
            request(&["--mode", "replay", "--from", "10", "--to", "20"]).unwrap().playback,
            Playback::LiveReplay { from: t(10), to: Some(t(20)) }
        );
        assert!(request(&["--mode", "live", "--from", "10"]).is_err());
        assert!(request(&["--mode", "on-demand", "--from", "10"]).is_err());
        assert!(request(&["--mode", "replay"]).is_err());
        assert!(request(&["--from", "20", "--to", "10"]).is_err());
        assert!(request(&["--expires", "299"]).is_err());
        let r = request(&["--expires", "600", "--container", "ts", "--producer-time"]).unwrap();
        assert_eq!(
            (r.expires, r.container, r.kind),
            (Some(Duration::from_secs(600)), ContainerFormat::MpegTs, TimestampKind::Producer)
        );
    }
}
