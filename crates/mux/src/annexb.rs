//! H.264/H.265 access units from MP4/MKV form (length-prefixed NAL units) to Annex B
//! (start codes), as MPEG-TS carries them: an access unit delimiter first, and the
//! parameter sets from the configuration record before every random access point that
//! does not carry its own.
//!
//! Owns NAL unit types; does not parse slices.

use crate::codec::{Codec, TrackConfig};

/// The Annex B start code written before every NAL unit.
const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// H.264 NAL unit types (ITU-T H.264, table 7-1).
mod h264 {
    pub const IDR: u8 = 5;
    pub const SPS: u8 = 7;
    pub const AUD: u8 = 9;
    /// An access unit delimiter NAL: any slice types (primary_pic_type 7).
    pub const AUD_NAL: [u8; 2] = [0x09, 0xF0];
}

/// H.265 NAL unit types (ITU-T H.265, table 7-1).
mod h265 {
    /// BLA_W_LP..=RSV_IRAP_VCL23: random access points.
    pub const IRAP: std::ops::RangeInclusive<u8> = 16..=23;
    pub const VPS: u8 = 32;
    pub const PPS: u8 = 34;
    pub const AUD: u8 = 35;
    /// An access unit delimiter NAL: any slice types (pic_type 2).
    pub const AUD_NAL: [u8; 3] = [0x46, 0x01, 0x50];
}

/// The NAL units of a length-prefixed access unit.
pub(crate) fn nal_units(payload: &[u8], length_size: usize) -> Result<Vec<&[u8]>, &'static str> {
    if !(1..=4).contains(&length_size) {
        return Err("NAL length size not 1 to 4");
    }
    let mut out = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        if rest.len() < length_size {
            return Err("NAL length cut short");
        }
        let len = rest[..length_size].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        rest = &rest[length_size..];
        if len > rest.len() {
            return Err("NAL length past the end of the frame");
        }
        if len > 0 {
            out.push(&rest[..len]);
        }
        rest = &rest[len..];
    }
    Ok(out)
}

/// Appends the Annex B form of one video access unit to `out`.
pub(crate) fn access_unit(
    track: &TrackConfig,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), &'static str> {
    let mut nals = nal_units(payload, track.nal_length_size())?;
    let mut put = |nal: &[u8]| {
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(nal);
    };
    match &track.codec {
        Codec::H264(avcc) => {
            let kind = |nal: &[u8]| nal[0] & 0x1F;
            // The delimiter comes first: the frame's own, else one made here.
            match nals.first() {
                Some(n) if kind(n) == h264::AUD => put(nals.remove(0)),
                _ => put(&h264::AUD_NAL),
            }
            let idr = nals.iter().any(|n| kind(n) == h264::IDR);
            if idr && !nals.iter().any(|n| kind(n) == h264::SPS) {
                avcc.sequence_parameter_sets.iter().chain(&avcc.picture_parameter_sets).for_each(|p| put(p));
            }
        }
        Codec::H265(hvcc) => {
            let kind = |nal: &[u8]| (nal[0] >> 1) & 0x3F;
            match nals.first() {
                Some(n) if kind(n) == h265::AUD => put(nals.remove(0)),
                _ => put(&h265::AUD_NAL),
            }
            let irap = nals.iter().any(|n| h265::IRAP.contains(&kind(n)));
            if irap && !nals.iter().any(|n| kind(n) == h265::VPS) {
                // VPS, SPS and PPS; not the SEI some encoders also leave in the record.
                let parameter_sets =
                    hvcc.arrays.iter().filter(|a| (h265::VPS..=h265::PPS).contains(&a.nal_unit_type));
                parameter_sets.flat_map(|a| &a.nalus).for_each(|p| put(p));
            }
        }
        Codec::Aac(_) => return Err("not a video track"),
    }
    for nal in nals {
        put(nal);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nal_lengths_are_checked() {
        assert_eq!(
            nal_units(&[0, 0, 0, 2, 0x65, 1, 0, 0, 0, 1, 0x41], 4).unwrap(),
            [&[0x65, 1][..], &[0x41][..]]
        );
        assert_eq!(nal_units(&[0, 0, 0, 9, 0x65], 4).unwrap_err(), "NAL length past the end of the frame");
        assert_eq!(nal_units(&[0, 0], 4).unwrap_err(), "NAL length cut short");
        assert_eq!(nal_units(&[1], 2).unwrap_err(), "NAL length cut short");
    }
}
