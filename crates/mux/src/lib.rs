//! Sans-IO remuxing of Kinesis Video Streams MKV fragments into the containers that
//! KVS's media APIs serve: fragmented MP4 (HLS fMP4 and DASH segments), progressive MP4
//! (GetClip) and MPEG-TS (HLS TS segments).
//!
//! This crate does no I/O: no files, no sockets, no threads, no clock. [`Fragment`]s go
//! in (from `kvs-mkv`), bytes come out. Frames are copied into the output as they are,
//! never decoded or re-encoded; serving the bytes, playlists and sessions belongs to the
//! server (`kvs-local`), reading captures to the CLI.
//!
//! What it owns:
//! - [`Remuxer`]: the tracks (H.264 `V_MPEG4/ISO/AVC`, H.265 `V_MPEGH/ISO/HEVC`, AAC
//!   `A_AAC`; anything else is [`Error::UnsupportedCodec`]) and the time origin;
//! - fragmented MP4: [`Remuxer::init_segment`] and [`Remuxer::media_segment`];
//! - progressive MP4: [`Remuxer::clip`] within [`ClipLimits`] (AWS: 200 fragments,
//!   100 MB);
//! - MPEG-TS: [`TsMuxer`];
//! - sample timing shared by all three: MKV times are presentation times, decode times
//!   are derived (equal to them without B-frames), durations come from the next frame;
//! - with the `testing` feature (for dev-dependencies), synthetic fragments and an MP4
//!   reader for tests in `testing`.
//!
//! Boxes are written with [`mp4_atom`], a maintained ISO-BMFF encoder/decoder that
//! writes every box involved (`avc1`/`hvc1`/`mp4a`, `trun`, `ctts`, `co64`...) from typed
//! values, so the layout decisions here stay readable; only the `mdat` header is written
//! around the frames by hand, so payloads are copied once. MPEG-TS packets are written
//! with [`mpeg2ts`] (see [`TsMuxer`] for what it leaves to this crate).
//!
//! ```
//! use kvs_mux::{ClipLimits, Remuxer};
//!
//! let fragments: Vec<_> = (0..2).map(|i| kvs_mux::testing::fragment(i, 30, 47)).collect();
//! let remuxer = Remuxer::for_fragment(&fragments[0])?;
//!
//! // HLS fMP4 / DASH: one init segment, then one media segment per fragment.
//! let init = remuxer.init_segment()?;
//! let first = remuxer.media_segment(1, &fragments[0], Some(&fragments[1]))?;
//!
//! // GetClip: one progressive MP4.
//! let clip = remuxer.clip(&fragments, ClipLimits::AWS)?;
//! assert_eq!(clip.frames, 2 * (30 + 47));
//!
//! // HLS TS: one segment per fragment.
//! let ts = remuxer.ts_muxer().segment(&fragments[0])?;
//! assert!(!init.is_empty() && !first.is_empty() && ts.len() % 188 == 0);
//! # Ok::<(), kvs_mux::Error>(())
//! ```
//!
//! [`Fragment`]: kvs_mkv::Fragment
#![deny(missing_docs)]

mod adts;
mod annexb;
mod clip;
mod codec;
mod error;
mod fmp4;
mod moov;
mod remuxer;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod timeline;
mod ts;

pub use clip::{Clip, ClipLimits};
pub use error::Error;
pub use remuxer::Remuxer;
pub use ts::{FIRST_ES_PID, PMT_PID, TsMuxer};
