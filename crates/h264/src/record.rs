//! The AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1): what Matroska's
//! `CodecPrivate` and MP4's `avcC` hold for H.264. Read and written; every count and
//! length is checked against the bytes present before anything is copied.

use crate::Error;
use crate::annexb::write_annex_b;
use crate::avcc::LengthSize;
use crate::nal::{NalHeader, NalType};
use crate::sps::{Sps, is_high_profile};

/// An AVCDecoderConfigurationRecord.
///
/// ```
/// use kvs_h264::{AvcDecoderConfig, LengthSize};
/// let sps = [0x67, 0x42, 0xC0, 0x1E, 0xDA, 0x02, 0x80, 0xF6, 0x40];
/// let pps = [0x68, 0xCE, 0x3C, 0x80];
/// let config = AvcDecoderConfig::from_parameter_sets(&sps, &pps)?;
/// let record = config.to_bytes()?;
/// assert_eq!(&record[..6], [1, 0x42, 0xC0, 0x1E, 0xFF, 0xE1]);
/// let read = AvcDecoderConfig::parse(&record)?;
/// assert_eq!((read.length_size, read.sps.len(), read.pps.len()), (LengthSize::FOUR, 1, 1));
/// assert_eq!(read, config);
/// # Ok::<(), kvs_h264::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcDecoderConfig {
    /// `AVCProfileIndication`: the SPS's `profile_idc`.
    pub profile_indication: u8,
    /// `profile_compatibility`: the SPS's constraint flags.
    pub profile_compatibility: u8,
    /// `AVCLevelIndication`: the SPS's `level_idc`.
    pub level_indication: u8,
    /// `lengthSizeMinusOne + 1`: the length prefix of the NAL units of every frame.
    pub length_size: LengthSize,
    /// The sequence parameter sets, NAL units with their header byte (at most 31).
    pub sps: Vec<Vec<u8>>,
    /// The picture parameter sets (at most 255).
    pub pps: Vec<Vec<u8>>,
    /// The fields that follow for the High profiles (100, 110, 122, 144), where present.
    pub high: Option<HighProfileFields>,
}

/// The fields of an AVCDecoderConfigurationRecord of a High profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HighProfileFields {
    /// `chroma_format` (0 to 3), as in the SPS.
    pub chroma_format: u8,
    /// `bit_depth_luma_minus8` (0 to 7).
    pub bit_depth_luma_minus8: u8,
    /// `bit_depth_chroma_minus8` (0 to 7).
    pub bit_depth_chroma_minus8: u8,
    /// The sequence parameter set extensions (at most 255).
    pub sps_ext: Vec<Vec<u8>>,
}

