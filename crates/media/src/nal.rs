//! The decoder's view of H.264/H.265 NAL units: the codec configuration from CodecPrivate
//! as one list of parameter sets, frame payloads split whatever their framing, which
//! NAL units make a picture, a random access point or a disposable one, and the SPS as
//! the decoder needs it (colour signalling, gaps in `frame_num` allowed). The bitstream
//! itself (framing, records, SPS syntax) is read by `kvs_h264`; nothing here decodes, and
//! nothing here knows which decoder gets the bytes.

use std::borrow::Cow;

use kvs_h264::h265::{self, HevcDecoderConfig};
use kvs_h264::{AvcDecoderConfig, LengthSize, NalType, Sps};

use crate::Error;

/// Which NAL header layout a stream uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    /// H.264: one header byte, type in the low 5 bits, nal_ref_idc in bits 5-6.
    H264,
    /// H.265: two header bytes, type in bits 1-6 of the first.
    H265,
}

/// A parsed decoder configuration record: NAL length size and parameter sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CodecConfig {
    /// Bytes of the length prefix of each NAL unit (1 to 4).
    pub length_size: usize,
    /// Parameter sets (VPS/SPS/PPS), each without start code.
    pub parameter_sets: Vec<Vec<u8>>,
}

/// The reason a configuration record is refused, for [`Error::BadCodecPrivate`].
fn bad_record(e: kvs_h264::Error) -> Error {
    Error::BadCodecPrivate(match e {
        kvs_h264::Error::RecordVersion(_) => "configuration record version is not 1",
        kvs_h264::Error::RecordTruncated { .. } => "configuration record cut short",
        _ => "malformed configuration record",
    })
}

impl CodecConfig {
    /// Parses an AVCDecoderConfigurationRecord (ISO 14496-15 5.3.3.1).
    pub fn from_avcc(record: &[u8]) -> Result<Self, Error> {
        let config = AvcDecoderConfig::parse(record).map_err(bad_record)?;
        let parameter_sets = config.sps.into_iter().chain(config.pps).collect();
        Ok(Self { length_size: config.length_size.bytes(), parameter_sets })
    }

    /// Parses an HEVCDecoderConfigurationRecord (ISO 14496-15 8.3.3.1).
    pub fn from_hvcc(record: &[u8]) -> Result<Self, Error> {
        let config = HevcDecoderConfig::parse(record).map_err(bad_record)?;
        let parameter_sets = config.arrays.into_iter().flat_map(|a| a.nal_units).collect();
        Ok(Self { length_size: config.length_size.bytes(), parameter_sets })
    }

    /// The parameter sets as one Annex B buffer.
    pub fn annex_b(&self) -> Vec<u8> {
        let mut out = Vec::new();
        kvs_h264::write_annex_b(&mut out, self.parameter_sets.iter().map(Vec::as_slice));
        out
    }
}

/// Splits a frame payload into NAL units: length-prefixed (AVCC) with `length_size`, or,
/// when that fails and the payload is Annex B (some producers send that), on its start
/// codes.
pub(crate) fn split_nals(payload: &[u8], length_size: usize) -> Result<Vec<&[u8]>, Error> {
    let size = LengthSize::new(length_size).map_err(|e| Error::CorruptFrame(e.to_string()))?;
    match kvs_h264::split_avcc(payload, size).collect() {
        Ok(nals) => Ok(nals),
        Err(_) if kvs_h264::is_annex_b(payload) => Ok(split_annex_b(payload)),
        Err(e) => Err(Error::CorruptFrame(format!("{}-byte frame: {e}", payload.len()))),
    }
}

/// Splits an Annex B buffer on its start codes; trailing zero bytes are dropped.
pub(crate) fn split_annex_b(payload: &[u8]) -> Vec<&[u8]> {
    kvs_h264::split_annex_b(payload).collect()
}

/// Appends NAL units to `out` in Annex B form.
pub(crate) fn append_annex_b(out: &mut Vec<u8>, nals: &[&[u8]]) {
    kvs_h264::write_annex_b(out, nals.iter().copied());
}

