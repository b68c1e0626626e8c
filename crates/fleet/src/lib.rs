//! Many Kinesis Video Streams in one process, and one fleet of cameras over many
//! processes and machines, with checkpoints that survive a restart.
//!
//! A [`Fleet`] discovers its streams (a list of names, a prefix, or every stream;
//! ListStreams is asked again every minute, so new streams are picked up and deleted ones
//! dropped without a restart) and reads each with its own `kvs-consumer` read, every
//! fragment exactly once and in order, over one SDK configuration and one HTTP connection
//! pool. What it hands out are [`Event`]s: fragments as [`Delivery`]s `(stream, fragment,
//! redelivered)`, lease changes and per-stream errors; as an async `Stream`
//! ([`Fleet::next`]), a blocking iterator ([`BlockingFleet`]) or callbacks
//! ([`FleetHandler`]), where a slow handler holds only its own stream.
//!
//! Checkpoints ([`CheckpointStore`]) record per stream the last fragment whose handler
//! returned (a delivery is handled when it is dropped), so a restart resumes right after
//! it: nothing lost, nothing repeated. After a crash, only fragments handed out after the
//! last checkpoint can come again, and each is flagged [`Delivery::redelivered`]. The
//! embedded store is an SQLite file ([`SqliteStore`]); a fleet spread over machines keeps
//! them in a DynamoDB lease table ([`lease`]), where workers share the streams the way the
//! Kinesis Client Library shares shards.
//!
//! Write cost, per stream and hour at one fragment a second: [`CheckpointPolicy::EveryFragment`]
//! (default) 3,600 writes (on DynamoDB the lease renewals ride on them);
//! [`CheckpointPolicy::Every`]`(N)` `3600 / N` checkpoint writes, plus on DynamoDB the lease
//! renewals that no checkpoint made (one every failover / 3 = 1,080 an hour at the default
//! 10 s failover).
//!
//! What it does not do: parse (`kvs-mkv`), read one stream (`kvs-consumer`), decode frames
//! (`kvs-media`), or export metrics (it records them through the `metrics` facade; the
//! binary serves them).
//!
//! ```no_run
//! use kvs_fleet::{Event, Fleet, FleetConfig, SqliteStore, StreamSelection};
//!
//! # async fn example() -> Result<(), kvs_fleet::Error> {
//! let config = FleetConfig::new(StreamSelection::Prefix("door-".into()));
//! let mut fleet = Fleet::start(config, SqliteStore::open("checkpoints.sqlite")?).await?;
//! while let Some(event) = fleet.next().await {
//!     if let Event::Fragment(delivery) = event {
//!         println!("{}: {:?}", delivery.stream(), delivery.fragment().kvs().fragment_number);
//!     } // dropped: handled, checkpointed
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod adapters;
mod checkpoint;
mod config;
mod delivery;
mod error;
mod fleet;
pub mod lease;
mod sqlite;
mod tracker;

pub use adapters::{BlockingFleet, FleetHandler, StopHandle};
pub use checkpoint::{Checkpoint, CheckpointStore, Handled};
pub use config::{FleetConfig, MAX_SETTING_SECONDS, StreamSelection, default_worker_id, positive_seconds};
pub use delivery::{Delivery, Event};
pub use error::Error;
pub use fleet::{CHECKPOINT_AGE, CHECKPOINT_WRITES, Fleet, STREAMS_READ};
pub use sqlite::SqliteStore;
pub use tracker::{CheckpointPolicy, IDLE_FLUSH};
