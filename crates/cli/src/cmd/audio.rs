//! `kvs audio`: saves the audio tracks of a GetMedia capture, an MKV file or standard
//! input as WAV files, `track<N>.wav` over the whole input and, on request, one per
//! fragment, `<fragment number>-track<N>.wav`. Decoding and WAV writing are `kvs-media`'s.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use kvs_media::{WavWriter, audio_tracks};
use kvs_mkv::{Event, Fragment};

use crate::input::Input;

/// Arguments of `kvs audio`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A GetMedia capture or MKV file; `-` for standard input.
    input: PathBuf,
    /// Directory for the WAV files (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Only the track with this name (e.g. AUDIO_FROM_CUSTOMER).
    #[arg(long)]
    track: Option<String>,
    /// Also write one WAV per fragment and track.
    #[arg(long)]
    per_fragment: bool,
}

/// Runs `kvs audio`.
pub fn run(args: Args) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let input = Input::open(&args.input, true)?;
    let mut state = State { args, calls: BTreeMap::new(), files: Vec::new(), unsupported: Vec::new() };
    input.split(|event, _| state.handle(event))?;
    for (number, (name, writer)) in std::mem::take(&mut state.calls) {
        let samples = writer.samples();
        let path = writer.finish()?;
        println!(
            "track {number} ({}): {samples} samples -> {}",
            name.as_deref().unwrap_or("unnamed"),
            path.display()
        );
    }
    if state.files.is_empty() {
        match &state.args.track {
            Some(name) => anyhow::bail!("no audio track named {name:?} that this build can decode"),
            None => anyhow::bail!("no audio track that this build can decode"),
        }
    }
    Ok(())
}

struct State {
    args: Args,
    /// One writer per track number over the whole input, with the track's name.
    calls: BTreeMap<u64, (Option<String>, WavWriter)>,
    files: Vec<PathBuf>,
    /// Tracks whose codec this build cannot decode, reported once.
    unsupported: Vec<u64>,
}

impl State {
    fn handle(&mut self, event: Event) -> anyhow::Result<()> {
        match event {
            Event::Fragment(fragment) => self.fragment(&fragment)?,
            Event::Skipped(s) => tracing::warn!(bytes = s.len, reason = %s.reason, "skipped data"),
            Event::AwsError(e) => tracing::warn!(error = %e, "error in the stream"),
            _ => {}
        }
        Ok(())
    }

    fn fragment(&mut self, fragment: &Fragment) -> anyhow::Result<()> {
        let label = match &fragment.kvs().fragment_number {
            Some(n) => n.as_str().to_owned(),
            None => fragment.index().to_string(),
        };
        for track in audio_tracks(fragment)? {
            if self.args.track.as_ref().is_some_and(|want| track.track.name.as_ref() != Some(want)) {
                continue;
            }
            let number = track.track.number;
            if self.unsupported.contains(&number) {
                continue;
            }
            if !self.calls.contains_key(&number) {
                let path = self.args.out.join(format!("track{number}.wav"));
                let writer = match WavWriter::create(&path, &track.track) {
                    Ok(writer) => writer,
                    Err(e @ kvs_media::Error::UnsupportedCodec { .. }) => {
                        let hint = match kvs_media::Codec::from_codec_id(&track.track.codec_id) {
                            Some(codec) if !codec.decodable() => " (it needs kvs-media's `ffmpeg` feature)",
                            _ => "",
                        };
                        eprintln!("kvs: skipping track {number}: {e}{hint}");
                        self.unsupported.push(number);
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                };
                self.files.push(path);
                self.calls.insert(number, (track.track.name.clone(), writer));
            }
            let mut per_fragment = match self.args.per_fragment {
                true => Some(WavWriter::create(
                    &self.args.out.join(format!("{label}-track{number}.wav")),
                    &track.track,
                )?),
                false => None,
            };
            let (_, call) = self.calls.get_mut(&number).expect("inserted above");
            for frame in &track.frames {
                if let Err(e) = call.write_frame(&frame.payload) {
                    tracing::warn!(track = number, error = %e, "audio frame skipped");
                    continue;
                }
                if let Some(w) = per_fragment.as_mut() {
                    w.write_frame(&frame.payload)?;
                }
            }
            if let Some(w) = per_fragment {
                self.files.push(w.finish()?);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvs_mkv::{EbmlWriter, ids};

    /// Two fragments of a Connect-style call: two named mono 8 kHz 16-bit PCM tracks.
    fn call() -> Vec<u8> {
        let mut out = Vec::new();
        for f in 0..2u64 {
            let mut w = EbmlWriter::new();
            w.ebml_header("matroska");
            w.unknown_size_master(ids::SEGMENT);
            w.master(ids::TRACKS, |t| {
                for (n, name) in [(1, "AUDIO_FROM_CUSTOMER"), (2, "AUDIO_TO_CUSTOMER")] {
                    t.master(ids::TRACK_ENTRY, |e| {
                        e.uint(ids::TRACK_NUMBER, n).uint(ids::TRACK_TYPE, 2).string(ids::NAME, name);
                        e.string(ids::CODEC_ID, "A_PCM/INT/LIT");
                        e.master(ids::AUDIO, |a| {
                            a.float(ids::SAMPLING_FREQUENCY, 8000.0)
                                .uint(ids::CHANNELS, 1)
                                .uint(ids::BIT_DEPTH, 16);
                        });
                    });
                }
            });
            let number = format!("{}", 500 + f);
            w.simple_tags(&[("AWS_KINESISVIDEO_FRAGMENT_NUMBER", &number)]);
            w.master(ids::CLUSTER, |c| {
                c.uint(ids::TIMECODE, f * 1000);
                for track in 1..=2u64 {
                    let payload: Vec<u8> =
                        (0..80i16).flat_map(|s| (s * track as i16 + f as i16).to_le_bytes()).collect();
                    c.simple_block(track, 0, true, &payload);
                }
            });
            w.simple_tags(&[("AWS_KINESISVIDEO_CONTINUATION_TOKEN", &number)]);
            out.extend_from_slice(w.as_slice());
        }
        out
    }

    #[test]
    fn a_call_gives_one_wav_per_track_and_per_fragment_files_on_request() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("call.mkv");
        std::fs::write(&input, call()).unwrap();
        let out = dir.path().join("wav");
        run(Args { input, out: out.clone(), track: Some("AUDIO_TO_CUSTOMER".into()), per_fragment: true })
            .unwrap();
        let mut names: Vec<String> =
            std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["500-track2.wav", "501-track2.wav", "track2.wav"]);
        let samples: Vec<i16> =
            hound::WavReader::open(out.join("track2.wav")).unwrap().samples().map(Result::unwrap).collect();
        let expected: Vec<i16> = (0..2i16).flat_map(|f| (0..80i16).map(move |s| s * 2 + f)).collect();
        assert_eq!(samples, expected);
    }
}
