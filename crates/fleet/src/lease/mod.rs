//! Leases on DynamoDB, shaped like the Kinesis Client Library's: one item per stream, and
//! every write conditional on `leaseCounter` (and `leaseOwner` where it matters), so two
//! workers never both believe they own a stream for longer than one failed write.
//!
//! Three parts, one concern each:
//! - [`LeaseTaker`] (sans-IO, no clock): infers which leases have expired from how their
//!   counters move between scans, and plans what this worker should take or steal so that
//!   the fleet converges to a fair share without stealing storms.
//! - [`LeaseTable`]: the DynamoDB I/O, one method per conditional write; a failed condition
//!   is an answer (`None`/`false`), not an error.
//! - [`LeaseCoordinator`]: one per worker; renews what it holds, scans and takes on a timer,
//!   reports what happens as [`LeaseEvent`]s, and is the [`CheckpointStore`] of the streams it
//!   holds (a checkpoint is also a renewal).
//!
//! What this module does not do: discover streams (it is told them with
//! [`LeaseCoordinator::set_streams`]), read them, or decide when to checkpoint.
//!
//! [`CheckpointStore`]: crate::CheckpointStore

mod coordinator;
mod table;
mod taker;

pub use coordinator::{DEFAULT_FAILOVER, LeaseCoordinator, LeaseEvent, LeaseEventKind};
pub use table::LeaseTable;
pub use taker::{LeaseTaker, Take, TakeKind};

use crate::checkpoint::Checkpoint;

/// Keys of the workers' presence items in the lease table: `#worker:<id>`, owned by that
/// worker, its counter bumped at every renewal tick. `#` cannot begin a stream name, so
/// these never collide with leases. They let a worker count the fleet before anyone holds
/// a lease, so that workers started together take a fair share each instead of one taking
/// all and the others stealing one by one.
pub(crate) const WORKER_KEY_PREFIX: &str = "#worker:";

/// One stream's lease, as last read from or written to the lease table.
///
/// `counter` is the fencing token: it moves on every write (take, renewal, checkpoint,
/// release), and every write is conditional on the value the writer last saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The stream name (`leaseKey`, the table's hash key).
    pub key: String,
    /// The worker that holds it (`leaseOwner`); `None` when nobody does.
    pub owner: Option<String>,
    /// `leaseCounter`: how many writes the lease has seen.
    pub counter: u64,
    /// `ownerSwitchesSinceCheckpoint`: takes since the last checkpoint (KCL's gauge of a
    /// stream that keeps changing hands without progress).
    pub owner_switches_since_checkpoint: u64,
    /// Where reading of the stream stands.
    pub checkpoint: Checkpoint,
}

impl Lease {
    /// A lease nobody holds yet, as `create_if_missing` writes it.
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            owner: None,
            counter: 0,
            owner_switches_since_checkpoint: 0,
            checkpoint: Checkpoint::default(),
        }
    }
}
