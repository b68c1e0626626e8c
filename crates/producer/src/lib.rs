//! Put video into Kinesis Video Streams without the C++ producer SDK, with nothing lost
//! across dropped connections.
//!
//! A put reads any Matroska input (a file, or a pipe from ffmpeg or GStreamer, in any
//! Cluster layout), cuts it into KVS fragments that start at keyframes
//! ([`Refragmenter`]), and sends them with PutMedia: an HTTP/1.1 chunked POST signed with
//! SigV4, over HTTPS (rustls) to AWS or HTTP to a local server. It reads the JSON
//! acknowledgements as they stream back ([`AckParser`]); a fragment leaves the bounded
//! [`UploadBuffer`] only once PERSISTED. On an ERROR ack, a dropped or silent connection,
//! it reconnects with backoff and resends from the first fragment not yet persisted: a
//! fragment is sent twice only when KVS had not acknowledged it as persisted.
//!
//! The re-fragmenter, the ack parser and the buffer are sans-IO (no sockets, no clock);
//! [`Producer`] is the one async loop that does the I/O. What it does not do: encode
//! video (the synthetic camera is `kvs-local`'s), parse EBML (`kvs-mkv`), or read streams
//! (`kvs-consumer`, whose SDK configuration loading and [`RetryPolicy`] it reuses).
//!
//! ```no_run
//! use kvs_producer::{Config, Producer};
//!
//! # async fn example() -> Result<(), kvs_producer::Error> {
//! let mut config = Config::default();
//! config.create = true;
//! config.tags = kvs_producer::parse_tags("camera=door")?;
//! let file = tokio::fs::File::open("clip.mkv").await?;
//! let done = Producer::new("my-camera", config).put(file).await?;
//! println!("{} fragments persisted", done.fragments_persisted);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod ack;
mod aws;
mod buffer;
mod config;
mod driver;
mod error;
mod http;
mod refragment;
mod stats;

pub use ack::{Ack, AckEvent, AckParser, parse_acks};
pub use buffer::{AckOutcome, UploadBuffer};
pub use config::{Config, MAX_TAGS, parse_tags};
pub use driver::Producer;
pub use error::Error;
pub use kvs_consumer::{RetryPolicy, StaticCredentials};
pub use refragment::{OutFragment, RefragmentConfig, Refragmenter};
pub use stats::{Snapshot, Stats};
