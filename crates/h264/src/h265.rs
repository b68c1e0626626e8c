//! Of H.265, what a decoder front end needs to route NAL units: the two-byte NAL unit
//! header (7.3.1.2) with its types named, and the HEVCDecoderConfigurationRecord (ISO/IEC
//! 14496-15 8.3.3.1), read only. The framing (Annex B, length prefixes) is H.264's.

use crate::Error;
use crate::avcc::LengthSize;

/// `nal_unit_type` of an H.265 NAL unit (0 to 63; Table 7-1 of H.265). Sixty-four values
/// in ranges that share their meaning: the predicates tell the ranges apart, the
/// constants name the values a front end looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NalType(pub u8);

impl NalType {
    /// Broken link access, with leading pictures.
    pub const BLA_W_LP: Self = Self(16);
    /// Instantaneous decoding refresh, with RADL pictures.
    pub const IDR_W_RADL: Self = Self(19);
    /// Instantaneous decoding refresh, without leading pictures.
    pub const IDR_N_LP: Self = Self(20);
    /// Clean random access.
    pub const CRA: Self = Self(21);
    /// Video parameter set.
    pub const VPS: Self = Self(32);
    /// Sequence parameter set.
    pub const SPS: Self = Self(33);
    /// Picture parameter set.
    pub const PPS: Self = Self(34);
    /// Access unit delimiter.
    pub const AUD: Self = Self(35);
    /// Supplemental enhancement information before the slices.
    pub const PREFIX_SEI: Self = Self(39);

    /// True for a slice of a picture (types 0 to 31).
    pub fn is_vcl(self) -> bool {
        self.0 < 32
    }

    /// True for an intra random access point: BLA, IDR, CRA (types 16 to 23).
    pub fn is_irap(self) -> bool {
        (16..=23).contains(&self.0)
    }

    /// True for a sub-layer non-reference picture (types 0, 2, ... 14: TRAIL_N, TSA_N,
    /// STSA_N, RADL_N, RASL_N and the reserved ones): no picture of its sub-layer refers
    /// to it.
    pub fn is_sub_layer_non_reference(self) -> bool {
        self.0 <= 14 && self.0.is_multiple_of(2)
    }
}

/// The two header bytes of an H.265 NAL unit.
///
/// ```
/// use kvs_h264::h265::{NalHeader, NalType};
/// let header = NalHeader::of(&[0x40, 0x01, 0x0C]).unwrap();
/// assert_eq!((header.nal_type, header.layer_id, header.temporal_id_plus1), (NalType::VPS, 0, 1));
/// assert!(NalHeader::of(&[0x26, 0x01]).unwrap().nal_type.is_irap()); // IDR_W_RADL
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NalHeader {
    /// `nal_unit_type`.
    pub nal_type: NalType,
    /// `nuh_layer_id` (0 to 63).
    pub layer_id: u8,
    /// `nuh_temporal_id_plus1` (1 to 7 in a conforming stream).
    pub temporal_id_plus1: u8,
}

impl NalHeader {
    /// The header of a NAL unit; `None` when it is shorter than two bytes.
    pub fn of(nal: &[u8]) -> Option<Self> {
        let [a, b, ..] = *nal else { return None };
        Some(Self {
            nal_type: NalType((a >> 1) & 0x3F),
            layer_id: (a & 1) << 5 | b >> 3,
            temporal_id_plus1: b & 7,
        })
    }
}

/// The type of an H.265 NAL unit from its first byte; `None` when it is empty. (A unit
/// of one byte is malformed, but its type can still be told.)
pub fn nal_type(nal: &[u8]) -> Option<NalType> {
    nal.first().map(|&b| NalType((b >> 1) & 0x3F))
}

/// One array of an HEVCDecoderConfigurationRecord: NAL units of one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NalArray {
    /// `array_completeness`: all NAL units of this type are here, none in the frames.
    pub complete: bool,
    /// `NAL_unit_type` of the array.
    pub nal_type: NalType,
    /// The NAL units, each with its header.
    pub nal_units: Vec<Vec<u8>>,
}

/// An HEVCDecoderConfigurationRecord, read for what a decoder needs: the length prefix
/// size and the parameter sets. Its 21 bytes of profile, tier and level fields are skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HevcDecoderConfig {
    /// `lengthSizeMinusOne + 1`.
    pub length_size: LengthSize,
    /// The arrays of NAL units (VPS, SPS, PPS, SEI), in record order.
    pub arrays: Vec<NalArray>,
}

