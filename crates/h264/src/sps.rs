//! The H.264 sequence parameter set (7.3.2.1.1): read field by field up to the colour
//! signalling of its VUI, picture size derived, and the one rewrite a decoder front end
//! needs ([`allow_frame_num_gaps`]). What follows the VUI's colour description (timing,
//! HRD, bitstream restriction) is not read; nor are PPS or slice headers.

use std::borrow::Cow;
use std::fmt;

use crate::Error;
use crate::nal::{NalHeader, NalType};
use crate::rbsp::{BitReader, escape, unescape};

/// `profile_idc`, named for the profiles decoders tell apart.
///
/// ```
/// use kvs_h264::Profile;
/// assert_eq!(Profile::from(244), Profile::High444Predictive);
/// assert_eq!(Profile::High444Predictive.to_string(), "High 4:4:4 Predictive");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// 66 (Constrained Baseline is Baseline with `constraint_set1_flag`).
    Baseline,
    /// 77.
    Main,
    /// 88.
    Extended,
    /// 100.
    High,
    /// 110.
    High10,
    /// 122.
    High422,
    /// 244.
    High444Predictive,
    /// 44.
    Cavlc444Intra,
    /// Any other `profile_idc` (the SVC, MVC and 3D profiles among them).
    Other(u8),
}

impl From<u8> for Profile {
    fn from(profile_idc: u8) -> Self {
        match profile_idc {
            66 => Self::Baseline,
            77 => Self::Main,
            88 => Self::Extended,
            100 => Self::High,
            110 => Self::High10,
            122 => Self::High422,
            244 => Self::High444Predictive,
            44 => Self::Cavlc444Intra,
            other => Self::Other(other),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Baseline => f.write_str("Baseline"),
            Self::Main => f.write_str("Main"),
            Self::Extended => f.write_str("Extended"),
            Self::High => f.write_str("High"),
            Self::High10 => f.write_str("High 10"),
            Self::High422 => f.write_str("High 4:2:2"),
            Self::High444Predictive => f.write_str("High 4:4:4 Predictive"),
            Self::Cavlc444Intra => f.write_str("CAVLC 4:4:4 Intra"),
            Self::Other(idc) => write!(f, "profile_idc {idc}"),
        }
    }
}

/// `profile_idc` values whose SPS codes chroma format, bit depths and scaling lists.
pub(crate) fn is_high_profile(profile_idc: u8) -> bool {
    matches!(profile_idc, 100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135)
}

/// `frame_crop_*_offset`, in crop units (2 luma samples for 4:2:0 frames).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cropping {
    /// `frame_crop_left_offset`.
    pub left: u32,
    /// `frame_crop_right_offset`.
    pub right: u32,
    /// `frame_crop_top_offset`.
    pub top: u32,
    /// `frame_crop_bottom_offset`.
    pub bottom: u32,
}

/// The VUI (E.1.1) up to its colour description.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Vui {
    /// `aspect_ratio_idc`, where present (255 = `Extended_SAR`).
    pub aspect_ratio_idc: Option<u8>,
    /// `sar_width`, `sar_height`, with `Extended_SAR`.
    pub sar: Option<(u16, u16)>,
    /// `overscan_appropriate_flag`, where present.
    pub overscan_appropriate: Option<bool>,
    /// `video_signal_type`, where present.
    pub video_signal: Option<VideoSignal>,
}

/// `video_signal_type` of the VUI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoSignal {
    /// `video_format` (5 = unspecified).
    pub video_format: u8,
    /// `video_full_range_flag`: 0-255 rather than 16-235.
    pub full_range: bool,
    /// `colour_description`, where present.
    pub colour: Option<ColourDescription>,
}

/// `colour_description` of the VUI (values of ITU-T H.273).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColourDescription {
    /// `colour_primaries` (1 = BT.709, 6 = SMPTE 170M, 9 = BT.2020).
    pub primaries: u8,
    /// `transfer_characteristics`.
    pub transfer: u8,
    /// `matrix_coefficients` (1 = BT.709, 5/6 = BT.601, 9 = BT.2020...).
    pub matrix: u8,
}

