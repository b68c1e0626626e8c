//! What a track's codec needs to be remuxed: its configuration record read from the MKV
//! `CodecPrivate`, the MP4 sample entry built from it, and the time scale of its samples.
//!
//! Owns the mapping from Matroska codec IDs to MP4/MPEG-TS; does not touch frames (the
//! bitstream conversions for MPEG-TS are in `annexb`).

use bytes::Bytes;
use kvs_mkv::Track;
use mp4_atom::{Atom, Avcc, Buf, Hvcc};

use crate::Error;

/// Matroska codec IDs this crate remuxes.
pub(crate) mod ids {
    /// H.264, `CodecPrivate` = AVCDecoderConfigurationRecord.
    pub const H264: &str = "V_MPEG4/ISO/AVC";
    /// H.265, `CodecPrivate` = HEVCDecoderConfigurationRecord.
    pub const H265: &str = "V_MPEGH/ISO/HEVC";
    /// AAC, `CodecPrivate` = AudioSpecificConfig; older files use `A_AAC/MPEG4/LC` and
    /// friends without one.
    pub const AAC: &str = "A_AAC";
}

/// Time scale of video tracks: the 90 kHz clock of MPEG-TS, which holds whole
/// milliseconds (MKV's usual tick) exactly.
pub(crate) const VIDEO_TIMESCALE: u32 = 90_000;