/// NAL unit type: H.264's 0 to 31, H.265's 0 to 63; 0xFF for an empty unit.
pub(crate) fn nal_type(codec: Codec, nal: &[u8]) -> u8 {
    match codec {
        Codec::H264 => kvs_h264::nal_type(nal).map_or(0xFF, u8::from),
        Codec::H265 => h265::nal_type(nal).map_or(0xFF, |t| t.0),
    }
}

/// True for a slice of a picture (VCL NAL unit).
pub(crate) fn is_vcl(codec: Codec, nal: &[u8]) -> bool {
    match codec {
        Codec::H264 => kvs_h264::nal_type(nal).is_some_and(NalType::is_vcl),
        Codec::H265 => h265::nal_type(nal).is_some_and(h265::NalType::is_vcl),
    }
}

/// True for a slice of a random access point: an H.264 IDR; an H.265 IRAP (IDR, CRA or BLA).
pub(crate) fn is_idr(codec: Codec, nal: &[u8]) -> bool {
    match codec {
        Codec::H264 => kvs_h264::nal_type(nal) == Some(NalType::Idr),
        Codec::H265 => h265::nal_type(nal).is_some_and(h265::NalType::is_irap),
    }
}

/// True when no other picture may refer to this one: every slice has nal_ref_idc 0
/// (H.264) or is a sub-layer non-reference picture (H.265). Such a picture can be left
/// undecoded without harming any other.
pub(crate) fn is_non_reference(codec: Codec, nals: &[&[u8]]) -> bool {
    let mut any_vcl = false;
    for nal in nals.iter().filter(|n| is_vcl(codec, n)) {
        any_vcl = true;
        let disposable = match codec {
            Codec::H264 => kvs_h264::NalHeader::of(nal).is_some_and(|h| h.nal_ref_idc == 0),
            Codec::H265 => h265::nal_type(nal).is_some_and(h265::NalType::is_sub_layer_non_reference),
        };
        if !disposable {
            return false;
        }
    }
    any_vcl
}

/// Colour signalling of an H.264 SPS (its VUI `video_signal_type`), where present.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Signalling {
    /// `matrix_coefficients` (1 = BT.709, 5/6 = BT.601, 9 = BT.2020...).
    pub matrix: Option<u8>,
    /// `video_full_range_flag`.
    pub full_range: Option<bool>,
}

/// Reads the colour signalling of an H.264 SPS NAL unit (header byte included). Returns
/// the default (nothing signalled) when the SPS has no VUI or cannot be read.
pub(crate) fn h264_sps_signalling(sps: &[u8]) -> Signalling {
    let signal = Sps::parse(sps).ok().and_then(|sps| sps.vui?.video_signal);
    Signalling {
        matrix: signal.and_then(|s| s.colour).map(|c| c.matrix),
        full_range: signal.map(|s| s.full_range),
    }
}