/// A parsed H.264 sequence parameter set.
///
/// ```
/// use kvs_h264::{Profile, Sps};
/// // The SPS of a 640x360 Main profile stream, 368 lines coded and 8 cropped.
/// let nal = [
///     0x27, 0x4d, 0x40, 0x1e, 0xb9, 0x10, 0x14, 0x05, 0xff, 0x2e, 0x02, 0xd4, 0x04, 0x04,
///     0x07, 0xc0, 0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x0f, 0x38, 0xa0, 0x00, 0x3d,
///     0x09, 0x00, 0x07, 0xa1, 0x3b, 0xde, 0xe0, 0x3e, 0x11, 0x08, 0xd4,
/// ];
/// let sps = Sps::parse(&nal)?;
/// assert_eq!((sps.profile(), sps.level_idc, sps.width(), sps.height()), (Profile::Main, 30, 640, 360));
/// let signal = sps.vui.unwrap().video_signal.unwrap();
/// assert_eq!((signal.full_range, signal.colour.unwrap().matrix), (false, 1));
/// # Ok::<(), kvs_h264::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sps {
    /// `profile_idc`.
    pub profile_idc: u8,
    /// `constraint_set0_flag` to `constraint_set5_flag` and the two reserved bits.
    pub constraint_flags: u8,
    /// `level_idc`.
    pub level_idc: u8,
    /// `seq_parameter_set_id` (0 to 31).
    pub id: u32,
    /// `chroma_format_idc` (1, 4:2:0, when the profile does not code it).
    pub chroma_format_idc: u32,
    /// `separate_colour_plane_flag`.
    pub separate_colour_plane: bool,
    /// `bit_depth_luma_minus8`.
    pub bit_depth_luma_minus8: u32,
    /// `bit_depth_chroma_minus8`.
    pub bit_depth_chroma_minus8: u32,
    /// `qpprime_y_zero_transform_bypass_flag`.
    pub qpprime_y_zero_transform_bypass: bool,
    /// With `seq_scaling_matrix_present_flag`: each list's `delta_scale` values, `None`
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
    /// `pic_width_in_mbs_minus1`.
    pub pic_width_in_mbs_minus1: u32,
    /// `pic_height_in_map_units_minus1`.
    pub pic_height_in_map_units_minus1: u32,
    /// `frame_mbs_only_flag`.
    pub frame_mbs_only: bool,
    /// `mb_adaptive_frame_field_flag`.
    pub mb_adaptive_frame_field: bool,
    /// `direct_8x8_inference_flag`.
    pub direct_8x8_inference: bool,
    /// The frame cropping offsets, where `frame_cropping_flag` is set.
    pub cropping: Option<Cropping>,
    /// The VUI, where `vui_parameters_present_flag` is set.
    pub vui: Option<Vui>,
    /// Where `gaps_in_frame_num_value_allowed_flag` sits: bits from the start of the
    /// RBSP after the header byte.
    gaps_flag_bit: usize,
    width: u32,
    height: u32,
}

impl Sps {
    /// Parses an SPS NAL unit (header byte included).
    pub fn parse(nal: &[u8]) -> Result<Self, Error> {
        Self::read(nal, Part::Whole)
    }

    /// The profile.
    pub fn profile(&self) -> Profile {
        Profile::from(self.profile_idc)
    }

    /// Width of the decoded pictures in luma samples, cropping applied.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height of the decoded frames in luma samples, cropping applied.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The position of `gaps_in_frame_num_value_allowed_flag`: bits from the start of the
    /// RBSP after the header byte.
    pub fn gaps_flag_bit(&self) -> usize {
        self.gaps_flag_bit
    }

    fn read(nal: &[u8], part: Part) -> Result<Self, Error> {
        let header = NalHeader::of(nal);
        if header.map(|h| h.nal_type) != Some(NalType::Sps) {
            return Err(Error::UnexpectedNalType {
                expected: NalType::Sps,
                found: header.map(|h| h.nal_type),
            });
        }
        let rbsp = unescape(&nal[1..]);
        let mut r = BitReader::new(&rbsp);
        let mut sps = read_head(&mut r)?;
        if part == Part::Whole {
            read_tail(&mut r, &mut sps)?;
        }
        Ok(sps)
    }
}

/// How much of an SPS to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Up to and including the gaps flag.
    Head,
    /// Up to the VUI's colour description.
    Whole,
}

fn out_of_range(field: &'static str, value: impl Into<i64>) -> Error {
    Error::OutOfRange { field, value: value.into() }
}

