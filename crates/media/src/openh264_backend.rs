//! The default H.264 backend: Cisco's openh264, compiled from source by the `openh264`
//! crate (no system packages). Owns only the decoder calls and what openh264 needs to see
//! differently from other decoders; which access units reach it, and what becomes of the
//! pictures, is decided in `video`.
//!
//! Every SPS given to openh264 (from CodecPrivate or in-band: both arrive here inside the
//! access units) is rewritten to allow gaps in `frame_num`. Some producers skip a
//! `frame_num` while their SPS forbids gaps: the AWS renderer example capture goes 0 (IDR),
//! 2, 3... in every GOP. openh264 treats such a gap as lost references and, with its error
//! concealment off (the `openh264` crate does not expose that option), refuses every
//! picture until the next IDR. With gaps allowed it skips that check. It does not infer the
//! "non-existing" frames of H.264 8.2.5.2 either, so the missing numbers simply are not in
//! its reference lists: a P-frame after the gap predicts from the last real reference
//! picture, the one FFmpeg's gap concealment copies, and the two give the same pixels on
//! that capture. A stream that skips numbers in the middle of a GOP and then refers to a
//! reference index past the gap may decode differently from FFmpeg, but it decodes instead
//! of failing. openh264 then reports no error, so nothing else is needed.

use std::borrow::Cow;

use openh264::OpenH264API;
use openh264::decoder::{Decoder, DecoderConfig, Flush};
use openh264::formats::YUVSource;

use crate::Error;
use crate::colour::YuvPlanes;
use crate::nal::{self, Codec};
use crate::video::{Backend, Output};

/// openh264 in no-flush mode: pictures come out in presentation order, the last ones at
/// [`Backend::flush`].
pub(crate) struct OpenH264 {
    decoder: Decoder,
}

impl OpenH264 {
    pub(crate) fn new() -> Result<Self, Error> {
        let config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
        let decoder = Decoder::with_api_config(OpenH264API::from_source(), config).map_err(decoder_error)?;
        Ok(Self { decoder })
    }
}

const BACKEND: &str = "openh264";

fn decoder_error(e: openh264::Error) -> Error {
    Error::Decoder { backend: BACKEND, source: Box::new(e) }
}

fn planes<'a>(yuv: &'a openh264::decoder::DecodedYUV<'a>) -> YuvPlanes<'a> {
    let (width, height) = yuv.dimensions();
    YuvPlanes { width, height, y: yuv.y(), u: yuv.u(), v: yuv.v(), strides: yuv.strides() }
}

