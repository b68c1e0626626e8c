//! Consume Kinesis Video Streams: every fragment exactly once, in order, as soon as it is
//! complete.
//!
//! A read has a [`Source`] (live GetMedia from a [`StartSelector`], an archived
//! [`TimeRange`], or any local byte source) and a [`Config`]. One engine drives it: it reads
//! each response body chunk by chunk, splits it with `kvs-mkv`, and hands each fragment over
//! the moment its trailing continuation-token tag has been parsed. When a response ends or
//! fails (a dropped connection, 5xx, the service's ~45-minute cut, an idle end), it resumes
//! after the last delivered fragment and drops anything already delivered, so nothing is
//! skipped and nothing repeats. Throttling backs off with jitter within the 5 TPS limit;
//! errors that retrying cannot fix end the read with a typed [`Error`]; in-band KVS errors
//! arrive as [`Error::InBand`], never as fragments. A bounded queue sits between the
//! network and the application, so a slow handler slows the reader and memory stays bounded.
//!
//! Three ways in, one engine: [`Consumer::stream`] (an async `Stream`),
//! [`Consumer::blocking`] (an iterator), and [`Consumer::spawn`] (a thread that calls a
//! [`Handler`], like the Python sample's KvsConsumerLibrary). A local capture read once
//! on the calling thread, with no runtime, goes through [`LocalReader`] instead: it hands
//! out every splitter [`Event`] (skipped runs included) with its offset in the input.
//!
//! What it does not do: parse EBML (that is `kvs-mkv`), decode frames (`kvs-media`), or
//! serve streams (`kvs-local`).
//!
//! A live read from AWS (region and credentials from the default chains unless set):
//!
//! ```no_run
//! use kvs_consumer::{Config, Consumer, FragmentExt, Source, StartSelector};
//!
//! # async fn example() -> Result<(), kvs_consumer::Error> {
//! let mut config = Config::default();
//! config.region = Some("us-west-2".into());
//! let mut fragments = Consumer::with_config(Source::live("my-camera", StartSelector::Now), config).stream()?;
//! while let Some(item) = fragments.next().await {
//!     let fragment = item?;
//!     let path = fragment.save_mkv_in("out".as_ref())?;
//!     println!("{} -> {}", fragment.kvs().fragment_number.as_ref().unwrap(), path.display());
//! }
//! # Ok(()) }
//! ```
//!
//! The same engine over a local capture, blocking:
//!
//! ```
//! use kvs_consumer::{Consumer, Source};
//!
//! let capture = std::io::Cursor::new(kvs_mkv::testing::stream_of(3).to_vec());
//! let mut frames = 0;
//! for item in Consumer::new(Source::reader(capture)).blocking()? {
//!     frames += item?.frames()?.len();
//! }
//! assert_eq!(frames, 9);
//! # Ok::<(), kvs_consumer::Error>(())
//! ```
#![deny(missing_docs)]

pub mod archived;
mod aws;
mod config;
mod delivery;
mod driver;
mod error;
mod local;
pub mod metrics;
mod resume;
mod save;
mod stats;
pub mod tls;

pub use aws::Client;
pub use config::{
    Config, RetryPolicy, Source, StartSelector, StaticCredentials, TimeRange, TimestampKind, parse_rfc3339,
};
pub use delivery::{BlockingFragments, Consumer, ConsumerThread, FragmentStream, Handler};
pub use error::Error;
pub use kvs_mkv::{AwsError, Event, Fragment, FragmentNumber, KvsTags, Limits, Skipped};
pub use local::LocalReader;
pub use save::FragmentExt;
pub use stats::{Snapshot, Stats};