/// Reads an SPS RBSP (after the header byte) up to and including the gaps flag.
fn read_head(r: &mut BitReader) -> Result<Sps, Error> {
    let profile_idc = r.bits(8)? as u8;
    let constraint_flags = r.bits(8)? as u8;
    let level_idc = r.bits(8)? as u8;
    let id = r.ue()?;
    if id > 31 {
        return Err(out_of_range("seq_parameter_set_id", id));
    }
    let mut sps = Sps {
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
        pic_width_in_mbs_minus1: 0,
        pic_height_in_map_units_minus1: 0,
        frame_mbs_only: true,
        mb_adaptive_frame_field: false,
        direct_8x8_inference: false,
        cropping: None,
        vui: None,
        gaps_flag_bit: 0,
        width: 0,
        height: 0,
    };
    if is_high_profile(profile_idc) {
        sps.chroma_format_idc = r.ue()?;
        if sps.chroma_format_idc > 3 {
            return Err(out_of_range("chroma_format_idc", sps.chroma_format_idc));
        }
        if sps.chroma_format_idc == 3 {
            sps.separate_colour_plane = r.flag()?;
        }
        sps.bit_depth_luma_minus8 = r.ue()?;
        sps.bit_depth_chroma_minus8 = r.ue()?;
        sps.qpprime_y_zero_transform_bypass = r.flag()?;
        if r.flag()? {
            let count = if sps.chroma_format_idc == 3 { 12 } else { 8 };
            let mut lists = Vec::with_capacity(count);
            for i in 0..count {
                lists.push(if r.flag()? {
                    Some(read_scaling_list(r, if i < 6 { 16 } else { 64 })?)
                } else {
                    None
                });
            }
            sps.scaling_lists = Some(lists);
        }
    }
    sps.log2_max_frame_num_minus4 = r.ue()?;
    if sps.log2_max_frame_num_minus4 > 12 {
        return Err(out_of_range("log2_max_frame_num_minus4", sps.log2_max_frame_num_minus4));
    }
    sps.pic_order_cnt_type = r.ue()?;
    match sps.pic_order_cnt_type {
        0 => {
            sps.log2_max_pic_order_cnt_lsb_minus4 = r.ue()?;
            if sps.log2_max_pic_order_cnt_lsb_minus4 > 12 {
                return Err(out_of_range(
                    "log2_max_pic_order_cnt_lsb_minus4",
                    sps.log2_max_pic_order_cnt_lsb_minus4,
                ));
            }
        }
        1 => {
            sps.delta_pic_order_always_zero = r.flag()?;
            sps.offset_for_non_ref_pic = r.se()?;
            sps.offset_for_top_to_bottom_field = r.se()?;
            let n = r.ue()?;
            if n > 255 {
                return Err(out_of_range("num_ref_frames_in_pic_order_cnt_cycle", n));
            }
            for _ in 0..n {
                sps.offset_for_ref_frame.push(r.se()?);
            }
        }
        2 => {}
        other => return Err(out_of_range("pic_order_cnt_type", other)),
    }
    sps.max_num_ref_frames = r.ue()?;
    sps.gaps_flag_bit = r.position();
    sps.gaps_in_frame_num_allowed = r.flag()?;
    Ok(sps)
}

/// Reads one `scaling_list()`: its `delta_scale` values, each in -128..=127.
fn read_scaling_list(r: &mut BitReader, size: usize) -> Result<Vec<i32>, Error> {
    let mut deltas = Vec::new();
    let mut last = 8i32;
    let mut next = 8i32;
    for _ in 0..size {
        if next != 0 {
            let delta = r.se()?;
            if !(-128..=127).contains(&delta) {
                return Err(out_of_range("delta_scale", delta));
            }
            deltas.push(delta);
            next = (last + delta + 256) % 256;
        }
        last = if next == 0 { last } else { next };
    }
    Ok(deltas)
}

/// Reads what follows the gaps flag: picture size, cropping, the VUI up to its colour
/// description; derives the size of the decoded frames.
fn read_tail(r: &mut BitReader, sps: &mut Sps) -> Result<(), Error> {
    sps.pic_width_in_mbs_minus1 = r.ue()?;
    sps.pic_height_in_map_units_minus1 = r.ue()?;
    sps.frame_mbs_only = r.flag()?;
    if !sps.frame_mbs_only {
        sps.mb_adaptive_frame_field = r.flag()?;
    }
    sps.direct_8x8_inference = r.flag()?;
    if r.flag()? {
        sps.cropping = Some(Cropping { left: r.ue()?, right: r.ue()?, top: r.ue()?, bottom: r.ue()? });
    }
    (sps.width, sps.height) = frame_size(sps)?;
    if r.flag()? {
        sps.vui = Some(read_vui(r)?);
    }
    Ok(())
}

