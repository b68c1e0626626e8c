//! H.264/H.265 bitstream plumbing: decoder configuration records (CodecPrivate), AVCC
//! length-prefixed NAL units to Annex B, NAL unit headers, emulation prevention, and the
//! H.264 SPS: its colour signalling, and the rewrite that allows gaps in `frame_num`
//! ([`h264_allow_frame_num_gaps`]). No decoding happens here, and nothing here knows which
//! decoder gets the bytes.

use std::borrow::Cow;

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

/// Splits an Annex B buffer on its start codes; trailing zero bytes are dropped.
pub(crate) fn split_annex_b(payload: &[u8]) -> Vec<&[u8]> {
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

/// Removes the emulation prevention bytes of a NAL unit payload (the `0x03` of every
/// `00 00 03`), giving its RBSP (H.264 7.4.1).
fn unescape(nal_payload: &[u8]) -> Vec<u8> {
    let mut rbsp = Vec::with_capacity(nal_payload.len());
    let mut zeros = 0;
    for &b in nal_payload {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        rbsp.push(b);
    }
    rbsp
}

/// The inverse of [`unescape`] (`unescape(&escape(rbsp)) == rbsp` for any bytes): puts a
/// `0x03` after every two zero bytes followed by a byte of 3 or less, and after two
/// trailing zeros. For a conforming NAL unit payload, `escape(&unescape(nal)) == nal`.
fn escape(rbsp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rbsp.len() + rbsp.len() / 64 + 1);
    let mut zeros = 0;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    if zeros >= 2 {
        out.push(3);
    }
    out
}

/// Exp-Golomb bit reader over an RBSP (emulation prevention bytes removed).
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bits<'a> {
    fn new(rbsp: &'a [u8]) -> Self {
        Self { data: rbsp, pos: 0 }
    }
    fn bit(&mut self) -> Option<u32> {
        let byte = *self.data.get(self.pos / 8)?;
        let bit = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(u32::from(bit))
    }
    fn flag(&mut self) -> Option<bool> {
        Some(self.bit()? == 1)
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

/// The fields of an H.264 `seq_parameter_set_data` (7.3.2.1.1) up to and including
/// `gaps_in_frame_num_value_allowed_flag`, and where that flag sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpsHead {
    /// `profile_idc`.
    pub profile_idc: u8,
    /// `constraint_set0_flag` to `constraint_set5_flag` and the two reserved bits.
    pub constraint_flags: u8,
    /// `level_idc`.
    pub level_idc: u8,
    /// `seq_parameter_set_id`.
    pub id: u32,
    /// `chroma_format_idc` (1 when the profile does not code it).
    pub chroma_format_idc: u32,
    /// `separate_colour_plane_flag`.
    pub separate_colour_plane: bool,
    /// `bit_depth_luma_minus8`.
    pub bit_depth_luma_minus8: u32,
    /// `bit_depth_chroma_minus8`.
    pub bit_depth_chroma_minus8: u32,
    /// `qpprime_y_zero_transform_bypass_flag`.
    pub qpprime_y_zero_transform_bypass: bool,
    /// `seq_scaling_matrix_present_flag` set: each list's `delta_scale` values, `None`
    /// for a list not present.
    pub scaling_lists: Option<Vec<Option<Vec<i32>>>>,
    /// `log2_max_frame_num_minus4`.
    pub log2_max_frame_num_minus4: u32,
    /// `pic_order_cnt_type`.
    pub pic_order_cnt_type: u32,
    /// `log2_max_pic_order_cnt_lsb_minus4` (type 0).
    pub log2_max_pic_order_cnt_lsb_minus4: u32,
    /// `delta_pic_order_always_zero_flag` (type 1).
    pub delta_pic_order_always_zero: bool,
    /// `offset_for_non_ref_pic` (type 1).
    pub offset_for_non_ref_pic: i32,
    /// `offset_for_top_to_bottom_field` (type 1).
    pub offset_for_top_to_bottom_field: i32,
    /// `offset_for_ref_frame[]` (type 1).
    pub offset_for_ref_frame: Vec<i32>,
    /// `max_num_ref_frames`.
    pub max_num_ref_frames: u32,
    /// `gaps_in_frame_num_value_allowed_flag`.
    pub gaps_in_frame_num_allowed: bool,
    /// Position of that flag in the RBSP after the NAL header byte, in bits from its start.
    pub gaps_flag_bit: usize,
}

/// `profile_idc` values whose SPS codes chroma format, bit depths and scaling lists.
fn is_high_profile(profile_idc: u8) -> bool {
    matches!(profile_idc, 100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135)
}

