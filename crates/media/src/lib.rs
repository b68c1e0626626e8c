//! Frames and audio of KVS fragments: decode, select, convert to RGB, save JPEG/PNG/WAV.
//!
//! What it owns: turning the coded frames of a [`kvs_mkv::Fragment`] into pictures
//! ([`FrameDecoder`]: H.264 through openh264, built from source; H.265, H.264 and other
//! codecs through FFmpeg with the `ffmpeg` feature), choosing which of them are worth
//! converting ([`Selection`]), RGB arrays ([`VideoFrame`]), JPEG/PNG files ([`save_image`]),
//! and audio tracks as WAV ([`audio_tracks`], [`WavWriter`]).
//!
//! What it does not do: read bytes from anywhere (that is `kvs-consumer`), parse MKV
//! (that is `kvs-mkv`), nor draw anything on screen.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::num::NonZeroUsize;
//! use kvs_media::{FrameDecoder, Selection, VideoOptions};
//!
//! // Every 10th frame of each fragment of a stream, as RGB arrays.
//! let mut decoder = FrameDecoder::new(VideoOptions::with_selection(Selection::EveryNth(NonZeroUsize::new(10).unwrap())));
//! # let fragments: Vec<kvs_mkv::Fragment> = Vec::new();
//! for fragment in &fragments {
//!     let decoded = decoder.decode(fragment)?;
//!     for frame in &decoded.frames {
//!         println!("frame {} at {} ns: {:?}", frame.info.index, frame.info.timestamp_ns, frame.rgb.dim());
//!     }
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod audio;
mod codec;
mod colour;
mod error;
mod export;
#[cfg(feature = "ffmpeg")]
mod ffmpeg_backend;
mod image;
mod nal;
mod openh264_backend;
mod video;

pub use audio::{AudioFrame, AudioTrack, PcmFormat, WavWriter, audio_tracks};
pub use codec::Codec;
pub use colour::{Colour, Matrix, YuvPlanes};
pub use error::{AudioProblem, BoxError, Error};
pub use export::{ExportReport, FrameExporter};
pub use image::{ImageFormat, encode_image, encode_yuv, file_name, resize_rgb, save_image};
pub use video::{
    BackendKind, DecodedFragment, FrameDecoder, FrameError, FrameInfo, Picture, Selection, Stats, VideoFrame,
    VideoOptions,
};