impl Backend for OpenH264 {
    fn decode(
        &mut self,
        access_unit: &[u8],
        _tag: usize,
        out: &mut dyn FnMut(Output<'_>),
    ) -> Result<(), Error> {
        let access_unit = with_frame_num_gaps_allowed(access_unit);
        match self.decoder.decode(&access_unit) {
            Ok(Some(yuv)) => out(Output { planes: planes(&yuv), tag: None, signalling: None }),
            Ok(None) => {}
            Err(e) => return Err(Error::FrameRejected { backend: BACKEND, source: Box::new(e) }),
        }
        Ok(())
    }

    fn flush(&mut self, out: &mut dyn FnMut(Output<'_>)) -> Result<(), Error> {
        let pictures = self.decoder.flush_remaining().map_err(decoder_error)?;
        for yuv in &pictures {
            out(Output { planes: planes(yuv), tag: None, signalling: None });
        }
        drop(pictures);
        // openh264 is left in an end-of-stream state by a flush (later pictures fail with
        // "out of memory" or "no parameter sets" on real captures): start afresh. The next
        // fragment starts at an IDR, before which the parameter sets are always repeated.
        *self = Self::new()?;
        Ok(())
    }
}

/// The access unit with every SPS in it rewritten to allow gaps in `frame_num`
/// ([`nal::h264_allow_frame_num_gaps`]); borrowed when no SPS needed it, which is the case
/// of every access unit but those starting a coded video sequence.
fn with_frame_num_gaps_allowed(unit: &[u8]) -> Cow<'_, [u8]> {
    let nals = nal::split_annex_b(unit);
    let is_sps = |n: &[u8]| nal::nal_type(Codec::H264, n) == 7;
    if !nals.iter().any(|n| is_sps(n)) {
        return Cow::Borrowed(unit);
    }
    let rewritten: Vec<Cow<'_, [u8]>> = nals
        .iter()
        .map(|&n| if is_sps(n) { nal::h264_allow_frame_num_gaps(n) } else { Cow::Borrowed(n) })
        .collect();
    if rewritten.iter().all(|n| matches!(n, Cow::Borrowed(_))) {
        return Cow::Borrowed(unit);
    }
    let mut out = Vec::with_capacity(unit.len() + 8);
    let parts: Vec<&[u8]> = rewritten.iter().map(|n| n.as_ref()).collect();
    nal::append_annex_b(&mut out, &parts);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nal::CodecConfig;

    /// SPS (gaps not allowed), PPS and the start of an IDR slice of the renderer capture.
    const SPS: [u8; 14] =
        [0x27, 0x64, 0x00, 0x28, 0xAC, 0x2B, 0x40, 0x50, 0x1E, 0xD0, 0x0F, 0x12, 0x26, 0xA0];
    const PPS: [u8; 4] = [0x28, 0xEE, 0x1F, 0x2C];
    const IDR: [u8; 4] = [0x25, 0x88, 0x80, 0x40];

    fn annex_b(nals: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        nal::append_annex_b(&mut out, nals);
        out
    }

    #[test]
    fn only_the_sps_of_an_access_unit_is_rewritten() {
        let unit = annex_b(&[&SPS, &PPS, &IDR]);
        let mut sps = SPS;
        sps[6] = 0x50; // gaps_in_frame_num_value_allowed_flag, bit 43 of the RBSP
        assert_eq!(with_frame_num_gaps_allowed(&unit).as_ref(), annex_b(&[&sps, &PPS, &IDR]));
        let again = annex_b(&[&sps, &PPS, &IDR]);
        assert!(matches!(with_frame_num_gaps_allowed(&again), Cow::Borrowed(_)));
        let p_frame = annex_b(&[&[0x21, 0x9A, 0x02]]);
        assert!(matches!(with_frame_num_gaps_allowed(&p_frame), Cow::Borrowed(_)));
    }

    /// The first 59 access units of the renderer capture (clusters.mkv holds the same
    /// stream as one MKV), their parameter sets taken from CodecPrivate rather than
    /// in-band, as `video` does for an IDR frame that carries none.
    fn renderer_gop() -> Option<Vec<Vec<u8>>> {
        let dir = match std::env::var_os("KVS_SAMPLES") {
            Some(d) => std::path::PathBuf::from(d),
            None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/kvs-samples"),
        };
        let Ok(bytes) = std::fs::read(dir.join("clusters.mkv")) else {
            eprintln!("skipping: no kvs-samples at {}", dir.display());
            return None;
        };
        let fragment = kvs_mkv::Fragment::from_bytes(bytes.into()).unwrap();
        let track = fragment.tracks().unwrap().remove(0);
        let config = CodecConfig::from_avcc(track.codec_private.as_ref().unwrap()).unwrap();
        let frames = fragment.frames().unwrap();
        let units = frames[..59]
            .iter()
            .enumerate()
            .map(|(i, frame)| {
                let nals = nal::split_nals(&frame.payload, config.length_size).unwrap();
                let slices: Vec<&[u8]> = nals.into_iter().filter(|n| nal::is_vcl(Codec::H264, n)).collect();
                let mut unit = if i == 0 { config.annex_b() } else { Vec::new() };
                nal::append_annex_b(&mut unit, &slices);
                unit
            })
            .collect();
        Some(units)
    }

    #[test]
    fn openh264_refuses_the_renderer_p_frames_unless_gaps_are_allowed() {
        let Some(units) = renderer_gop() else { return };
        // As the producer sent it: the IDR decodes, every P-frame after the frame_num gap
        // (0, then 2) is refused with "reference lost".
        let config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
        let mut raw = Decoder::with_api_config(OpenH264API::from_source(), config).unwrap();
        let refused = units.iter().filter(|u| raw.decode(u).is_err()).count();
        assert_eq!(refused, 58);

        let mut backend = OpenH264::new().unwrap();
        let mut pictures = 0;
        for (i, unit) in units.iter().enumerate() {
            backend.decode(unit, i, &mut |_| pictures += 1).unwrap();
        }
        backend.flush(&mut |_| pictures += 1).unwrap();
        assert_eq!(pictures, 59);
    }
}