/// Reads big-endian fields of a record, naming the one that is missing.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], Error> {
        let (head, rest) = self.rest.split_at_checked(n).ok_or(Error::RecordTruncated { field })?;
        self.rest = rest;
        Ok(head)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, Error> {
        Ok(self.bytes(1, field)?[0])
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, Error> {
        let b = self.bytes(2, field)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// `count` NAL units, each behind a 16-bit length.
    fn nal_units(
        &mut self,
        count: usize,
        length: &'static str,
        unit: &'static str,
    ) -> Result<Vec<Vec<u8>>, Error> {
        // No capacity from `count`: each unit is pushed once its bytes are known to exist.
        let mut out = Vec::new();
        for _ in 0..count {
            let len = usize::from(self.u16(length)?);
            out.push(self.bytes(len, unit)?.to_vec());
        }
        Ok(out)
    }
}

impl AvcDecoderConfig {
    /// Parses a record.
    ///
    /// The High profile fields are read where the profile has them and bytes follow the
    /// PPS; when those bytes do not make the fields (some muxers write them wrong, and
    /// decoders ignore them) they are left out rather than failing the record.
    pub fn parse(record: &[u8]) -> Result<Self, Error> {
        let mut r = Reader { rest: record };
        let version = r.u8("configurationVersion")?;
        if version != 1 {
            return Err(Error::RecordVersion(version));
        }
        let profile_indication = r.u8("AVCProfileIndication")?;
        let profile_compatibility = r.u8("profile_compatibility")?;
        let level_indication = r.u8("AVCLevelIndication")?;
        let length_size = LengthSize::new(usize::from(r.u8("lengthSizeMinusOne")? & 3) + 1)?;
        let sps_count = usize::from(r.u8("numOfSequenceParameterSets")? & 0x1F);
        let sps = r.nal_units(sps_count, "sequenceParameterSetLength", "sequenceParameterSetNALUnit")?;
        let pps_count = usize::from(r.u8("numOfPictureParameterSets")?);
        let pps = r.nal_units(pps_count, "pictureParameterSetLength", "pictureParameterSetNALUnit")?;
        let high = if matches!(profile_indication, 100 | 110 | 122 | 144) && !r.rest.is_empty() {
            read_high(&mut r).ok()
        } else {
            None
        };
        Ok(Self { profile_indication, profile_compatibility, level_indication, length_size, sps, pps, high })
    }

    /// The record of one SPS and one PPS (NAL units with their header byte), 4-byte
    /// lengths; profile and level are the SPS's, and for a High profile the fields that
    /// follow are read from it.
    pub fn from_parameter_sets(sps: &[u8], pps: &[u8]) -> Result<Self, Error> {
        let parsed = Sps::parse(sps)?;
        let pps_type = NalHeader::of(pps).map(|h| h.nal_type);
        if pps_type != Some(NalType::Pps) {
            return Err(Error::UnexpectedNalType { expected: NalType::Pps, found: pps_type });
        }
        let high = is_high_profile(parsed.profile_idc).then(|| HighProfileFields {
            chroma_format: parsed.chroma_format_idc as u8,
            bit_depth_luma_minus8: parsed.bit_depth_luma_minus8.min(7) as u8,
            bit_depth_chroma_minus8: parsed.bit_depth_chroma_minus8.min(7) as u8,
            sps_ext: Vec::new(),
        });
        Ok(Self {
            profile_indication: parsed.profile_idc,
            profile_compatibility: parsed.constraint_flags,
            level_indication: parsed.level_idc,
            length_size: LengthSize::FOUR,
            sps: vec![sps.to_vec()],
            pps: vec![pps.to_vec()],
            high,
        })
    }

    /// The record's bytes (reserved bits set to 1). The High profile fields are written
    /// whenever present; [`parse`](Self::parse) reads them back for profiles 100, 110,
    /// 122 and 144.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let too_many = |kind, count, max| Error::TooManyParameterSets { kind, count, max };
        if self.sps.len() > 31 {
            return Err(too_many("SPS", self.sps.len(), 31));
        }
        if self.pps.len() > 255 {
            return Err(too_many("PPS", self.pps.len(), 255));
        }
        let mut out = vec![
            1,
            self.profile_indication,
            self.profile_compatibility,
            self.level_indication,
            0xFC | (self.length_size.bytes() as u8 - 1),
            0xE0 | self.sps.len() as u8,
        ];
        write_units(&mut out, &self.sps)?;
        out.push(self.pps.len() as u8);
        write_units(&mut out, &self.pps)?;
        if let Some(high) = &self.high {
            if high.sps_ext.len() > 255 {
                return Err(too_many("SPS extensions", high.sps_ext.len(), 255));
            }
            out.push(0xFC | high.chroma_format & 3);
            out.push(0xF8 | high.bit_depth_luma_minus8 & 7);
            out.push(0xF8 | high.bit_depth_chroma_minus8 & 7);
            out.push(high.sps_ext.len() as u8);
            write_units(&mut out, &high.sps_ext)?;
        }
        Ok(out)
    }

    /// The SPS and PPS as one Annex B buffer, SPS first: what a decoder takes before the
    /// first frame.
    pub fn annex_b(&self) -> Vec<u8> {
        let mut out = Vec::new();
        write_annex_b(&mut out, self.sps.iter().chain(&self.pps).map(Vec::as_slice));
        out
    }
}

fn read_high(r: &mut Reader) -> Result<HighProfileFields, Error> {
    let chroma_format = r.u8("chroma_format")? & 3;
    let bit_depth_luma_minus8 = r.u8("bit_depth_luma_minus8")? & 7;
    let bit_depth_chroma_minus8 = r.u8("bit_depth_chroma_minus8")? & 7;
    let count = usize::from(r.u8("numOfSequenceParameterSetExt")?);
    let sps_ext = r.nal_units(count, "sequenceParameterSetExtLength", "sequenceParameterSetExtNALUnit")?;
    Ok(HighProfileFields { chroma_format, bit_depth_luma_minus8, bit_depth_chroma_minus8, sps_ext })
}