/// Reads an SPS RBSP (after the NAL header byte) up to the gaps flag; `None` when it is
/// cut short or holds a value out of its range.
fn parse_sps_head(r: &mut Bits) -> Option<SpsHead> {
    let profile_idc = r.bits(8)? as u8;
    let constraint_flags = r.bits(8)? as u8;
    let level_idc = r.bits(8)? as u8;
    let id = r.ue()?;
    if id > 31 {
        return None;
    }
    let mut head = SpsHead {
        profile_idc,
        constraint_flags,
        level_idc,
        id,
        chroma_format_idc: 1,
        separate_colour_plane: false,
        bit_depth_luma_minus8: 0,
        bit_depth_chroma_minus8: 0,
        qpprime_y_zero_transform_bypass: false,
        scaling_lists: None,
        log2_max_frame_num_minus4: 0,
        pic_order_cnt_type: 0,
        log2_max_pic_order_cnt_lsb_minus4: 0,
        delta_pic_order_always_zero: false,
        offset_for_non_ref_pic: 0,
        offset_for_top_to_bottom_field: 0,
        offset_for_ref_frame: Vec::new(),
        max_num_ref_frames: 0,
        gaps_in_frame_num_allowed: false,
        gaps_flag_bit: 0,
    };
    if is_high_profile(profile_idc) {
        head.chroma_format_idc = r.ue()?;
        if head.chroma_format_idc > 3 {
            return None;
        }
        if head.chroma_format_idc == 3 {
            head.separate_colour_plane = r.flag()?;
        }
        head.bit_depth_luma_minus8 = r.ue()?;
        head.bit_depth_chroma_minus8 = r.ue()?;
        head.qpprime_y_zero_transform_bypass = r.flag()?;
        if r.flag()? {
            let count = if head.chroma_format_idc == 3 { 12 } else { 8 };
            let mut lists = Vec::with_capacity(count);
            for i in 0..count {
                lists.push(if r.flag()? {
                    Some(read_scaling_list(r, if i < 6 { 16 } else { 64 })?)
                } else {
                    None
                });
            }
            head.scaling_lists = Some(lists);
        }
    }
    head.log2_max_frame_num_minus4 = r.ue()?;
    if head.log2_max_frame_num_minus4 > 12 {
        return None;
    }
    head.pic_order_cnt_type = r.ue()?;
    match head.pic_order_cnt_type {
        0 => {
            head.log2_max_pic_order_cnt_lsb_minus4 = r.ue()?;
            if head.log2_max_pic_order_cnt_lsb_minus4 > 12 {
                return None;
            }
        }
        1 => {
            head.delta_pic_order_always_zero = r.flag()?;
            head.offset_for_non_ref_pic = r.se()?;
            head.offset_for_top_to_bottom_field = r.se()?;
            let n = r.ue()?;
            if n > 255 {
                return None;
            }
            for _ in 0..n {
                head.offset_for_ref_frame.push(r.se()?);
            }
        }
        2 => {}
        _ => return None,
    }
    head.max_num_ref_frames = r.ue()?;
    head.gaps_flag_bit = r.pos;
    head.gaps_in_frame_num_allowed = r.flag()?;
    Some(head)
}

/// Reads one `scaling_list()`: its `delta_scale` values, each in -128..=127.
fn read_scaling_list(r: &mut Bits, size: usize) -> Option<Vec<i32>> {
    let mut deltas = Vec::new();
    let mut last = 8i32;
    let mut next = 8i32;
    for _ in 0..size {
        if next != 0 {
            let delta = r.se()?;
            if !(-128..=127).contains(&delta) {
                return None;
            }
            deltas.push(delta);
            next = (last + delta + 256) % 256;
        }
        last = if next == 0 { last } else { next };
    }
    Some(deltas)
}

/// Reads the colour signalling of an H.264 SPS NAL unit (header byte included). Returns
/// the default (nothing signalled) when the SPS has no VUI or cannot be read.
pub(crate) fn h264_sps_signalling(sps: &[u8]) -> Signalling {
    sps.get(1..).and_then(|body| parse_sps(&mut Bits::new(&unescape(body)))).unwrap_or_default()
}

