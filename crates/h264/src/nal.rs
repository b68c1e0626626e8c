//! The H.264 NAL unit header (7.3.1): its type, named, and `nal_ref_idc`. What a NAL unit
//! holds beyond its first byte is for the other modules; H.265's two-byte header is in
//! [`h265`](crate::h265).

/// `nal_unit_type` of an H.264 NAL unit (Table 7-1).
///
/// Every value 0 to 31 maps to exactly one variant and back: the named ones, and
/// [`Other`](Self::Other) for the unspecified and reserved ones (0, 17, 18, 22 to 31).
///
/// ```
/// use kvs_h264::NalType;
/// assert_eq!(NalType::from(0x67), NalType::Sps); // the low 5 bits of a header byte
/// assert_eq!(u8::from(NalType::Idr), 5);
/// assert!(NalType::Idr.is_vcl() && !NalType::Sei.is_vcl());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NalType {
    /// 1: coded slice of a non-IDR picture.
    Slice,
    /// 2: coded slice data partition A.
    SliceDataA,
    /// 3: coded slice data partition B.
    SliceDataB,
    /// 4: coded slice data partition C.
    SliceDataC,
    /// 5: coded slice of an IDR picture.
    Idr,
    /// 6: supplemental enhancement information.
    Sei,
    /// 7: sequence parameter set.
    Sps,
    /// 8: picture parameter set.
    Pps,
    /// 9: access unit delimiter.
    Aud,
    /// 10: end of sequence.
    EndOfSequence,
    /// 11: end of stream.
    EndOfStream,
    /// 12: filler data.
    Filler,
    /// 13: sequence parameter set extension.
    SpsExtension,
    /// 14: prefix NAL unit (SVC, MVC).
    Prefix,
    /// 15: subset sequence parameter set (SVC, MVC).
    SubsetSps,
    /// 16: depth parameter set (3D-AVC).
    DepthParameterSet,
    /// 19: coded slice of an auxiliary coded picture without partitioning.
    AuxiliarySlice,
    /// 20: coded slice extension (SVC, MVC).
    SliceExtension,
    /// 21: coded slice extension for a depth view component (3D-AVC).
    DepthSliceExtension,
    /// Any other value (0, 17, 18, 22 to 31: unspecified or reserved).
    Other(u8),
}

impl NalType {
    /// True for a slice of a picture (types 1 to 5, the VCL NAL units a decoder of the
    /// base profiles decodes).
    pub fn is_vcl(self) -> bool {
        matches!(self, Self::Slice | Self::SliceDataA | Self::SliceDataB | Self::SliceDataC | Self::Idr)
    }

    /// True for a sequence or picture parameter set.
    pub fn is_parameter_set(self) -> bool {
        matches!(self, Self::Sps | Self::Pps)
    }
}

impl From<u8> for NalType {
    /// The type of a header byte: its low 5 bits.
    fn from(byte: u8) -> Self {
        match byte & 0x1F {
            1 => Self::Slice,
            2 => Self::SliceDataA,
            3 => Self::SliceDataB,
            4 => Self::SliceDataC,
            5 => Self::Idr,
            6 => Self::Sei,
            7 => Self::Sps,
            8 => Self::Pps,
            9 => Self::Aud,
            10 => Self::EndOfSequence,
            11 => Self::EndOfStream,
            12 => Self::Filler,
            13 => Self::SpsExtension,
            14 => Self::Prefix,
            15 => Self::SubsetSps,
            16 => Self::DepthParameterSet,
            19 => Self::AuxiliarySlice,
            20 => Self::SliceExtension,
            21 => Self::DepthSliceExtension,
            other => Self::Other(other),
        }
    }
}

impl From<NalType> for u8 {
    fn from(t: NalType) -> u8 {
        match t {
            NalType::Slice => 1,
            NalType::SliceDataA => 2,
            NalType::SliceDataB => 3,
            NalType::SliceDataC => 4,
            NalType::Idr => 5,
            NalType::Sei => 6,
            NalType::Sps => 7,
            NalType::Pps => 8,
            NalType::Aud => 9,
            NalType::EndOfSequence => 10,
            NalType::EndOfStream => 11,
            NalType::Filler => 12,
            NalType::SpsExtension => 13,
            NalType::Prefix => 14,
            NalType::SubsetSps => 15,
            NalType::DepthParameterSet => 16,
            NalType::AuxiliarySlice => 19,
            NalType::SliceExtension => 20,
            NalType::DepthSliceExtension => 21,
            NalType::Other(value) => value & 0x1F,
        }
    }
}

/// The first byte of an H.264 NAL unit.
///
/// ```
/// use kvs_h264::{NalHeader, NalType};
/// let header = NalHeader::of(&[0x65, 0x88]).unwrap();
/// assert_eq!((header.nal_type, header.nal_ref_idc), (NalType::Idr, 3));
/// // Made a non-reference picture: nal_ref_idc 0, everything else kept.
/// assert_eq!(NalHeader { nal_ref_idc: 0, ..header }.to_byte(), 0x05);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NalHeader {
    /// `forbidden_zero_bit`: set only in a damaged NAL unit.
    pub forbidden_zero_bit: bool,
    /// `nal_ref_idc` (0 to 3): 0 when no other picture refers to this one.
    pub nal_ref_idc: u8,
    /// `nal_unit_type`.
    pub nal_type: NalType,
}

impl NalHeader {
    /// Reads a header byte.
    pub fn from_byte(byte: u8) -> Self {
        Self {
            forbidden_zero_bit: byte & 0x80 != 0,
            nal_ref_idc: (byte >> 5) & 3,
            nal_type: NalType::from(byte),
        }
    }

    /// The header of a NAL unit; `None` when it is empty.
    pub fn of(nal: &[u8]) -> Option<Self> {
        nal.first().map(|&b| Self::from_byte(b))
    }

    /// The header byte (`nal_ref_idc` taken modulo 4).
    pub fn to_byte(self) -> u8 {
        u8::from(self.forbidden_zero_bit) << 7 | (self.nal_ref_idc & 3) << 5 | u8::from(self.nal_type)
    }
}

/// The type of an H.264 NAL unit; `None` when it is empty.
pub fn nal_type(nal: &[u8]) -> Option<NalType> {
    nal.first().map(|&b| NalType::from(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_value_maps_to_one_variant_and_back() {
        for value in 0..32u8 {
            assert_eq!(u8::from(NalType::from(value)), value);
            assert_eq!(NalType::from(value | 0xE0), NalType::from(value), "header bits above the type");
        }
        let named: Vec<u8> = (0..32).filter(|&v| !matches!(NalType::from(v), NalType::Other(_))).collect();
        assert_eq!(named, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 19, 20, 21]);
        assert_eq!(NalType::from(0), NalType::Other(0));
        assert_eq!(NalType::from(9), NalType::Aud);
    }

    #[test]
    fn header_bits_are_read_and_written_back() {
        for byte in 0..=255u8 {
            assert_eq!(NalHeader::from_byte(byte).to_byte(), byte);
        }
        assert_eq!(
            NalHeader::from_byte(0x41),
            NalHeader { forbidden_zero_bit: false, nal_ref_idc: 2, nal_type: NalType::Slice }
        );
        assert_eq!(NalHeader::from_byte(0x06).nal_ref_idc, 0);
        assert!(NalHeader::from_byte(0x85).forbidden_zero_bit);
        assert_eq!(NalHeader::of(&[]), None);
        assert_eq!(nal_type(&[0x68, 0xCE]), Some(NalType::Pps));
    }
}
