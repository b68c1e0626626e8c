//! Audio: the frames of each audio track of a fragment, and WAV files made from them. PCM
//! (`A_PCM/INT/LIT`, `A_PCM/INT/BIG`, `A_PCM/FLOAT/IEEE`, as Amazon Connect sends) is
//! written with the rate, depth and channels the track declares; AAC is decoded through
//! FFmpeg with the `ffmpeg` feature. Per fragment or over a whole call: one [`WavWriter`]
//! takes the frames of as many fragments as it is given.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use kvs_mkv::{Fragment, Track, TrackKind};

use crate::Error;
use crate::codec::Codec;
use crate::error::AudioProblem;

/// One coded audio frame.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AudioFrame {
    /// Presentation time in nanoseconds.
    pub timestamp_ns: i64,
    /// The coded bytes (PCM samples, or one AAC access unit), zero-copy.
    pub payload: Bytes,
}

/// An audio track of a fragment and its frames, in stored order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AudioTrack {
    /// The track as the fragment describes it (number, name, codec, rate...).
    pub track: Track,
    /// Its frames.
    pub frames: Vec<AudioFrame>,
}

/// Every audio track of a fragment with its frames.
pub fn audio_tracks(fragment: &Fragment) -> Result<Vec<AudioTrack>, Error> {
    let mut tracks: Vec<AudioTrack> = fragment
        .tracks()?
        .into_iter()
        .filter(|t| t.kind == TrackKind::Audio)
        .map(|track| AudioTrack { track, frames: Vec::new() })
        .collect();
    let (frames, error) = fragment.frames_lossy();
    if let Some(error) = error {
        tracing::warn!(%error, "fragment {} has a malformed block: audio after it is lost", fragment.index());
    }
    for frame in frames {
        if let Some(t) = tracks.iter_mut().find(|t| t.track.number == frame.track) {
            t.frames.push(AudioFrame { timestamp_ns: frame.timestamp_ns, payload: frame.payload });
        }
    }
    Ok(tracks)
}

/// The sample format of a PCM track, read from the track, not assumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PcmFormat {
    /// Samples per second.
    pub sample_rate: u32,
    /// Interleaved channels.
    pub channels: u16,
    /// Bits per sample: 8, 16, 24 or 32.
    pub bits: u16,
    /// IEEE float samples (`A_PCM/FLOAT/IEEE`, 32 bits).
    pub float: bool,
    /// Big-endian samples (`A_PCM/INT/BIG`).
    pub big_endian: bool,
}

impl PcmFormat {
    /// The format of a PCM track; an error for other codecs or impossible settings.
    pub fn from_track(track: &Track) -> Result<Self, Error> {
        let bad = |problem: AudioProblem| Error::AudioFormat { track: track.number, problem };
        let (float, big_endian) = match Codec::from_codec_id(&track.codec_id) {
            Some(Codec::PcmIntLittle) => (false, false),
            Some(Codec::PcmIntBig) => (false, true),
            Some(Codec::PcmFloat) => (true, false),
            _ => {
                return Err(Error::UnsupportedCodec {
                    track: track.number,
                    codec_id: track.codec_id.clone(),
                });
            }
        };
        let audio = track.audio.ok_or(bad(AudioProblem::NoAudioSettings))?;
        let rate = audio.sampling_frequency;
        if !((1.0..=768_000.0).contains(&rate) && rate.fract() == 0.0) {
            return Err(bad(AudioProblem::SamplingFrequency(rate)));
        }
        let channels = u16::try_from(audio.channels).ok().filter(|c| (1..=32).contains(c));
        let channels = channels.ok_or(bad(AudioProblem::Channels(audio.channels)))?;
        let bits = audio.bit_depth.ok_or(bad(AudioProblem::NoBitDepth))?;
        let valid = if float { bits == 32 } else { matches!(bits, 8 | 16 | 24 | 32) };
        if !valid {
            return Err(bad(AudioProblem::BitDepth(bits)));
        }
        Ok(Self { sample_rate: rate as u32, channels, bits: bits as u16, float, big_endian })
    }

    fn spec(self) -> hound::WavSpec {
        hound::WavSpec {
            channels: self.channels,
            sample_rate: self.sample_rate,
            bits_per_sample: self.bits,
            sample_format: if self.float { hound::SampleFormat::Float } else { hound::SampleFormat::Int },
        }
    }

    /// Bytes per frame of samples (one sample of each channel).
    fn block_align(self) -> usize {
        usize::from(self.channels) * usize::from(self.bits / 8)
    }
}

/// How a track's frames become samples.
enum Source {
    Pcm(PcmFormat),
    #[cfg(feature = "ffmpeg")]
    Aac(Box<crate::ffmpeg_backend::AacDecoder>),
}

/// Writes one audio track to a WAV file, fragment after fragment.
///
/// ```no_run
/// # fn main() -> Result<(), kvs_media::Error> {
/// # let fragments: Vec<kvs_mkv::Fragment> = Vec::new();
/// use kvs_media::{WavWriter, audio_tracks};
/// let mut writer: Option<WavWriter> = None;
/// for fragment in &fragments {
///     for track in audio_tracks(fragment)? {
///         let w = match writer.as_mut() {
///             Some(w) => w,
///             None => writer.insert(WavWriter::create("call.wav".as_ref(), &track.track)?),
///         };
///         for frame in &track.frames {
///             w.write_frame(&frame.payload)?;
///         }
///     }
/// }
/// if let Some(w) = writer { w.finish()?; }
/// # Ok(()) }
/// ```
pub struct WavWriter {
    path: PathBuf,
    track: u64,
    source: Source,
    wav: Option<hound::WavWriter<BufWriter<File>>>,
    samples: u64,
}