/// The H.264 SPS NAL unit `sps` with `gaps_in_frame_num_value_allowed_flag` set
/// ([`kvs_h264::allow_frame_num_gaps`] says why); borrowed when the flag is already set,
/// and also, with a warning, when the SPS cannot be read: it then goes to the decoder as
/// it came, which rejects it or not.
pub(crate) fn h264_allow_frame_num_gaps(sps: &[u8]) -> Cow<'_, [u8]> {
    match kvs_h264::allow_frame_num_gaps(sps) {
        Ok(Cow::Owned(rewritten)) => {
            tracing::debug!("H.264 SPS rewritten with gaps_in_frame_num_value_allowed_flag = 1");
            Cow::Owned(rewritten)
        }
        Ok(unchanged) => unchanged,
        Err(error) => {
            tracing::warn!(len = sps.len(), %error, "unreadable H.264 SPS passed to the decoder unchanged");
            Cow::Borrowed(sps)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avcc_record_gives_length_size_and_parameter_sets() {
        let record = [1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 3, 0x67, 1, 2, 1, 0, 2, 0x68, 9];
        let config = CodecConfig::from_avcc(&record).unwrap();
        assert_eq!(config.length_size, 4);
        assert_eq!(config.parameter_sets, vec![vec![0x67, 1, 2], vec![0x68, 9]]);
        assert_eq!(config.annex_b(), vec![0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 9]);
    }

    #[test]
    fn truncated_records_are_errors_not_panics() {
        let record = [1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 30, 0x67];
        for end in 0..=record.len() {
            let error = CodecConfig::from_avcc(&record[..end]).unwrap_err();
            assert!(matches!(error, Error::BadCodecPrivate("configuration record cut short")), "{end}");
        }
        assert!(matches!(CodecConfig::from_avcc(&[2]), Err(Error::BadCodecPrivate(_))));
        assert!(matches!(CodecConfig::from_hvcc(&[1; 22]), Err(Error::BadCodecPrivate(_))));
    }

    #[test]
    fn hvcc_record_gives_every_array_in_order() {
        let mut record = vec![1];
        record.extend_from_slice(&[0; 20]);
        record.extend_from_slice(&[0xFF, 2, 0xA0, 0, 1, 0, 2, 0x40, 1, 0xA1, 0, 1, 0, 2, 0x42, 1]);
        let config = CodecConfig::from_hvcc(&record).unwrap();
        assert_eq!((config.length_size, config.parameter_sets), (4, vec![vec![0x40, 1], vec![0x42, 1]]));
    }

    #[test]
    fn length_prefixed_and_annex_b_payloads_split_alike() {
        let avcc = [0, 0, 0, 2, 0x65, 0xAA, 0, 0, 0, 1, 0x41];
        assert_eq!(split_nals(&avcc, 4).unwrap(), vec![&[0x65, 0xAA][..], &[0x41][..]]);
        let annex_b = [0, 0, 0, 1, 0x65, 0xAA, 0, 0, 1, 0x41];
        assert_eq!(split_nals(&annex_b, 4).unwrap(), vec![&[0x65, 0xAA][..], &[0x41][..]]);
        let Err(Error::CorruptFrame(message)) = split_nals(&[0, 0, 0, 9, 0x65], 4) else {
            panic!("not corrupt")
        };
        assert_eq!(message, "5-byte frame: NAL unit at byte 0 says 9 bytes, 1 left in the buffer");
        assert!(matches!(split_nals(&[1, 0x65], 0), Err(Error::CorruptFrame(_))));
    }

    #[test]
    fn non_reference_needs_every_slice_with_ref_idc_zero() {
        assert!(is_non_reference(Codec::H264, &[&[0x01, 0], &[0x01, 0]]));
        assert!(!is_non_reference(Codec::H264, &[&[0x01, 0], &[0x21, 0]]));
        assert!(!is_non_reference(Codec::H264, &[&[0x06, 0]]), "SEI alone is no picture");
        assert!(is_non_reference(Codec::H265, &[&[0, 1], &[2 << 1, 1]]), "TRAIL_N, TSA_N");
        assert!(!is_non_reference(Codec::H265, &[&[1 << 1, 1]]), "TRAIL_R");
        assert!(is_idr(Codec::H264, &[0x65]));
        assert!(is_idr(Codec::H265, &[19 << 1, 1]));
        assert_eq!((nal_type(Codec::H264, &[0x67]), nal_type(Codec::H265, &[0x42, 1])), (7, 33));
        assert_eq!(nal_type(Codec::H264, &[]), 0xFF);
    }

    #[test]
    fn signalling_comes_from_the_vui_and_defaults_when_unreadable() {
        // The SPS of output_get_media.mkv: BT.709, limited range.
        let sps = [
            0x27, 0x4d, 0x40, 0x1e, 0xb9, 0x10, 0x14, 0x05, 0xff, 0x2e, 0x02, 0xd4, 0x04, 0x04, 0x07, 0xc0,
            0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x0f, 0x38, 0xa0, 0x00, 0x3d, 0x09, 0x00, 0x07, 0xa1,
            0x3b, 0xde, 0xe0, 0x3e, 0x11, 0x08, 0xd4,
        ];
        assert_eq!(h264_sps_signalling(&sps), Signalling { matrix: Some(1), full_range: Some(false) });
        assert_eq!(h264_sps_signalling(&sps[..10]), Signalling::default());
        // The gaps flag set, borrowed once set, and an unreadable SPS passed on as it came.
        let rewritten = h264_allow_frame_num_gaps(&sps);
        assert!(matches!(rewritten, Cow::Owned(_)));
        assert!(matches!(h264_allow_frame_num_gaps(&rewritten), Cow::Borrowed(_)));
        assert!(matches!(h264_allow_frame_num_gaps(&sps[..3]), Cow::Borrowed(b) if b == &sps[..3]));
    }
}
