//! The FFmpeg backend (feature `ffmpeg`): libavcodec from Debian's packages decodes H.265,
//! H.264 and the other video codecs it knows, and AAC audio. Owns only the codec calls:
//! access units come in as `video` prepares them (Annex B with parameter sets in front of
//! each IDR, so no extradata is needed), AAC frames get an ADTS header built from the
//! track's AudioSpecificConfig for the same reason.

use std::sync::Once;

use ff::codec::{self, Id};
use ff::format::Pixel;
use ff::util::color;
use ff::util::frame;
use ffmpeg_next as ff;

use crate::Error;
use crate::codec::Codec;
use crate::colour::YuvPlanes;
use crate::error::AudioProblem;
use crate::nal::Signalling;
use crate::video::{Backend, Output};

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if let Err(e) = ff::init() {
            tracing::warn!(error = %e, "FFmpeg initialisation failed");
        }
        ff::util::log::set_level(ff::util::log::Level::Fatal);
    });
}

/// The FFmpeg codec for a Matroska video CodecID.
fn video_codec(codec_id: &str) -> Option<Id> {
    Some(match Codec::from_codec_id(codec_id)? {
        Codec::H264 => Id::H264,
        Codec::H265 => Id::HEVC,
        Codec::Vp8 => Id::VP8,
        Codec::Vp9 => Id::VP9,
        Codec::Mjpeg => Id::MJPEG,
        _ => return None,
    })
}

const BACKEND: &str = "FFmpeg";

fn ff_error(e: ff::Error) -> Error {
    Error::Decoder { backend: BACKEND, source: Box::new(e) }
}

fn rejected(e: ff::Error) -> Error {
    Error::FrameRejected { backend: BACKEND, source: Box::new(e) }
}

fn scaler_error(e: ff::Error) -> Error {
    Error::Decoder { backend: "swscale", source: Box::new(e) }
}

/// A libavcodec video decoder, one thread (the caller decodes streams in parallel).
pub(crate) struct FfmpegVideo {
    decoder: ff::decoder::Video,
    frame: frame::Video,
    converted: Option<(ff::software::scaling::Context, frame::Video)>,
}

impl FfmpegVideo {
    /// `None` when FFmpeg has no decoder for this codec.
    pub(crate) fn new(codec_id: &str) -> Option<Result<Self, Error>> {
        init();
        let id = video_codec(codec_id)?;
        let codec = ff::decoder::find(id)?;
        let mut context = codec::Context::new_with_codec(codec);
        context.set_threading(ff::threading::Config {
            kind: ff::threading::Type::None,
            count: 1,
            ..Default::default()
        });
        Some(
            context
                .decoder()
                .video()
                .map(|decoder| Self { decoder, frame: frame::Video::empty(), converted: None })
                .map_err(ff_error),
        )
    }