impl std::fmt::Debug for WavWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavWriter").field("path", &self.path).field("track", &self.track).finish()
    }
}

fn wav_error(path: &Path) -> impl Fn(hound::Error) -> Error + '_ {
    move |e| match e {
        hound::Error::IoError(source) => Error::Io { path: path.to_owned(), source },
        other => Error::Encode { format: "wav", source: Box::new(other) },
    }
}

impl WavWriter {
    /// Creates the file for this track: PCM tracks keep their format; AAC (with the
    /// `ffmpeg` feature) becomes 16-bit PCM at the decoder's rate.
    pub fn create(path: &Path, track: &Track) -> Result<Self, Error> {
        let source = match Codec::from_codec_id(&track.codec_id) {
            #[cfg(feature = "ffmpeg")]
            Some(Codec::Aac) => Source::Aac(Box::new(crate::ffmpeg_backend::AacDecoder::new(track)?)),
            _ => Source::Pcm(PcmFormat::from_track(track)?),
        };
        let wav = match &source {
            Source::Pcm(format) => {
                Some(hound::WavWriter::create(path, format.spec()).map_err(wav_error(path))?)
            }
            #[cfg(feature = "ffmpeg")]
            Source::Aac(_) => None,
        };
        Ok(Self { path: path.to_owned(), track: track.number, source, wav, samples: 0 })
    }

    /// Appends the samples of one frame.
    pub fn write_frame(&mut self, payload: &[u8]) -> Result<(), Error> {
        match &mut self.source {
            Source::Pcm(format) => {
                let format = *format;
                let align = format.block_align();
                if !payload.len().is_multiple_of(align) {
                    return Err(Error::PartialSamples { bytes: payload.len(), block_align: align });
                }
                let Some(wav) = self.wav.as_mut() else { return Ok(()) };
                write_pcm(wav, format, payload).map_err(wav_error(&self.path))?;
                self.samples += (payload.len() / align) as u64;
            }
            #[cfg(feature = "ffmpeg")]
            Source::Aac(decoder) => {
                let decoded = decoder.decode(payload)?;
                if decoded.samples.is_empty() {
                    return Ok(());
                }
                if self.wav.is_none() {
                    let spec = hound::WavSpec {
                        channels: decoded.channels,
                        sample_rate: decoded.sample_rate,
                        bits_per_sample: 16,
                        sample_format: hound::SampleFormat::Int,
                    };
                    self.wav =
                        Some(hound::WavWriter::create(&self.path, spec).map_err(wav_error(&self.path))?);
                }
                let Some(wav) = self.wav.as_mut() else { return Ok(()) };
                for &s in &decoded.samples {
                    wav.write_sample(s).map_err(wav_error(&self.path))?;
                }
                self.samples += (decoded.samples.len() / usize::from(decoded.channels.max(1))) as u64;
            }
        }
        Ok(())
    }

    /// Sample frames written so far (one per channel group).
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Completes the header and closes the file; returns its path.
    pub fn finish(self) -> Result<PathBuf, Error> {
        let wav = match self.wav {
            Some(wav) => wav,
            // An AAC track that produced no sound still gets a (silent) file.
            None => {
                let spec = hound::WavSpec {
                    channels: 1,
                    sample_rate: 8000,
                    bits_per_sample: 16,
                    sample_format: hound::SampleFormat::Int,
                };
                hound::WavWriter::create(&self.path, spec).map_err(wav_error(&self.path))?
            }
        };
        wav.finalize().map_err(wav_error(&self.path))?;
        Ok(self.path)
    }
}

fn write_pcm(
    wav: &mut hound::WavWriter<BufWriter<File>>,
    format: PcmFormat,
    payload: &[u8],
) -> Result<(), hound::Error> {
    let be = format.big_endian;
    match (format.float, format.bits) {
        (true, _) => {
            for c in payload.chunks_exact(4) {
                wav.write_sample(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))?;
            }
        }
        // 8-bit PCM is unsigned in Matroska as in WAV; hound takes it signed.
        (false, 8) => {
            for &b in payload {
                wav.write_sample((b ^ 0x80) as i8)?;
            }
        }
        (false, 16) => {
            for c in payload.chunks_exact(2) {
                let v = if be { i16::from_be_bytes([c[0], c[1]]) } else { i16::from_le_bytes([c[0], c[1]]) };
                wav.write_sample(v)?;
            }
        }
        (false, 24) => {
            for c in payload.chunks_exact(3) {
                let bytes = if be { [c[0], c[1], c[2], 0] } else { [c[2], c[1], c[0], 0] };
                wav.write_sample(i32::from_be_bytes(bytes) >> 8)?;
            }
        }
        (false, _) => {
            for c in payload.chunks_exact(4) {
                let b = [c[0], c[1], c[2], c[3]];
                wav.write_sample(if be { i32::from_be_bytes(b) } else { i32::from_le_bytes(b) })?;
            }
        }
    }
    Ok(())
}
