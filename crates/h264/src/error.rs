//! The one error type of the crate: every way a bitstream, a length-prefixed buffer or a
//! configuration record can be malformed, each with its own variant. Running out of input
//! inside a syntax element is an error here (these parsers take whole units, never a
//! stream in pieces).

use crate::nal::NalType;

/// Why a NAL unit, a buffer of them or a configuration record could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The RBSP ends inside a syntax element.
    #[error("the bitstream ends inside a syntax element")]
    EndOfBitstream,
    /// An Exp-Golomb code with more than 31 leading zero bits: its value does not fit 32 bits.
    #[error("Exp-Golomb code longer than 32 bits")]
    ExpGolombTooLong,
    /// A syntax element holds a value outside the range the standard allows.
    #[error("{field} = {value} is out of range")]
    OutOfRange {
        /// The syntax element, named as in the standard.
        field: &'static str,
        /// The value read.
        value: i64,
    },
    /// A NAL unit of another type than the one asked for.
    #[error("expected a {expected:?} NAL unit, found {found:?}")]
    UnexpectedNalType {
        /// The type asked for.
        expected: NalType,
        /// The type found; `None` for an empty NAL unit.
        found: Option<NalType>,
    },
    /// A configuration record ends before one of its fields.
    #[error("configuration record cut short: {field} missing")]
    RecordTruncated {
        /// The field missing, named as in ISO/IEC 14496-15.
        field: &'static str,
    },
    /// A configuration record whose `configurationVersion` is not 1.
    #[error("configuration record version {0}, expected 1")]
    RecordVersion(u8),
    /// A NAL unit length prefix of another size than 1 to 4 bytes.
    #[error("NAL unit length prefix of {0} bytes (1 to 4 allowed)")]
    LengthSize(usize),
    /// A length prefix cut by the end of the buffer.
    #[error("NAL unit length prefix at byte {offset} cut by the end of the buffer")]
    PrefixTruncated {
        /// Offset of the prefix in the buffer.
        offset: usize,
    },
    /// A NAL unit whose length runs past the end of the buffer.
    #[error("NAL unit at byte {offset} says {length} bytes, {available} left in the buffer")]
    NalOverrun {
        /// Offset of its length prefix in the buffer.
        offset: usize,
        /// The length its prefix says.
        length: u64,
        /// The bytes left after the prefix.
        available: usize,
    },
    /// A length prefix of 0: a NAL unit has at least its header byte.
    #[error("empty NAL unit at byte {offset}")]
    EmptyNal {
        /// Offset of its length prefix in the buffer.
        offset: usize,
    },
    /// A NAL unit too long for the length field it is to be written in.
    #[error("NAL unit of {length} bytes does not fit a {size}-byte length field")]
    NalTooLong {
        /// Its length.
        length: usize,
        /// The size of the length field in bytes.
        size: usize,
    },
    /// More parameter sets than the count field of a configuration record can say.
    #[error("{count} {kind} for a record that holds at most {max}")]
    TooManyParameterSets {
        /// What they are ("SPS", "PPS", "SPS extensions").
        kind: &'static str,
        /// How many there are.
        count: usize,
        /// The most the record can hold.
        max: usize,
    },
}