/// AAC sampling rates by `samplingFrequencyIndex` (ISO/IEC 14496-3, table 1.18).
const AAC_RATES: [u32; 13] =
    [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/// Samples in one AAC frame (AAC-LC and the core of HE-AAC).
pub(crate) const AAC_FRAME_SAMPLES: u32 = 1024;

/// A supported codec and its configuration.
#[derive(Debug, Clone)]
pub(crate) enum Codec {
    /// H.264 with its avcC.
    H264(Avcc),
    /// H.265 with its hvcC.
    H265(Hvcc),
    /// AAC with its AudioSpecificConfig, read.
    Aac(AacConfig),
}

/// The fields of an AudioSpecificConfig that MP4 and ADTS need.
#[derive(Debug, Clone)]
pub(crate) struct AacConfig {
    /// The AudioSpecificConfig bytes, verbatim.
    pub asc: Vec<u8>,
    /// `audioObjectType` (2 = AAC-LC).
    pub object_type: u8,
    /// `samplingFrequencyIndex`, 15 when the rate is explicit.
    pub frequency_index: u8,
    /// Sampling rate in Hz.
    pub sample_rate: u32,
    /// `channelConfiguration` (0 = given by a program config element).
    pub channels: u8,
}

/// One track, checked and ready to be muxed.
#[derive(Debug, Clone)]
pub(crate) struct TrackConfig {
    /// The MKV track number, which blocks refer to.
    pub number: u64,
    /// The MP4 track ID (the same number).
    pub id: u32,
    /// The codec and its configuration.
    pub codec: Codec,
    /// Ticks per second of this track's sample times.
    pub timescale: u32,
    /// Picture size (video only), clamped to what MP4 sample entries hold.
    pub width: u16,
    /// Picture height (video only).
    pub height: u16,
    /// `DefaultDuration` of the track, when given: the duration of a lone frame.
    pub default_duration_ns: Option<u64>,
}

impl TrackConfig {
    /// Checks `track` and reads its codec configuration.
    pub fn new(track: &Track) -> Result<Self, Error> {
        let number = track.number;
        let id =
            u32::try_from(number).ok().filter(|&id| id > 0).ok_or(Error::BadTrackNumber { track: number })?;
        let bad = |reason: String| Error::BadCodecPrivate {
            track: number,
            codec_id: track.codec_id.clone(),
            reason,
        };
        let private = || track.codec_private.clone().ok_or_else(|| bad("missing".into()));
        let (codec, timescale) = match track.codec_id.as_str() {
            ids::H264 => {
                let avcc = decode_record::<Avcc>(&private()?).map_err(bad)?;
                if avcc.sequence_parameter_sets.is_empty() || avcc.picture_parameter_sets.is_empty() {
                    return Err(bad("no SPS or no PPS".into()));
                }
                (Codec::H264(avcc), VIDEO_TIMESCALE)
            }
            ids::H265 => {
                let hvcc = decode_record::<Hvcc>(&private()?).map_err(bad)?;
                (Codec::H265(hvcc), VIDEO_TIMESCALE)
            }
            id if id == ids::AAC || id.starts_with("A_AAC/") => {
                let aac = match &track.codec_private {
                    Some(asc) => parse_asc(asc).map_err(|r| bad(r.into()))?,
                    None => asc_from_track(track).map_err(|r| bad(r.into()))?,
                };
                let rate = aac.sample_rate;
                (Codec::Aac(aac), rate)
            }
            _ => return Err(Error::UnsupportedCodec { track: number, codec_id: track.codec_id.clone() }),
        };
        let clamp = |v: u64| u16::try_from(v).unwrap_or(u16::MAX);
        let (width, height) = track.video.map_or((0, 0), |v| (clamp(v.width), clamp(v.height)));
        Ok(TrackConfig {
            number,
            id,
            codec,
            timescale,
            width,
            height,
            default_duration_ns: track.default_duration_ns.filter(|&d| d > 0),
        })
    }

    /// True for H.264 and H.265.
    pub fn is_video(&self) -> bool {
        !matches!(self.codec, Codec::Aac(_))
    }

    /// Bytes of each NAL unit's length prefix in frames (video only).
    pub fn nal_length_size(&self) -> usize {
        match &self.codec {
            Codec::H264(avcc) => usize::from(avcc.length_size),
            Codec::H265(hvcc) => usize::from(hvcc.length_size_minus_one) + 1,
            Codec::Aac(_) => 0,
        }
    }

    /// Duration of a frame when nothing else tells it: `DefaultDuration`, else one AAC
    /// frame, else 1/30 s.
    pub fn fallback_duration_ns(&self) -> u64 {
        match (&self.codec, self.default_duration_ns) {
            (_, Some(d)) => d,
            (Codec::Aac(aac), None) => {
                u64::from(AAC_FRAME_SAMPLES) * 1_000_000_000 / u64::from(aac.sample_rate.max(1))
            }
            _ => 33_333_333,
        }
    }

    /// The MP4 sample entry (`avc1`, `hvc1` or `mp4a`) of the track.
    pub fn sample_entry(&self) -> mp4_atom::Codec {
        let visual = || mp4_atom::Visual {
            data_reference_index: 1,
            width: self.width,
            height: self.height,
            ..Default::default()
        };
        match &self.codec {
            Codec::H264(avcc) => {
                mp4_atom::Avc1 { visual: visual(), avcc: avcc.clone(), ..Default::default() }.into()
            }
            Codec::H265(hvcc) => {
                mp4_atom::Hvc1 { visual: visual(), hvcc: hvcc.clone(), ..Default::default() }.into()
            }
            Codec::Aac(aac) => mp4_atom::Mp4a {
                audio: mp4_atom::Audio {
                    data_reference_index: 1,
                    channel_count: u16::from(aac.channels.max(1)),
                    sample_size: 16,
                    sample_rate: mp4_atom::FixedPoint::new(u16::try_from(aac.sample_rate).unwrap_or(0), 0),
                },
                esds: mp4_atom::Esds {
                    es_desc: mp4_atom::esds::EsDescriptor {
                        es_id: 0,
                        dec_config: mp4_atom::esds::DecoderConfig {
                            // MPEG-4 Audio, AudioStream (ISO/IEC 14496-1, tables 5 and 6).
                            object_type_indication: 0x40,
                            stream_type: 0x05,
                            dec_specific: Some(mp4_atom::esds::DecoderSpecific {
                                profile: aac.object_type,
                                freq_index: aac.frequency_index,
                                chan_conf: aac.channels,
                                raw: aac.asc.clone(),
                            }),
                            ..Default::default()
                        },
                        ..Default::default()
                    },
                },
                btrt: None,
                taic: None,
            }
            .into(),
        }
    }
}

/// Reads a configuration record (the body of an `avcC`/`hvcC` box) that the MKV stores
/// bare, every byte accounted for.
fn decode_record<T: Atom>(body: &Bytes) -> Result<T, String> {
    let mut buf: &[u8] = body;
    let record = T::decode_body(&mut buf).map_err(|e| e.to_string())?;
    if buf.has_remaining() {
        return Err(format!("{} bytes after the record", buf.remaining()));
    }
    Ok(record)
}

/// Reads the head of an AudioSpecificConfig (ISO/IEC 14496-3, 1.6.2.1).
fn parse_asc(asc: &[u8]) -> Result<AacConfig, &'static str> {
    let mut bits = Bits { data: asc, pos: 0 };
    let mut object_type = bits.read(5).ok_or("AudioSpecificConfig cut short")? as u8;
    if object_type == 31 {
        object_type = 32 + bits.read(6).ok_or("AudioSpecificConfig cut short")? as u8;
    }
    let frequency_index = bits.read(4).ok_or("AudioSpecificConfig cut short")? as u8;
    let sample_rate = match frequency_index {
        15 => bits.read(24).ok_or("AudioSpecificConfig cut short")?,
        i => *AAC_RATES.get(usize::from(i)).ok_or("reserved sampling frequency index")?,
    };
    if sample_rate == 0 {
        return Err("sampling rate 0");
    }
    let channels = bits.read(4).ok_or("AudioSpecificConfig cut short")? as u8;
    Ok(AacConfig { asc: asc.to_vec(), object_type, frequency_index, sample_rate, channels })
}