    fn drain(&mut self, out: &mut dyn FnMut(Output<'_>)) -> Result<(), Error> {
        loop {
            match self.decoder.receive_frame(&mut self.frame) {
                Ok(()) => self.emit(out)?,
                Err(ff::Error::Eof) => return Ok(()),
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => return Ok(()),
                Err(e) => return Err(rejected(e)),
            }
        }
    }

    fn emit(&mut self, out: &mut dyn FnMut(Output<'_>)) -> Result<(), Error> {
        let tag = self.frame.pts().and_then(|p| usize::try_from(p).ok());
        let signalling = Signalling {
            matrix: match self.frame.color_space() {
                color::Space::BT709 => Some(1),
                color::Space::BT470BG | color::Space::SMPTE170M => Some(6),
                color::Space::BT2020NCL => Some(9),
                _ => None,
            },
            full_range: match self.frame.color_range() {
                color::Range::JPEG => Some(true),
                color::Range::MPEG => Some(false),
                _ => None,
            },
        };
        let (width, height) = (self.frame.width(), self.frame.height());
        let picture = if matches!(self.frame.format(), Pixel::YUV420P | Pixel::YUVJ420P) {
            &self.frame
        } else {
            // 10-bit, 4:2:2, 4:4:4...: through swscale to 8-bit 4:2:0.
            let stale = self.converted.as_ref().is_none_or(|(s, _)| {
                s.input().format != self.frame.format()
                    || s.input().width != width
                    || s.input().height != height
            });
            if stale {
                let scaler = ff::software::scaling::Context::get(
                    self.frame.format(),
                    width,
                    height,
                    Pixel::YUV420P,
                    width,
                    height,
                    ff::software::scaling::Flags::BILINEAR,
                )
                .map_err(scaler_error)?;
                self.converted = Some((scaler, frame::Video::empty()));
            }
            let Some((scaler, converted)) = self.converted.as_mut() else { unreachable!("set above") };
            scaler.run(&self.frame, converted).map_err(scaler_error)?;
            converted
        };
        out(Output {
            planes: YuvPlanes {
                width: width as usize,
                height: height as usize,
                y: picture.data(0),
                u: picture.data(1),
                v: picture.data(2),
                strides: (picture.stride(0), picture.stride(1), picture.stride(2)),
            },
            tag,
            signalling: Some(signalling),
        });
        Ok(())
    }
}

impl Backend for FfmpegVideo {
    fn decode(
        &mut self,
        access_unit: &[u8],
        tag: usize,
        out: &mut dyn FnMut(Output<'_>),
    ) -> Result<(), Error> {
        let mut packet = ff::Packet::copy(access_unit);
        packet.set_pts(i64::try_from(tag).ok());
        self.decoder.send_packet(&packet).map_err(rejected)?;
        self.drain(out)
    }

    fn flush(&mut self, out: &mut dyn FnMut(Output<'_>)) -> Result<(), Error> {
        self.decoder.send_eof().map_err(ff_error)?;
        let result = self.drain(out);
        self.decoder.flush();
        result
    }
}

/// Decoded audio: interleaved 16-bit samples.
pub(crate) struct Pcm {
    pub samples: Vec<i16>,
    pub sample_rate: u32,
    pub channels: u16,
}

/// An AAC decoder fed raw access units, each wrapped in an ADTS header.
pub(crate) struct AacDecoder {
    track: u64,
    decoder: ff::decoder::Audio,
    frame: frame::Audio,
    /// The first two bytes' worth of ADTS fields that do not change: profile, rate index,
    /// channel configuration.
    profile: u8,
    rate_index: u8,
    channel_config: u8,
}

impl AacDecoder {
    pub(crate) fn new(track: &kvs_mkv::Track) -> Result<Self, Error> {
        init();
        let bad = |problem: AudioProblem| Error::AudioFormat { track: track.number, problem };
        let asc = track.codec_private.as_deref().filter(|asc| asc.len() >= 2);
        let asc = asc.ok_or(bad(AudioProblem::NoAudioSpecificConfig))?;
        let object_type = asc[0] >> 3;
        let rate_index = ((asc[0] & 0x07) << 1) | (asc[1] >> 7);
        let channel_config = (asc[1] >> 3) & 0x0F;
        if !(1..=4).contains(&object_type) || rate_index > 12 {
            return Err(bad(AudioProblem::NotAdts { object_type, rate_index }));
        }
        let codec = ff::decoder::find(Id::AAC).ok_or_else(|| Error::UnsupportedCodec {
            track: track.number,
            codec_id: track.codec_id.clone(),
        })?;
        let decoder = codec::Context::new_with_codec(codec).decoder().audio().map_err(ff_error)?;
        Ok(Self {
            track: track.number,
            decoder,
            frame: frame::Audio::empty(),
            profile: object_type - 1,
            rate_index,
            channel_config,
        })
    }

    pub(crate) fn decode(&mut self, raw: &[u8]) -> Result<Pcm, Error> {
        let len = raw.len() + 7;
        if len >= 1 << 13 {
            return Err(Error::AacFrameTooLong { bytes: raw.len() });
        }
        let mut adts = Vec::with_capacity(len);
        adts.extend_from_slice(&[
            0xFF,
            0xF1,
            (self.profile << 6) | (self.rate_index << 2) | (self.channel_config >> 2),
            ((self.channel_config & 3) << 6) | ((len >> 11) as u8 & 0x03),
            (len >> 3) as u8,
            (((len & 7) as u8) << 5) | 0x1F,
            0xFC,
        ]);
        adts.extend_from_slice(raw);
        self.decoder.send_packet(&ff::Packet::copy(&adts)).map_err(rejected)?;
        let mut pcm =
            Pcm { samples: Vec::new(), sample_rate: self.decoder.rate(), channels: self.decoder.channels() };
        loop {
            match self.decoder.receive_frame(&mut self.frame) {
                Ok(()) => append_i16(&self.frame, &mut pcm, self.track)?,
                Err(ff::Error::Eof) => break,
                Err(ff::Error::Other { errno }) if errno == ff::util::error::EAGAIN => break,
                Err(e) => return Err(rejected(e)),
            }
        }
        Ok(pcm)
    }
}

/// Appends a decoded frame as interleaved 16-bit samples.
fn append_i16(frame: &frame::Audio, pcm: &mut Pcm, track: u64) -> Result<(), Error> {
    use ff::format::Sample;
    use ff::format::sample::Type;
    let channels = usize::from(frame.channels());
    let n = frame.samples();
    pcm.sample_rate = frame.rate();
    pcm.channels = frame.channels();
    let to_i16 = |v: f32| (v.clamp(-1.0, 1.0) * 32767.0).round() as i16;
    match frame.format() {
        Sample::F32(Type::Planar) => {
            let planes: Vec<&[f32]> = (0..channels).map(|c| frame.plane::<f32>(c)).collect();
            for i in 0..n {
                pcm.samples.extend(planes.iter().map(|p| to_i16(p[i])));
            }
        }
        Sample::F32(Type::Packed) => {
            pcm.samples.extend(frame.plane::<f32>(0).iter().take(n * channels).map(|&v| to_i16(v)))
        }
        Sample::I16(Type::Planar) => {
            let planes: Vec<&[i16]> = (0..channels).map(|c| frame.plane::<i16>(c)).collect();
            for i in 0..n {
                pcm.samples.extend(planes.iter().map(|p| p[i]));
            }
        }
        Sample::I16(Type::Packed) => pcm.samples.extend(frame.plane::<i16>(0).iter().take(n * channels)),
        other => {
            let problem = AudioProblem::SampleFormat(format!("{other:?}"));
            return Err(Error::AudioFormat { track, problem });
        }
    }
    Ok(())
}
