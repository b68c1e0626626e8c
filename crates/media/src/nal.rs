//! H.264/H.265 bitstream plumbing: decoder configuration records (CodecPrivate), AVCC
//! length-prefixed NAL units to Annex B, NAL unit headers, and the colour signalling of an
//! H.264 SPS. No decoding happens here.

use crate::Error;

/// Annex B start code put in front of every NAL unit.
const START_CODE: [u8; 4] = [0, 0, 0, 1];

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
    /// Bytes of the length prefix of each NAL unit (1, 2 or 4).
    pub length_size: usize,
    /// Parameter sets (VPS/SPS/PPS), each without start code.
    pub parameter_sets: Vec<Vec<u8>>,
}

/// Reads big-endian fields out of a byte slice without ever indexing past its end.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }
}

impl CodecConfig {
    /// Parses an AVCDecoderConfigurationRecord (ISO 14496-15 5.3.3.1).
    pub fn from_avcc(record: &[u8]) -> Result<Self, Error> {
        let bad = Error::BadCodecPrivate;
        let mut r = Reader { data: record, pos: 0 };
        if r.u8() != Some(1) {
            return Err(bad("AVCDecoderConfigurationRecord version is not 1"));
        }
        r.bytes(3).ok_or(bad("AVC record cut short"))?;
        let length_size = usize::from(r.u8().ok_or(bad("AVC record cut short"))? & 0x03) + 1;
        let mut parameter_sets = Vec::new();
        let sps_count = r.u8().ok_or(bad("AVC record cut short"))? & 0x1F;
        for _ in 0..sps_count {
            let len = usize::from(r.u16().ok_or(bad("SPS length missing"))?);
            parameter_sets.push(r.bytes(len).ok_or(bad("SPS overruns the record"))?.to_vec());
        }
        let pps_count = r.u8().ok_or(bad("PPS count missing"))?;
        for _ in 0..pps_count {
            let len = usize::from(r.u16().ok_or(bad("PPS length missing"))?);
            parameter_sets.push(r.bytes(len).ok_or(bad("PPS overruns the record"))?.to_vec());
        }
        Ok(Self { length_size, parameter_sets })
    }

    /// Parses an HEVCDecoderConfigurationRecord (ISO 14496-15 8.3.3.1).
    pub fn from_hvcc(record: &[u8]) -> Result<Self, Error> {
        let bad = Error::BadCodecPrivate;
        let mut r = Reader { data: record, pos: 0 };
        if r.u8() != Some(1) {
            return Err(bad("HEVCDecoderConfigurationRecord version is not 1"));
        }
        r.bytes(20).ok_or(bad("HEVC record cut short"))?;
        let length_size = usize::from(r.u8().ok_or(bad("HEVC record cut short"))? & 0x03) + 1;
        let arrays = r.u8().ok_or(bad("HEVC record cut short"))?;
        let mut parameter_sets = Vec::new();
        for _ in 0..arrays {
            r.u8().ok_or(bad("HEVC array header missing"))?;
            let count = r.u16().ok_or(bad("HEVC array count missing"))?;
            for _ in 0..count {
                let len = usize::from(r.u16().ok_or(bad("HEVC NAL length missing"))?);
                parameter_sets.push(r.bytes(len).ok_or(bad("HEVC NAL overruns the record"))?.to_vec());
            }
        }
        Ok(Self { length_size, parameter_sets })
    }

    /// The parameter sets as one Annex B buffer.
    pub fn annex_b(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for ps in &self.parameter_sets {
            out.extend_from_slice(&START_CODE);
            out.extend_from_slice(ps);
        }
        out
    }
}

/// Splits a frame payload into NAL units: length-prefixed (AVCC) with `length_size`, or,
/// when the payload is already Annex B (some producers send that), on its start codes.
pub(crate) fn split_nals(payload: &[u8], length_size: usize) -> Result<Vec<&[u8]>, Error> {
    if let Some(nals) = split_length_prefixed(payload, length_size) {
        return Ok(nals);
    }
    if payload.starts_with(&[0, 0, 1]) || payload.starts_with(&[0, 0, 0, 1]) {
        return Ok(split_annex_b(payload));
    }
    Err(Error::CorruptFrame(format!(
        "NAL unit lengths ({length_size}-byte prefixes) overrun the {}-byte frame",
        payload.len()
    )))
}