/// An AAC-LC AudioSpecificConfig for a track that gives none (`A_AAC/MPEG4/LC` style).
fn asc_from_track(track: &Track) -> Result<AacConfig, &'static str> {
    let audio = track.audio.ok_or("no CodecPrivate and no Audio settings")?;
    let rate = audio.sampling_frequency.round() as u32;
    let index =
        AAC_RATES.iter().position(|&r| r == rate).ok_or("no CodecPrivate and an unusual sampling rate")?
            as u8;
    let channels = u8::try_from(audio.channels)
        .ok()
        .filter(|&c| (1..=7).contains(&c))
        .ok_or("no CodecPrivate and an unusual channel count")?;
    let asc = vec![(2 << 3) | (index >> 1), ((index & 1) << 7) | (channels << 3)];
    Ok(AacConfig { asc, object_type: 2, frequency_index: index, sample_rate: rate, channels })
}

/// A big-endian bit reader over a byte slice.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    /// The next `n` (at most 32) bits, or `None` past the end.
    fn read(&mut self, n: usize) -> Option<u32> {
        let mut value = 0u32;
        for _ in 0..n {
            let byte = *self.data.get(self.pos / 8)?;
            value = (value << 1) | u32::from((byte >> (7 - self.pos % 8)) & 1);
            self.pos += 1;
        }
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asc_of_aac_lc_48k_stereo() {
        let aac = parse_asc(&[0x11, 0x90]).unwrap();
        assert_eq!((aac.object_type, aac.frequency_index, aac.sample_rate, aac.channels), (2, 3, 48000, 2));
    }

    #[test]
    fn asc_with_explicit_rate_and_escape() {
        // AOT 31 escape + 6 bits (=> 32 + 1), index 15, 24-bit rate 1000, 1 channel.
        let mut w: u64 = 0;
        let mut n = 0;
        for (v, bits) in [(31u64, 5), (1, 6), (15, 4), (1000, 24), (1, 4)] {
            w = (w << bits) | v;
            n += bits;
        }
        let pad = 8 - n % 8;
        w <<= pad;
        let bytes: Vec<u8> = (0..(n + pad) / 8).rev().map(|i| (w >> (8 * i)) as u8).collect();
        let aac = parse_asc(&bytes).unwrap();
        assert_eq!((aac.object_type, aac.frequency_index, aac.sample_rate, aac.channels), (33, 15, 1000, 1));
    }

    #[test]
    fn bad_asc_is_an_error() {
        assert_eq!(parse_asc(&[0x11]).unwrap_err(), "AudioSpecificConfig cut short");
        assert_eq!(parse_asc(&[0x16, 0x90]).unwrap_err(), "reserved sampling frequency index");
    }
}
