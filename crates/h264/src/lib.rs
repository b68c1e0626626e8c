//! H.264 bitstream plumbing (and of H.265, the NAL header and configuration record), for
//! the crates that mux and decode: no decoding, no encoding, no I/O, no allocation sized
//! by a length read from the input.
//!
//! What it owns:
//! - NAL unit headers with their types named ([`NalType`], [`NalHeader`], [`h265`]);
//! - framing: Annex B start codes ([`split_annex_b`], [`write_annex_b`]) and length
//!   prefixes, "AVCC" ([`split_avcc`], [`write_avcc`]), and conversion both ways;
//! - the AVCDecoderConfigurationRecord of Matroska's CodecPrivate, read and written
//!   ([`AvcDecoderConfig`]), and the HEVC one, read ([`h265::HevcDecoderConfig`]);
//! - inside a NAL unit: emulation prevention ([`unescape`], [`escape`]), the
//!   Exp-Golomb [`BitReader`], and the sequence parameter set ([`Sps`]: profile, level,
//!   picture size, colour signalling) with the one rewrite decoders need
//!   ([`allow_frame_num_gaps`]).
//!
//! What it does not: decode or encode pictures (kvs-media, openh264), read slices or
//! PPS, know about Matroska (kvs-mkv). Every parser takes a whole unit (a frame, a
//! record, a NAL unit) and returns a typed [`Error`] for malformed input, never a panic.
//!
//! ```
//! use kvs_h264::{AvcDecoderConfig, LengthSize, NalType, Sps, avcc_to_annex_b, split_avcc};
//!
//! // A Matroska block: AVCC, 4-byte lengths, holding an SPS, a PPS and an IDR slice.
//! let sps = [0x67, 0x42, 0xC0, 0x1E, 0xDA, 0x02, 0x80, 0xF6, 0x40];
//! let mut block = vec![0, 0, 0, 9];
//! block.extend_from_slice(&sps);
//! block.extend_from_slice(&[0, 0, 0, 4, 0x68, 0xCE, 0x3C, 0x80, 0, 0, 0, 3, 0x65, 0x88, 0x84]);
//!
//! let nals: Vec<&[u8]> = split_avcc(&block, LengthSize::FOUR).collect::<Result<_, _>>()?;
//! let types: Vec<Option<NalType>> = nals.iter().map(|nal| kvs_h264::nal_type(nal)).collect();
//! assert_eq!(types, [Some(NalType::Sps), Some(NalType::Pps), Some(NalType::Idr)]);
//!
//! let parsed = Sps::parse(&sps)?;
//! assert_eq!((parsed.width(), parsed.height()), (640, 480));
//!
//! // For a decoder that takes Annex B.
//! let mut annex_b = Vec::new();
//! avcc_to_annex_b(&block, LengthSize::FOUR, &mut annex_b)?;
//! assert_eq!(&annex_b[..5], [0, 0, 0, 1, 0x67]);
//!
//! // The CodecPrivate a muxer writes for it.
//! let record = AvcDecoderConfig::from_parameter_sets(&sps, &[0x68, 0xCE, 0x3C, 0x80])?.to_bytes()?;
//! assert_eq!(AvcDecoderConfig::parse(&record)?.sps, [sps.to_vec()]);
//! # Ok::<(), kvs_h264::Error>(())
//! ```
#![deny(missing_docs)]

mod annexb;
mod avcc;
mod error;
pub mod h265;
mod nal;
mod rbsp;
mod record;
mod sps;
#[cfg(test)]
mod testing;

pub use annexb::{AnnexBNals, START_CODE, is_annex_b, split_annex_b, write_annex_b};
pub use avcc::{AvccNals, LengthSize, annex_b_to_avcc, avcc_to_annex_b, split_avcc, write_avcc};
pub use error::Error;
pub use nal::{NalHeader, NalType, nal_type};
pub use rbsp::{BitReader, escape, unescape};
pub use record::{AvcDecoderConfig, HighProfileFields};
pub use sps::{ColourDescription, Cropping, Profile, Sps, VideoSignal, Vui, allow_frame_num_gaps};