/// Writes NAL units, each behind a 16-bit length.
fn write_units(out: &mut Vec<u8>, units: &[Vec<u8>]) -> Result<(), Error> {
    for unit in units {
        let len = u16::try_from(unit.len()).map_err(|_| Error::NalTooLong { length: unit.len(), size: 2 })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(unit);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::hex;

    const RECORD: [u8; 16] = [1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 3, 0x67, 1, 2, 1, 0, 2, 0x68, 9];

    #[test]
    fn record_gives_length_size_and_parameter_sets() {
        let config = AvcDecoderConfig::parse(&RECORD).unwrap();
        assert_eq!(
            config,
            AvcDecoderConfig {
                profile_indication: 100,
                profile_compatibility: 0,
                level_indication: 31,
                length_size: LengthSize::FOUR,
                sps: vec![vec![0x67, 1, 2]],
                pps: vec![vec![0x68, 9]],
                high: None,
            }
        );
        assert_eq!(config.annex_b(), vec![0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 9]);
        assert_eq!(config.to_bytes().unwrap(), RECORD);
    }

    #[test]
    fn every_cut_of_a_record_names_the_missing_field() {
        let fields = [
            "configurationVersion",
            "AVCProfileIndication",
            "profile_compatibility",
            "AVCLevelIndication",
            "lengthSizeMinusOne",
            "numOfSequenceParameterSets",
            "sequenceParameterSetLength",
            "sequenceParameterSetLength",
            "sequenceParameterSetNALUnit",
            "sequenceParameterSetNALUnit",
            "sequenceParameterSetNALUnit",
            "numOfPictureParameterSets",
            "pictureParameterSetLength",
            "pictureParameterSetLength",
            "pictureParameterSetNALUnit",
            "pictureParameterSetNALUnit",
        ];
        for (end, field) in fields.into_iter().enumerate() {
            assert_eq!(
                AvcDecoderConfig::parse(&RECORD[..end]),
                Err(Error::RecordTruncated { field }),
                "{end}"
            );
        }
        assert_eq!(AvcDecoderConfig::parse(&[0, 0x64]), Err(Error::RecordVersion(0)));
        // An SPS length past the end of the record.
        assert_eq!(
            AvcDecoderConfig::parse(&[1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0xFF, 0xFF, 0x67]),
            Err(Error::RecordTruncated { field: "sequenceParameterSetNALUnit" })
        );
    }

    #[test]
    fn high_profile_fields_are_read_written_and_made_from_the_sps() {
        let mut record = RECORD.to_vec();
        record.extend_from_slice(&[0xFD, 0xF8, 0xF8, 1, 0, 2, 0x6D, 1]);
        let config = AvcDecoderConfig::parse(&record).unwrap();
        let high = HighProfileFields {
            chroma_format: 1,
            bit_depth_luma_minus8: 0,
            bit_depth_chroma_minus8: 0,
            sps_ext: vec![vec![0x6D, 1]],
        };
        assert_eq!(config.high.as_ref(), Some(&high));
        assert_eq!(config.to_bytes().unwrap(), record);
        // Cut short: the record stands without them.
        assert_eq!(AvcDecoderConfig::parse(&record[..record.len() - 1]).unwrap().high, None);
        // The renderer capture's SPS (High, 4:2:0, 8 bits) and a PPS.
        let sps = hex::<14>("27640028ac2b40501ed00f1226a0");
        let config = AvcDecoderConfig::from_parameter_sets(&sps, &[0x28, 0xEE, 0x3C, 0xB0]).unwrap();
        assert_eq!((config.profile_indication, config.level_indication), (100, 40));
        assert_eq!(config.high, Some(HighProfileFields { sps_ext: vec![], ..high }));
        assert_eq!(AvcDecoderConfig::parse(&config.to_bytes().unwrap()).unwrap(), config);
    }

    #[test]
    fn what_a_record_cannot_hold_is_refused() {
        let sps = hex::<14>("27640028ac2b40501ed00f1226a0");
        assert_eq!(
            AvcDecoderConfig::from_parameter_sets(&sps, &sps),
            Err(Error::UnexpectedNalType { expected: NalType::Pps, found: Some(NalType::Sps) })
        );
        assert!(matches!(
            AvcDecoderConfig::from_parameter_sets(&[0x68], &[0x68]),
            Err(Error::UnexpectedNalType { .. })
        ));
        let mut config = AvcDecoderConfig::parse(&RECORD).unwrap();
        config.pps = vec![vec![0x68; 70_000]];
        assert_eq!(config.to_bytes(), Err(Error::NalTooLong { length: 70_000, size: 2 }));
        config.pps = vec![vec![0x68]; 256];
        assert_eq!(config.to_bytes(), Err(Error::TooManyParameterSets { kind: "PPS", count: 256, max: 255 }));
        config.sps = vec![vec![0x67]; 32];
        assert_eq!(config.to_bytes(), Err(Error::TooManyParameterSets { kind: "SPS", count: 32, max: 31 }));
    }
}