/// The frame size in luma samples after cropping (7.4.2.1.1, `CropUnitX`/`CropUnitY`).
fn frame_size(sps: &Sps) -> Result<(u32, u32), Error> {
    let field_factor = if sps.frame_mbs_only { 1 } else { 2 };
    let width = (u64::from(sps.pic_width_in_mbs_minus1) + 1) * 16;
    let height = field_factor * (u64::from(sps.pic_height_in_map_units_minus1) + 1) * 16;
    let chroma_array_type = if sps.separate_colour_plane { 0 } else { sps.chroma_format_idc };
    let (unit_x, unit_y) = match chroma_array_type {
        0 => (1, field_factor),
        1 => (2, 2 * field_factor),
        2 => (2, field_factor),
        _ => (1, field_factor),
    };
    let crop = sps.cropping.unwrap_or_default();
    let crop_x = unit_x * (u64::from(crop.left) + u64::from(crop.right));
    let crop_y = unit_y * (u64::from(crop.top) + u64::from(crop.bottom));
    let width = width
        .checked_sub(crop_x)
        .filter(|&w| w > 0)
        .ok_or(out_of_range("frame_crop_right_offset", crop.right))?;
    let height = height
        .checked_sub(crop_y)
        .filter(|&h| h > 0)
        .ok_or(out_of_range("frame_crop_bottom_offset", crop.bottom))?;
    let width = u32::try_from(width)
        .map_err(|_| out_of_range("pic_width_in_mbs_minus1", sps.pic_width_in_mbs_minus1))?;
    let height = u32::try_from(height)
        .map_err(|_| out_of_range("pic_height_in_map_units_minus1", sps.pic_height_in_map_units_minus1))?;
    Ok((width, height))
}

fn read_vui(r: &mut BitReader) -> Result<Vui, Error> {
    let mut vui = Vui::default();
    if r.flag()? {
        let idc = r.bits(8)? as u8;
        vui.aspect_ratio_idc = Some(idc);
        if idc == 255 {
            vui.sar = Some((r.bits(16)? as u16, r.bits(16)? as u16));
        }
    }
    if r.flag()? {
        vui.overscan_appropriate = Some(r.flag()?);
    }
    if r.flag()? {
        let video_format = r.bits(3)? as u8;
        let full_range = r.flag()?;
        let colour = if r.flag()? {
            Some(ColourDescription {
                primaries: r.bits(8)? as u8,
                transfer: r.bits(8)? as u8,
                matrix: r.bits(8)? as u8,
            })
        } else {
            None
        };
        vui.video_signal = Some(VideoSignal { video_format, full_range, colour });
    }
    Ok(vui)
}