impl HevcDecoderConfig {
    /// Parses a record.
    ///
    /// ```
    /// use kvs_h264::h265::{HevcDecoderConfig, NalType};
    /// let mut record = vec![1];
    /// record.extend_from_slice(&[0; 20]); // profile, tier, level... (skipped)
    /// record.extend_from_slice(&[0x0F, 1, 0xA0, 0, 1, 0, 3, 0x40, 0x01, 0x0C]);
    /// let config = HevcDecoderConfig::parse(&record)?;
    /// assert_eq!(config.length_size.bytes(), 4);
    /// assert_eq!(config.arrays[0].nal_type, NalType::VPS);
    /// assert_eq!(config.parameter_sets().collect::<Vec<_>>(), [&[0x40, 0x01, 0x0C][..]]);
    /// # Ok::<(), kvs_h264::Error>(())
    /// ```
    pub fn parse(record: &[u8]) -> Result<Self, Error> {
        let truncated = |field| Error::RecordTruncated { field };
        let (&version, rest) = record.split_first().ok_or(truncated("configurationVersion"))?;
        if version != 1 {
            return Err(Error::RecordVersion(version));
        }
        // general_profile_space ... avgFrameRate, constantFrameRate ... : 20 bytes, then
        // the byte whose low 2 bits are lengthSizeMinusOne.
        let (&length_byte, rest) =
            rest.get(20..).and_then(<[u8]>::split_first).ok_or(truncated("lengthSizeMinusOne"))?;
        let length_size = LengthSize::new(usize::from(length_byte & 3) + 1)?;
        let (&count, mut rest) = rest.split_first().ok_or(truncated("numOfArrays"))?;
        let mut take = |n: usize, field| -> Result<&[u8], Error> {
            let (head, tail) = rest.split_at_checked(n).ok_or(truncated(field))?;
            rest = tail;
            Ok(head)
        };
        // No capacity from the counts: each unit is pushed once its bytes are known to exist.
        let mut arrays = Vec::new();
        for _ in 0..count {
            let head = take(1, "NAL_unit_type")?[0];
            let n = take(2, "numNalus")?;
            let mut nal_units = Vec::new();
            for _ in 0..u16::from_be_bytes([n[0], n[1]]) {
                let len = take(2, "nalUnitLength")?;
                nal_units.push(take(usize::from(u16::from_be_bytes([len[0], len[1]])), "nalUnit")?.to_vec());
            }
            arrays.push(NalArray { complete: head & 0x80 != 0, nal_type: NalType(head & 0x3F), nal_units });
        }
        Ok(Self { length_size, arrays })
    }

    /// Every NAL unit of the record, array by array.
    pub fn parameter_sets(&self) -> impl Iterator<Item = &[u8]> {
        self.arrays.iter().flat_map(|a| a.nal_units.iter().map(Vec::as_slice))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Vec<u8> {
        let mut record = vec![1];
        record.extend_from_slice(&[0; 20]);
        record.extend_from_slice(&[0xFD, 2]);
        record.extend_from_slice(&[0xA0, 0, 1, 0, 2, 0x40, 0x01]);
        record.extend_from_slice(&[0x21, 0, 2, 0, 1, 0x42, 0, 3, 0x42, 1, 2]);
        record
    }

    #[test]
    fn arrays_are_read_in_order() {
        let config = HevcDecoderConfig::parse(&record()).unwrap();
        assert_eq!(config.length_size, LengthSize::new(2).unwrap());
        assert_eq!(
            config.arrays,
            [
                NalArray { complete: true, nal_type: NalType::VPS, nal_units: vec![vec![0x40, 0x01]] },
                NalArray {
                    complete: false,
                    nal_type: NalType::SPS,
                    nal_units: vec![vec![0x42], vec![0x42, 1, 2]]
                },
            ]
        );
        assert_eq!(config.parameter_sets().count(), 3);
    }

    #[test]
    fn every_cut_of_a_record_is_an_error() {
        let record = record();
        for end in 0..record.len() {
            let error = HevcDecoderConfig::parse(&record[..end]).unwrap_err();
            assert!(matches!(error, Error::RecordTruncated { .. }), "{end}: {error}");
        }
        assert_eq!(
            HevcDecoderConfig::parse(&record[..21]),
            Err(Error::RecordTruncated { field: "lengthSizeMinusOne" })
        );
        assert_eq!(
            HevcDecoderConfig::parse(&record[..record.len() - 1]),
            Err(Error::RecordTruncated { field: "nalUnit" })
        );
        assert_eq!(HevcDecoderConfig::parse(&[2; 30]), Err(Error::RecordVersion(2)));
    }

    #[test]
    fn header_types_are_told_apart() {
        let vcl: Vec<u8> = (0..64).filter(|&t| NalType(t).is_vcl()).collect();
        assert_eq!(vcl, (0..32).collect::<Vec<_>>());
        let irap: Vec<u8> = (0..64).filter(|&t| NalType(t).is_irap()).collect();
        assert_eq!(irap, (16..=23).collect::<Vec<_>>());
        let non_ref: Vec<u8> = (0..64).filter(|&t| NalType(t).is_sub_layer_non_reference()).collect();
        assert_eq!(non_ref, [0, 2, 4, 6, 8, 10, 12, 14]);
        assert_eq!(
            NalHeader::of(&[0x7F, 0xFF]),
            Some(NalHeader { nal_type: NalType(63), layer_id: 63, temporal_id_plus1: 7 })
        );
        assert_eq!(NalHeader::of(&[0x40]), None);
        assert_eq!(nal_type(&[19 << 1]), Some(NalType::IDR_W_RADL));
    }
}
