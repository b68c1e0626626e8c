//! Track descriptions read from a fragment's `Tracks` element.

use bytes::Bytes;

use crate::element::{Children, read_float, read_string, read_uint};
use crate::{Error, ids};

/// What kind of media a track carries (Matroska `TrackType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrackKind {
    /// 1
    Video,
    /// 2
    Audio,
    /// 0x11
    Subtitle,
    /// Any other value, or none given.
    Other(u64),
}

/// Picture size of a video track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VideoInfo {
    /// `PixelWidth`.
    pub width: u64,
    /// `PixelHeight`.
    pub height: u64,
}

/// Sample format of an audio track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioInfo {
    /// `SamplingFrequency` in Hz (Matroska default 8000).
    pub sampling_frequency: f64,
    /// `Channels` (default 1).
    pub channels: u64,
    /// `BitDepth`, when given.
    pub bit_depth: Option<u64>,
}

/// One `TrackEntry`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Track {
    /// `TrackNumber`: what blocks refer to.
    pub number: u64,
    /// `TrackUID`.
    pub uid: Option<u64>,
    /// `Name`, e.g. `AUDIO_FROM_CUSTOMER` in Amazon Connect recordings.
    pub name: Option<String>,
    /// `TrackType`.
    pub kind: TrackKind,
    /// `CodecID`, e.g. `V_MPEG4/ISO/AVC`.
    pub codec_id: String,
    /// `CodecPrivate` (AVCDecoderConfigurationRecord for H.264), zero-copy.
    pub codec_private: Option<Bytes>,
    /// `DefaultDuration` in nanoseconds.
    pub default_duration_ns: Option<u64>,
    /// Video settings, for video tracks.
    pub video: Option<VideoInfo>,
    /// Audio settings, for audio tracks.
    pub audio: Option<AudioInfo>,
}

/// Reads every TrackEntry of a `Tracks` element whose data is `buf[data]`.
pub(crate) fn parse_tracks(
    buf: &Bytes,
    data: std::ops::Range<usize>,
    out: &mut Vec<Track>,
) -> Result<(), Error> {
    for entry in Children::new(buf, data, 0) {
        let entry = entry?.whole(0)?;
        if entry.header.id == ids::TRACK_ENTRY {
            out.push(parse_entry(buf, entry.data)?);
        }
    }
    Ok(())
}

fn parse_entry(buf: &Bytes, data: std::ops::Range<usize>) -> Result<Track, Error> {
    let mut track = Track {
        number: 0,
        uid: None,
        name: None,
        kind: TrackKind::Other(0),
        codec_id: String::new(),
        codec_private: None,
        default_duration_ns: None,
        video: None,
        audio: None,
    };
    for child in Children::new(buf, data, 0) {
        let child = child?.whole(0)?;
        let body = &buf[child.data.clone()];
        match child.header.id {
            ids::TRACK_NUMBER => track.number = read_uint(body).unwrap_or(0),
            ids::TRACK_UID => track.uid = read_uint(body),
            ids::NAME => track.name = Some(read_string(body)),
            ids::TRACK_TYPE => {
                track.kind = match read_uint(body).unwrap_or(0) {
                    1 => TrackKind::Video,
                    2 => TrackKind::Audio,
                    0x11 => TrackKind::Subtitle,
                    other => TrackKind::Other(other),
                }
            }
            ids::CODEC_ID => track.codec_id = read_string(body),
            ids::CODEC_PRIVATE => track.codec_private = Some(buf.slice(child.data)),
            ids::DEFAULT_DURATION => track.default_duration_ns = read_uint(body),
            ids::VIDEO => {
                let mut video = VideoInfo { width: 0, height: 0 };
                for v in Children::new(buf, child.data, 0) {
                    let v = v?.whole(0)?;
                    let body = &buf[v.data];
                    match v.header.id {
                        ids::PIXEL_WIDTH => video.width = read_uint(body).unwrap_or(0),
                        ids::PIXEL_HEIGHT => video.height = read_uint(body).unwrap_or(0),
                        _ => {}
                    }
                }
                track.video = Some(video);
            }
            ids::AUDIO => {
                let mut audio = AudioInfo { sampling_frequency: 8000.0, channels: 1, bit_depth: None };
                for a in Children::new(buf, child.data, 0) {
                    let a = a?.whole(0)?;
                    let body = &buf[a.data];
                    match a.header.id {
                        ids::SAMPLING_FREQUENCY => {
                            audio.sampling_frequency = read_float(body).unwrap_or(8000.0)
                        }
                        ids::CHANNELS => audio.channels = read_uint(body).unwrap_or(1),
                        ids::BIT_DEPTH => audio.bit_depth = read_uint(body),
                        _ => {}
                    }
                }
                track.audio = Some(audio);
            }
            _ => {}
        }
    }
    Ok(track)
}