fn parse_sps(r: &mut Bits) -> Option<Signalling> {
    parse_sps_head(r)?;
    r.ue()?; // pic_width_in_mbs_minus1
    r.ue()?; // pic_height_in_map_units_minus1
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

/// Parses the start of an H.264 SPS NAL unit (header byte included), up to its
/// `gaps_in_frame_num_value_allowed_flag`.
#[cfg(test)]
fn h264_sps_head(sps: &[u8]) -> Option<SpsHead> {
    let (&header, body) = sps.split_first()?;
    if header & 0x1F != 7 {
        return None;
    }
    parse_sps_head(&mut Bits::new(&unescape(body)))
}

/// Returns the H.264 SPS NAL unit `sps` (header byte included) with
/// `gaps_in_frame_num_value_allowed_flag` set to 1.
///
/// Everything else stays as it was: the flag is flipped in the RBSP, and emulation
/// prevention is put back. The SPS is returned unchanged (borrowed) when the flag is
/// already 1, and also, with a warning, when it cannot be read: it then goes to the
/// decoder as it came, which rejects it or not.
///
/// Why: some producers (the KVS renderer example capture among them) skip a `frame_num`
/// after each IDR while their SPS forbids gaps. A decoder that allows the gap infers
/// "non-existing" frames for the missing numbers (8.2.5.2) and decodes the pictures that
/// follow; openh264 without error concealment refuses them until the next IDR instead.
pub(crate) fn h264_allow_frame_num_gaps(sps: &[u8]) -> Cow<'_, [u8]> {
    let Some((&header, body)) = sps.split_first() else {
        return Cow::Borrowed(sps);
    };
    let mut rbsp = unescape(body);
    let Some(head) = parse_sps_head(&mut Bits::new(&rbsp)) else {
        tracing::warn!(len = sps.len(), "unreadable H.264 SPS passed to the decoder unchanged");
        return Cow::Borrowed(sps);
    };
    if head.gaps_in_frame_num_allowed {
        return Cow::Borrowed(sps);
    }
    // parse_sps_head has read the flag, so its byte exists.
    let Some(byte) = rbsp.get_mut(head.gaps_flag_bit / 8) else { return Cow::Borrowed(sps) };
    *byte |= 0x80 >> (head.gaps_flag_bit % 8);
    let mut out = Vec::with_capacity(sps.len() + 2);
    out.push(header);
    out.extend_from_slice(&escape(&rbsp));
    tracing::debug!(id = head.id, "H.264 SPS rewritten with gaps_in_frame_num_value_allowed_flag = 1");
    Cow::Owned(out)
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

    /// The SPS in the CodecPrivate of kinesis_video_renderer_example_output.mkv (and
    /// clusters.mkv): High profile, level 4.0, frame_num 8 bits, POC type 2, one reference
    /// frame, gaps not allowed. Its slices nonetheless go frame_num 0 (IDR), 2, 3...
    const RENDERER_SPS: [u8; 14] = hex("27640028ac2b40501ed00f1226a0");
    /// The SPS of output_get_media.mkv: Main profile, emulation prevention in its VUI.
    const OUTPUT_GET_MEDIA_SPS: [u8; 39] =
        hex("274d401eb9101405ff2e02d4040407c0000003004000000f38a0003d090007a13bdee03e1108d4");
    /// A synthetic Baseline SPS made so that emulation prevention matters on both sides of
    /// the flag: POC type 1 with offset_for_non_ref_pic = -2^24 (two `00 00 03` before
    /// the flag), max_num_ref_frames 15, then the flag in a zero byte followed by
    /// `00 03 01`: setting it makes that `03` unnecessary.
    const SYNTHETIC_SPS: [u8; 25] = hex("6742c01ed00000030100000300d8a38400000301000011f480");

    const fn hex<const N: usize>(s: &str) -> [u8; N] {
        const fn nibble(c: u8) -> u8 {
            match c {
                b'0'..=b'9' => c - b'0',
                _ => c - b'a' + 10,
            }
        }
        let s = s.as_bytes();
        assert!(s.len() == 2 * N);
        let mut out = [0; N];
        let mut i = 0;
        while i < N {
            out[i] = nibble(s[2 * i]) << 4 | nibble(s[2 * i + 1]);
            i += 1;
        }
        out
    }

    /// Asserts that `rewritten` is `original` with the gaps flag set and nothing else
    /// changed: same fields before it, same RBSP bit for bit after it.
    fn assert_only_gaps_flag_set(original: &[u8], rewritten: &[u8]) {
        let before = h264_sps_head(original).unwrap();
        let after = h264_sps_head(rewritten).unwrap();
        assert!(!before.gaps_in_frame_num_allowed);
        assert_eq!(after, SpsHead { gaps_in_frame_num_allowed: true, ..before.clone() });
        assert_eq!(original[0], rewritten[0], "NAL header");
        let (a, b) = (unescape(&original[1..]), unescape(&rewritten[1..]));
        assert_eq!(a.len(), b.len());
        let changed: Vec<usize> =
            (0..a.len() * 8).filter(|&i| (a[i / 8] ^ b[i / 8]) & (0x80 >> (i % 8)) != 0).collect();
        assert_eq!(changed, vec![before.gaps_flag_bit]);
        assert_eq!(h264_sps_signalling(original), h264_sps_signalling(rewritten));
        assert_eq!(h264_allow_frame_num_gaps(rewritten), Cow::Borrowed(rewritten), "idempotent");
    }

    #[test]
    fn renderer_sps_is_read_field_by_field() {
        let head = h264_sps_head(&RENDERER_SPS).unwrap();
        let expected = SpsHead {
            profile_idc: 100,
            constraint_flags: 0,
            level_idc: 40,
            id: 0,
            chroma_format_idc: 1,
            separate_colour_plane: false,
            bit_depth_luma_minus8: 0,
            bit_depth_chroma_minus8: 0,
            qpprime_y_zero_transform_bypass: false,
            scaling_lists: None,
            log2_max_frame_num_minus4: 4,
            pic_order_cnt_type: 2,
            log2_max_pic_order_cnt_lsb_minus4: 0,
            delta_pic_order_always_zero: false,
            offset_for_non_ref_pic: 0,
            offset_for_top_to_bottom_field: 0,
            offset_for_ref_frame: Vec::new(),
            max_num_ref_frames: 1,
            gaps_in_frame_num_allowed: false,
            gaps_flag_bit: 43,
        };
        assert_eq!(head, expected);
    }

    #[test]
    fn renderer_sps_gets_gaps_allowed_and_nothing_else_changes() {
        let rewritten = h264_allow_frame_num_gaps(&RENDERER_SPS);
        // Bit 43 of the RBSP is bit 3 of its sixth byte: 0x40 becomes 0x50.
        assert_eq!(rewritten.as_ref(), hex::<14>("27640028ac2b50501ed00f1226a0"));
        assert_only_gaps_flag_set(&RENDERER_SPS, &rewritten);
    }

    #[test]
    fn emulation_prevention_after_the_flag_is_kept() {
        let rewritten = h264_allow_frame_num_gaps(&OUTPUT_GET_MEDIA_SPS);
        assert_eq!(
            rewritten.as_ref(),
            hex::<39>("274d401eb9141405ff2e02d4040407c0000003004000000f38a0003d090007a13bdee03e1108d4")
        );
        assert_only_gaps_flag_set(&OUTPUT_GET_MEDIA_SPS, &rewritten);
    }

    #[test]
    fn emulation_prevention_is_redone_around_the_flag() {
        let head = h264_sps_head(&SYNTHETIC_SPS).unwrap();
        assert_eq!((head.pic_order_cnt_type, head.offset_for_non_ref_pic), (1, -(1 << 24)));
        assert_eq!((head.offset_for_ref_frame.as_slice(), head.max_num_ref_frames), (&[5, -3][..], 15));
        let rewritten = h264_allow_frame_num_gaps(&SYNTHETIC_SPS);
        // The two 00 00 03 before the flag stay; the one right after it goes.
        assert_eq!(rewritten.as_ref(), hex::<24>("6742c01ed00000030100000300d8a384200001000011f480"));
        assert_only_gaps_flag_set(&SYNTHETIC_SPS, &rewritten);
    }

    #[test]
    fn sps_with_gaps_already_allowed_is_returned_unchanged() {
        let allowed = hex::<14>("27640028ac2b50501ed00f1226a0");
        assert!(h264_sps_head(&allowed).unwrap().gaps_in_frame_num_allowed);
        assert!(matches!(h264_allow_frame_num_gaps(&allowed), Cow::Borrowed(b) if b == allowed));
    }

    #[test]
    fn malformed_sps_is_left_untouched() {
        // Cut anywhere before the flag's byte: unreadable, returned as it came.
        for end in 0..=43 / 8 + 1 {
            let cut = &RENDERER_SPS[..end];
            assert!(matches!(h264_allow_frame_num_gaps(cut), Cow::Borrowed(b) if b == cut), "{end}");
        }
        // An Exp-Golomb code longer than 32 bits, seq_parameter_set_id 32, POC type 3.
        let bad: [&[u8]; 3] =
            [&hex::<9>("276400280000000080"), &hex::<6>("2742c01e043f"), &hex::<6>("2742c01ec980")];
        for bad in bad {
            assert!(h264_sps_head(bad).is_none(), "{bad:02x?}");
            assert!(matches!(h264_allow_frame_num_gaps(bad), Cow::Borrowed(b) if b == bad));
        }
    }

    #[test]
    fn escape_inverts_unescape() {
        for sps in [&RENDERER_SPS[..], &OUTPUT_GET_MEDIA_SPS, &SYNTHETIC_SPS] {
            assert_eq!(escape(&unescape(&sps[1..])), &sps[1..]);
        }
        // Every sequence of up to 6 bytes drawn from 0, 1, 3 and 4.
        for len in 0..=6u32 {
            for n in 0..4usize.pow(len) {
                let rbsp: Vec<u8> = (0..len).map(|i| [0, 1, 3, 4][n / 4usize.pow(i) % 4]).collect();
                let escaped = escape(&rbsp);
                assert_eq!(unescape(&escaped), rbsp);
                assert!(!escaped.windows(3).any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 2), "{escaped:?}");
            }
        }
    }
}