/// Returns the SPS NAL unit `sps` (header byte included) with
/// `gaps_in_frame_num_value_allowed_flag` set to 1.
///
/// Everything else stays as it was: the flag is flipped in the RBSP, and emulation
/// prevention is put back. The SPS comes back borrowed when the flag is already 1; an
/// error when it cannot be read up to the flag.
///
/// Why: some producers (the KVS renderer example capture among them) skip a `frame_num`
/// after each IDR while their SPS forbids gaps. A decoder that allows the gap infers
/// "non-existing" frames for the missing numbers (8.2.5.2) and decodes the pictures that
/// follow; openh264 without error concealment refuses them until the next IDR instead.
///
/// ```
/// use std::borrow::Cow;
/// let sps = [0x27, 0x64, 0x00, 0x28, 0xac, 0x2b, 0x40, 0x50, 0x1e, 0xd0, 0x0f, 0x12, 0x26, 0xa0];
/// let allowed = kvs_h264::allow_frame_num_gaps(&sps)?;
/// assert_eq!(allowed[6], 0x50); // bit 43 of the RBSP set
/// assert!(matches!(kvs_h264::allow_frame_num_gaps(&allowed)?, Cow::Borrowed(_)));
/// # Ok::<(), kvs_h264::Error>(())
/// ```
pub fn allow_frame_num_gaps(sps: &[u8]) -> Result<Cow<'_, [u8]>, Error> {
    let head = Sps::read(sps, Part::Head)?;
    if head.gaps_in_frame_num_allowed {
        return Ok(Cow::Borrowed(sps));
    }
    let mut rbsp = unescape(&sps[1..]);
    // read_head has read the flag, so its byte exists.
    let byte = rbsp.get_mut(head.gaps_flag_bit / 8).ok_or(Error::EndOfBitstream)?;
    *byte |= 0x80 >> (head.gaps_flag_bit % 8);
    let mut out = Vec::with_capacity(sps.len() + 2);
    out.push(sps[0]);
    out.extend_from_slice(&escape(&rbsp));
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{BitWriter, hex};

    /// The SPS in the CodecPrivate of kinesis_video_renderer_example_output.mkv (and
    /// clusters.mkv): High profile, level 4.0, 640x480, frame_num 8 bits, POC type 2, one
    /// reference frame, gaps not allowed. Its slices nonetheless go frame_num 0 (IDR), 2, 3...
    const RENDERER_SPS: [u8; 14] = hex("27640028ac2b40501ed00f1226a0");
    /// The SPS of output_get_media.mkv: Main profile, 640x360, emulation prevention in its VUI.
    const OUTPUT_GET_MEDIA_SPS: [u8; 39] =
        hex("274d401eb9101405ff2e02d4040407c0000003004000000f38a0003d090007a13bdee03e1108d4");
    /// The SPS of vogels_330.mkv: Constrained Baseline, 640x330 (336 coded, 6 cropped).
    const VOGELS_SPS: [u8; 27] = hex("6742c028db0280afe4c05a808080a000000300200057e401e3065c");
    /// A synthetic Baseline SPS made so that emulation prevention matters on both sides of
    /// the flag: POC type 1 with offset_for_non_ref_pic = -2^24 (two `00 00 03` before
    /// the flag), max_num_ref_frames 15, then the flag in a zero byte followed by
    /// `00 03 01`: setting it makes that `03` unnecessary.
    const SYNTHETIC_SPS: [u8; 25] = hex("6742c01ed00000030100000300d8a38400000301000011f480");

    fn head(sps: &[u8]) -> Result<Sps, Error> {
        Sps::read(sps, Part::Head)
    }

    /// `sps` with the fields after the gaps flag as `read_head` leaves them.
    fn head_only(sps: &Sps) -> Sps {
        Sps {
            pic_width_in_mbs_minus1: 0,
            pic_height_in_map_units_minus1: 0,
            frame_mbs_only: true,
            mb_adaptive_frame_field: false,
            direct_8x8_inference: false,
            cropping: None,
            vui: None,
            width: 0,
            height: 0,
            ..sps.clone()
        }
    }

    /// A Baseline SPS (POC type 2, one reference frame) of `width_mbs` x `height_units`,
    /// `frame_mbs_only` or not, with `cropping`, and a VUI with only a video signal type.
    fn baseline_sps(
        width_mbs: u32,
        height_units: u32,
        frame_mbs_only: bool,
        cropping: Option<Cropping>,
    ) -> Vec<u8> {
        let mut w = BitWriter::default();
        w.u(8, 66).u(8, 0xC0).u(8, 30).ue(0).ue(0).ue(2).ue(1).u(1, 0);
        w.ue(width_mbs - 1).ue(height_units - 1).u(1, frame_mbs_only.into());
        if !frame_mbs_only {
            w.u(1, 0);
        }
        w.u(1, 1).u(1, cropping.is_some().into());
        if let Some(c) = cropping {
            w.ue(c.left).ue(c.right).ue(c.top).ue(c.bottom);
        }
        // VUI: no aspect ratio, no overscan; full range PAL, BT.2020 colour; nothing more.
        w.u(1, 1).u(1, 0).u(1, 0).u(1, 1).u(3, 1).u(1, 1).u(1, 1).u(8, 9).u(8, 14).u(8, 9);
        w.u(5, 0);
        w.nal(0x67)
    }

    /// Asserts that `rewritten` is `original` with the gaps flag set and nothing else
    /// changed: same fields before it, same RBSP bit for bit after it.
    fn assert_only_gaps_flag_set(original: &[u8], rewritten: &[u8]) {
        let before = head(original).unwrap();
        let after = head(rewritten).unwrap();
        assert!(!before.gaps_in_frame_num_allowed);
        assert_eq!(after, Sps { gaps_in_frame_num_allowed: true, ..before.clone() });
        assert_eq!(original[0], rewritten[0], "NAL header");
        let (a, b) = (unescape(&original[1..]), unescape(&rewritten[1..]));
        assert_eq!(a.len(), b.len());
        let changed: Vec<usize> =
            (0..a.len() * 8).filter(|&i| (a[i / 8] ^ b[i / 8]) & (0x80 >> (i % 8)) != 0).collect();
        assert_eq!(changed, vec![before.gaps_flag_bit]);
        match (Sps::parse(original), Sps::parse(rewritten)) {
            (Ok(whole_before), Ok(whole_after)) => {
                assert_eq!(whole_after, Sps { gaps_in_frame_num_allowed: true, ..whole_before })
            }
            (whole_before, whole_after) => assert_eq!(whole_before.err(), whole_after.err()),
        }
        assert_eq!(allow_frame_num_gaps(rewritten).unwrap(), Cow::Borrowed(rewritten), "idempotent");
    }

    #[test]
    fn renderer_sps_is_read_field_by_field() {
        let sps = Sps::parse(&RENDERER_SPS).unwrap();
        let expected = Sps {
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
            pic_width_in_mbs_minus1: 39,
            pic_height_in_map_units_minus1: 29,
            frame_mbs_only: true,
            mb_adaptive_frame_field: false,
            direct_8x8_inference: true,
            cropping: None,
            vui: Some(Vui {
                aspect_ratio_idc: None,
                sar: None,
                overscan_appropriate: None,
                video_signal: None,
            }),
            gaps_flag_bit: 43,
            width: 640,
            height: 480,
        };
        assert_eq!(sps, expected);
        assert_eq!(head(&RENDERER_SPS).unwrap(), head_only(&expected));
        assert_eq!(sps.profile(), Profile::High);
    }

    #[test]
    fn sizes_and_colour_of_the_sample_captures_are_what_ffprobe_says() {
        let bt709_tv = Some(VideoSignal {
            video_format: 5,
            full_range: false,
            colour: Some(ColourDescription { primaries: 1, transfer: 1, matrix: 1 }),
        });
        let cases = [
            (&RENDERER_SPS[..], Profile::High, 40, (640, 480), None),
            (&OUTPUT_GET_MEDIA_SPS, Profile::Main, 30, (640, 360), bt709_tv),
            (&VOGELS_SPS, Profile::Baseline, 40, (640, 330), bt709_tv),
        ];
        for (nal, profile, level, size, signal) in cases {
            let sps = Sps::parse(nal).unwrap();
            assert_eq!((sps.profile(), sps.level_idc), (profile, level), "{nal:02x?}");
            assert_eq!((sps.width(), sps.height()), size, "{profile}");
            assert_eq!(sps.vui.unwrap().video_signal, signal, "{profile}");
        }
        let vogels = Sps::parse(&VOGELS_SPS).unwrap();
        assert_eq!(vogels.cropping, Some(Cropping { left: 0, right: 0, top: 0, bottom: 3 }));
        assert_eq!(vogels.constraint_flags & 0x40, 0x40, "constraint_set1: Constrained Baseline");
    }

    #[test]
    fn renderer_sps_gets_gaps_allowed_and_nothing_else_changes() {
        let rewritten = allow_frame_num_gaps(&RENDERER_SPS).unwrap();
        // Bit 43 of the RBSP is bit 3 of its sixth byte: 0x40 becomes 0x50.
        assert_eq!(rewritten.as_ref(), hex::<14>("27640028ac2b50501ed00f1226a0"));
        assert_only_gaps_flag_set(&RENDERER_SPS, &rewritten);
    }

    #[test]
    fn emulation_prevention_after_the_flag_is_kept() {
        let rewritten = allow_frame_num_gaps(&OUTPUT_GET_MEDIA_SPS).unwrap();
        assert_eq!(
            rewritten.as_ref(),
            hex::<39>("274d401eb9141405ff2e02d4040407c0000003004000000f38a0003d090007a13bdee03e1108d4")
        );
        assert_only_gaps_flag_set(&OUTPUT_GET_MEDIA_SPS, &rewritten);
    }

    #[test]
    fn emulation_prevention_is_redone_around_the_flag() {
        let sps = head(&SYNTHETIC_SPS).unwrap();
        assert_eq!((sps.pic_order_cnt_type, sps.offset_for_non_ref_pic), (1, -(1 << 24)));
        assert_eq!((sps.offset_for_ref_frame.as_slice(), sps.max_num_ref_frames), (&[5, -3][..], 15));
        let rewritten = allow_frame_num_gaps(&SYNTHETIC_SPS).unwrap();
        // The two 00 00 03 before the flag stay; the one right after it goes.
        assert_eq!(rewritten.as_ref(), hex::<24>("6742c01ed00000030100000300d8a384200001000011f480"));
        assert_only_gaps_flag_set(&SYNTHETIC_SPS, &rewritten);
    }

    #[test]
    fn sps_with_gaps_already_allowed_is_returned_unchanged() {
        let allowed = hex::<14>("27640028ac2b50501ed00f1226a0");
        assert!(head(&allowed).unwrap().gaps_in_frame_num_allowed);
        assert!(matches!(allow_frame_num_gaps(&allowed), Ok(Cow::Borrowed(b)) if b == allowed));
    }

    #[test]
    fn malformed_sps_gives_the_error_of_what_is_wrong() {
        // Cut anywhere before the flag's byte.
        assert_eq!(
            allow_frame_num_gaps(&[]),
            Err(Error::UnexpectedNalType { expected: NalType::Sps, found: None })
        );
        for end in 1..=43 / 8 + 1 {
            assert_eq!(allow_frame_num_gaps(&RENDERER_SPS[..end]), Err(Error::EndOfBitstream), "{end}");
        }
        // Cut in the picture size: the head reads, the whole does not.
        assert!(allow_frame_num_gaps(&RENDERER_SPS[..7]).is_ok());
        assert_eq!(Sps::parse(&RENDERER_SPS[..7]), Err(Error::EndOfBitstream));
        let crop_all = baseline_sps(40, 30, true, Some(Cropping { left: 0, right: 320, top: 0, bottom: 0 }));
        let too_wide = baseline_sps(1 << 28, 1, true, None);
        let bad: [(&[u8], Error); 7] = [
            (&hex::<9>("276400280000000080"), Error::ExpGolombTooLong),
            (&hex::<6>("2742c01e043f"), out_of_range("seq_parameter_set_id", 32)),
            (&hex::<6>("2742c01ec980"), out_of_range("pic_order_cnt_type", 3)),
            (&hex::<5>("2764002896"), out_of_range("chroma_format_idc", 4)),
            (
                &hex::<2>("2864"),
                Error::UnexpectedNalType { expected: NalType::Sps, found: Some(NalType::Pps) },
            ),
            (&crop_all, out_of_range("frame_crop_right_offset", 320)),
            (&too_wide, out_of_range("pic_width_in_mbs_minus1", (1 << 28) - 1)),
        ];
        for (nal, error) in bad {
            assert_eq!(Sps::parse(nal), Err(error), "{nal:02x?}");
        }
    }

    #[test]
    fn frame_size_applies_field_coding_and_crop_units() {
        let crop = |bottom| Some(Cropping { left: 0, right: 0, top: 0, bottom });
        // 1920x1080 progressive: 68 macroblock rows, 8 lines cropped in units of 2.
        let sps = Sps::parse(&baseline_sps(120, 68, true, crop(4))).unwrap();
        assert_eq!((sps.width(), sps.height()), (1920, 1080));
        // Interlaced: 34 map units of two fields, cropped in units of 4.
        let sps = Sps::parse(&baseline_sps(120, 34, false, crop(2))).unwrap();
        assert_eq!((sps.width(), sps.height(), sps.frame_mbs_only), (1920, 1080, false));
        let signal = sps.vui.unwrap().video_signal.unwrap();
        assert_eq!(
            signal,
            VideoSignal {
                video_format: 1,
                full_range: true,
                colour: Some(ColourDescription { primaries: 9, transfer: 14, matrix: 9 })
            }
        );
        let interlaced = baseline_sps(120, 34, false, crop(2));
        let rewritten = allow_frame_num_gaps(&interlaced).unwrap();
        assert_only_gaps_flag_set(&interlaced, &rewritten);
    }
}
