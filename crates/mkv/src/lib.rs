//! Sans-IO EBML/Matroska for Kinesis Video Streams: turns the bytes of a GetMedia or
//! GetMediaForFragmentList response into fragments, as they arrive, at memory speed.
//!
//! This crate does no I/O: no sockets, no files, no threads, no clock. Bytes go in through
//! [`FragmentSplitter::feed`]; [`Event`]s (fragments, skipped garbage, in-band AWS errors)
//! come out of [`FragmentSplitter::poll`]. Reading from HTTP, retrying and resuming belong
//! to `kvs-consumer`; decoding frames belongs to `kvs-media`.
//!
//! What it owns:
//! - the EBML reader (ids, sizes, unknown sizes) and a Matroska [`schema`] table;
//! - the [`FragmentSplitter`] and, for the producer side, the [`SegmentReader`];
//! - [`Fragment`]: raw bytes (zero-copy), every [`SimpleTag`], typed [`KvsTags`], its
//!   [`Track`]s and [`Frame`]s, and its [`ElementTree`];
//! - writing: [`EbmlWriter`] and [`Fragment::to_playable_mkv`];
//! - with the `testing` feature (for dev-dependencies), synthetic KVS streams in `testing`.
//!
//! ```
//! use kvs_mkv::{Event, FragmentSplitter};
//!
//! let mut splitter = FragmentSplitter::new();
//! splitter.feed(kvs_mkv::testing::stream_of(2));
//! splitter.finish();
//! while let Some(event) = splitter.poll() {
//!     match event {
//!         Event::Fragment(f) => {
//!             let number = f.kvs().fragment_number.as_ref().unwrap();
//!             println!("{number}: {} frames", f.frames().unwrap().len());
//!         }
//!         Event::Skipped(s) => eprintln!("skipped {} bytes: {}", s.len, s.reason),
//!         Event::AwsError(e) => eprintln!("{e}"),
//!         _ => {}
//!     }
//! }
//! ```
#![deny(missing_docs)]

mod buffer;
mod element;
mod error;
mod fragment;
mod frame;
pub mod schema;
mod segment;
mod splitter;
mod tags;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod track;
mod tree;
pub mod vint;
mod writer;

pub use element::{Header, MAX_DEPTH};
pub use error::Error;
pub use fragment::Fragment;
pub use frame::Frame;
pub use schema::{ElementType, ids};
pub use segment::{RawElement, SegmentItem, SegmentReader};
pub use splitter::{Event, FragmentSplitter, Limits, Skipped};
pub use tags::{
    AwsError, FragmentNumber, InvalidFragmentNumber, InvalidTimestamp, KvsTags, MAX_FRAGMENT_NUMBER_DIGITS,
    SimpleTag, Timestamp, names, parse_tags,
};
pub use track::{AudioInfo, Track, TrackKind, VideoInfo};
pub use tree::{Element, ElementTree, Value};
pub use writer::EbmlWriter;