fn split_length_prefixed(payload: &[u8], length_size: usize) -> Option<Vec<&[u8]>> {
    let mut nals = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        let prefix = rest.get(..length_size)?;
        let len = prefix.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let nal = rest.get(length_size..length_size.checked_add(len)?)?;
        if nal.is_empty() {
            return None;
        }
        nals.push(nal);
        rest = &rest[length_size + len..];
    }
    Some(nals)
}

fn split_annex_b(payload: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= payload.len() {
        if payload[i] == 0 && payload[i + 1] == 0 && payload[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut nals = Vec::with_capacity(starts.len());
    for (k, &start) in starts.iter().enumerate() {
        let mut end = starts.get(k + 1).map_or(payload.len(), |&next| next - 3);
        while end > start && payload[end - 1] == 0 {
            end -= 1;
        }
        if end > start {
            nals.push(&payload[start..end]);
        }
    }
    nals
}

/// Appends NAL units to `out` in Annex B form.
pub(crate) fn append_annex_b(out: &mut Vec<u8>, nals: &[&[u8]]) {
    for nal in nals {
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(nal);
    }
}

/// NAL unit type.
pub(crate) fn nal_type(codec: Codec, nal: &[u8]) -> u8 {
    match (codec, nal.first()) {
        (_, None) => 0xFF,
        (Codec::H264, Some(b)) => b & 0x1F,
        (Codec::H265, Some(b)) => (b >> 1) & 0x3F,
    }
}

/// True for a slice of a picture (VCL NAL unit).
pub(crate) fn is_vcl(codec: Codec, nal: &[u8]) -> bool {
    let t = nal_type(codec, nal);
    match codec {
        Codec::H264 => (1..=5).contains(&t),
        Codec::H265 => t < 32,
    }
}

/// True for a slice of an instantaneous decoder refresh picture (H.264 IDR; H.265 IDR,
/// CRA or BLA: the random access points).
pub(crate) fn is_idr(codec: Codec, nal: &[u8]) -> bool {
    let t = nal_type(codec, nal);
    match codec {
        Codec::H264 => t == 5,
        Codec::H265 => (16..=21).contains(&t),
    }
}

/// True when no other picture may refer to this one: every slice has nal_ref_idc 0
/// (H.264) or is a sub-layer non-reference picture (H.265 types 0, 2, ... 14). Such a
/// picture can be left undecoded without harming any other.
pub(crate) fn is_non_reference(codec: Codec, nals: &[&[u8]]) -> bool {
    let mut any_vcl = false;
    for nal in nals.iter().filter(|n| is_vcl(codec, n)) {
        any_vcl = true;
        let disposable = match codec {
            Codec::H264 => nal[0] & 0x60 == 0,
            Codec::H265 => {
                let t = nal_type(codec, nal);
                t <= 14 && t.is_multiple_of(2)
            }
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

/// Exp-Golomb bit reader over an RBSP (emulation prevention bytes removed).
struct Bits {
    data: Vec<u8>,
    pos: usize,
}

impl Bits {
    fn new(nal_payload: &[u8]) -> Self {
        let mut data = Vec::with_capacity(nal_payload.len());
        let mut zeros = 0;
        for &b in nal_payload {
            if zeros >= 2 && b == 3 {
                zeros = 0;
                continue;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            data.push(b);
        }
        Self { data, pos: 0 }
    }
    fn bit(&mut self) -> Option<u32> {
        let byte = *self.data.get(self.pos / 8)?;
        let bit = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(u32::from(bit))
    }
    fn bits(&mut self, n: u32) -> Option<u32> {
        (0..n).try_fold(0u32, |acc, _| Some((acc << 1) | self.bit()?))
    }
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some((1u32 << zeros) - 1 + self.bits(zeros)?)
    }
    fn se(&mut self) -> Option<i32> {
        let k = self.ue()?;
        let magnitude = k.div_ceil(2) as i32;
        Some(if k % 2 == 1 { magnitude } else { -magnitude })
    }
}

/// Reads the colour signalling of an H.264 SPS NAL unit (header byte included). Returns
/// the default (nothing signalled) when the SPS has no VUI or cannot be read.
pub(crate) fn h264_sps_signalling(sps: &[u8]) -> Signalling {
    sps.get(1..).and_then(|body| parse_sps(&mut Bits::new(body))).unwrap_or_default()
}

fn parse_sps(r: &mut Bits) -> Option<Signalling> {
    let profile = r.bits(8)?;
    r.bits(16)?; // constraint flags, level
    r.ue()?; // seq_parameter_set_id
    if matches!(profile, 100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135) {
        let chroma_format = r.ue()?;
        if chroma_format == 3 {
            r.bit()?;
        }
        r.ue()?;
        r.ue()?;
        r.bit()?;
        if r.bit()? == 1 {
            for i in 0..if chroma_format == 3 { 12 } else { 8 } {
                if r.bit()? == 1 {
                    skip_scaling_list(r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?;
        }
        1 => {
            r.bit()?;
            r.se()?;
            r.se()?;
            let n = r.ue()?;
            if n > 255 {
                return None;
            }
            for _ in 0..n {
                r.se()?;
            }
        }
        _ => {}
    }
    r.ue()?; // max_num_ref_frames
    r.bit()?;
    r.ue()?;
    r.ue()?;
    if r.bit()? == 0 {
        r.bit()?; // mb_adaptive_frame_field_flag
    }
    r.bit()?;
    if r.bit()? == 1 {
        for _ in 0..4 {
            r.ue()?;
        }
    }
    if r.bit()? == 0 {
        return Some(Signalling::default());
    }
    if r.bit()? == 1 && r.bits(8)? == 255 {
        r.bits(32)?;
    }
    if r.bit()? == 1 {
        r.bit()?;
    }
    let mut out = Signalling::default();
    if r.bit()? == 1 {
        r.bits(3)?;
        out.full_range = Some(r.bit()? == 1);
        if r.bit()? == 1 {
            r.bits(16)?;
            out.matrix = Some(r.bits(8)? as u8);
        }
    }
    Some(out)
}

fn skip_scaling_list(r: &mut Bits, size: usize) -> Option<()> {
    let mut last = 8i32;
    let mut next = 8i32;
    for _ in 0..size {
        if next != 0 {
            next = (last + r.se()? + 256) % 256;
        }
        last = if next == 0 { last } else { next };
    }
    Some(())
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
    fn truncated_avcc_record_is_an_error_not_a_panic() {
        let record = [1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 30, 0x67];
        for end in 0..record.len() {
            assert!(CodecConfig::from_avcc(&record[..end]).is_err(), "{end}");
        }
        assert!(matches!(CodecConfig::from_avcc(&record), Err(Error::BadCodecPrivate(_))));
    }

    #[test]
    fn length_prefixed_and_annex_b_payloads_split_alike() {
        let avcc = [0, 0, 0, 2, 0x65, 0xAA, 0, 0, 0, 1, 0x41];
        assert_eq!(split_nals(&avcc, 4).unwrap(), vec![&[0x65, 0xAA][..], &[0x41][..]]);
        let annex_b = [0, 0, 0, 1, 0x65, 0xAA, 0, 0, 1, 0x41];
        assert_eq!(split_nals(&annex_b, 4).unwrap(), vec![&[0x65, 0xAA][..], &[0x41][..]]);
        assert!(matches!(split_nals(&[0, 0, 0, 9, 0x65], 4), Err(Error::CorruptFrame(_))));
    }

    #[test]
    fn non_reference_needs_every_slice_with_ref_idc_zero() {
        assert!(is_non_reference(Codec::H264, &[&[0x01, 0], &[0x01, 0]]));
        assert!(!is_non_reference(Codec::H264, &[&[0x01, 0], &[0x21, 0]]));
        assert!(!is_non_reference(Codec::H264, &[&[0x06, 0]]), "SEI alone is no picture");
        assert!(is_idr(Codec::H264, &[0x65]));
        assert!(is_idr(Codec::H265, &[19 << 1, 1]));
    }
}
