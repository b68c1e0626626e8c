//! [`SqliteStore`]: checkpoints in an SQLite file, the embedded default for one machine.
//!
//! One row per stream, replaced on every save in one transaction; the file is in WAL mode
//! with `synchronous = FULL`, so a checkpoint that `save` returned survives a kill -9 or a
//! power cut. The file is opened in exclusive locking mode: a second process that opens
//! the same file fails at once instead of double-reading every stream (several machines
//! share work through DynamoDB leases, not through one file).
//!
//! It does not decide when to write (the tracker does) and holds no lease.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};

use crate::Error;
use crate::checkpoint::{Checkpoint, CheckpointStore, Handled};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS checkpoints (
    stream TEXT PRIMARY KEY NOT NULL,
    fragment_number TEXT,
    continuation_token TEXT,
    producer_timestamp_ms INTEGER,
    server_timestamp_ms INTEGER,
    in_flight TEXT,
    horizon_ms INTEGER,
    written_ms INTEGER NOT NULL
)";

/// Checkpoints in an SQLite file. Cheap to clone; saves from many streams are serialised
/// on one connection (an SQLite write of one small row takes microseconds, plus the fsync).
///
/// ```
/// use kvs_fleet::{Checkpoint, CheckpointStore, SqliteStore};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), kvs_fleet::Error> {
/// let dir = tempfile::tempdir().unwrap();
/// let store = SqliteStore::open(dir.path().join("checkpoints.sqlite"))?;
/// assert_eq!(store.load("door").await?, None);
/// let checkpoint = Checkpoint { in_flight: Some("1234".parse().unwrap()), ..Checkpoint::default() };
/// store.save("door", &checkpoint).await?;
/// assert_eq!(store.load("door").await?, Some(checkpoint));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    connection: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (or creates) the file and takes it for this process.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_owned();
        let connection = Connection::open(&path)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        connection.busy_timeout(std::time::Duration::ZERO)?;
        // The first write takes the exclusive lock; do it now so that a second process
        // fails here, not at its first checkpoint.
        connection.execute_batch(SCHEMA).map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy => {
                Error::Config(format!("{} is in use by another process", path.display()))
            }
            e => Error::Sqlite(e),
        })?;
        Ok(Self { connection: Arc::new(Mutex::new(connection)), path })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every stream with a checkpoint, sorted.
    pub fn streams(&self) -> Result<Vec<String>, Error> {
        let connection = self.lock();
        let mut query = connection.prepare("SELECT stream FROM checkpoints ORDER BY stream")?;
        let rows = query.query_map([], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions).
        self.connection.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn load_now(&self, stream: &str) -> Result<Option<Checkpoint>, Error> {
        type Row = (Option<String>, Option<String>, Option<i64>, Option<i64>, Option<String>, Option<i64>);
        let connection = self.lock();
        let row: Option<Row> = connection
            .query_row(
                "SELECT fragment_number, continuation_token, producer_timestamp_ms, server_timestamp_ms,
                        in_flight, horizon_ms FROM checkpoints WHERE stream = ?1",
                params![stream],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .optional()?;
        let Some((number, token, producer, server, in_flight, horizon_ms)) = row else { return Ok(None) };
        let bad = |message: String| Error::BadCheckpoint { stream: stream.to_owned(), message };
        let parse = |text: String| text.parse().map_err(|e| bad(format!("{e}")));
        let handled = match (number, token) {
            (Some(number), Some(continuation_token)) => Some(Handled {
                fragment_number: parse(number)?,
                continuation_token,
                producer_timestamp_ms: producer,
                server_timestamp_ms: server,
            }),
            (None, None) => None,
            _ => return Err(bad("a fragment number without a continuation token".into())),
        };
        Ok(Some(Checkpoint { handled, in_flight: in_flight.map(parse).transpose()?, horizon_ms }))
    }

    fn save_now(&self, stream: &str, c: &Checkpoint) -> Result<(), Error> {
        let h = c.handled.as_ref();
        let written_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        self.lock().execute(
            "INSERT OR REPLACE INTO checkpoints VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                stream,
                h.map(|h| h.fragment_number.as_str()),
                h.map(|h| h.continuation_token.as_str()),
                h.and_then(|h| h.producer_timestamp_ms),
                h.and_then(|h| h.server_timestamp_ms),
                c.in_flight.as_ref().map(|n| n.as_str()),
                c.horizon_ms,
                written_ms,
            ],
        )?;
        Ok(())
    }
}

impl CheckpointStore for SqliteStore {
    async fn load(&self, stream: &str) -> Result<Option<Checkpoint>, Error> {
        let (store, stream) = (self.clone(), stream.to_owned());
        blocking(move || store.load_now(&stream)).await
    }

    async fn save(&self, stream: &str, checkpoint: &Checkpoint) -> Result<(), Error> {
        let (store, stream, checkpoint) = (self.clone(), stream.to_owned(), checkpoint.clone());
        blocking(move || store.save_now(&stream, &checkpoint)).await
    }
}

/// Runs a file operation off the async workers (an fsync can take milliseconds).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::Config(format!("checkpoint task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(n: u64) -> Checkpoint {
        let number: kvs_mkv::FragmentNumber = kvs_mkv::testing::fragment_number(n).parse().unwrap();
        Checkpoint {
            handled: Some(Handled {
                fragment_number: number.clone(),
                continuation_token: number.as_str().to_owned(),
                producer_timestamp_ms: Some(1_700_000_000_123),
                server_timestamp_ms: Some(1_700_000_000_456),
            }),
            in_flight: Some(kvs_mkv::testing::fragment_number(n + 1).parse().unwrap()),
            horizon_ms: None,
        }
    }

    #[test]
    fn checkpoints_survive_reopening_and_a_second_process_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        {
            let store = SqliteStore::open(&path).unwrap();
            store.save_now("a", &checkpoint(1)).unwrap();
            store.save_now("b", &Checkpoint::default()).unwrap();
            store.save_now("a", &checkpoint(2)).unwrap();
            assert!(SqliteStore::open(&path).is_err(), "the file is taken");
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.load_now("a").unwrap(), Some(checkpoint(2)));
        assert_eq!(store.load_now("b").unwrap(), Some(Checkpoint::default()));
        assert_eq!(store.load_now("c").unwrap(), None);
        assert_eq!(store.streams().unwrap(), ["a", "b"]);
    }

    #[test]
    fn a_corrupt_row_is_a_typed_error_naming_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("c.sqlite")).unwrap();
        store
            .lock()
            .execute(
                "INSERT INTO checkpoints (stream, in_flight, written_ms) VALUES ('x', 'not-a-number', 0)",
                [],
            )
            .unwrap();
        assert!(matches!(store.load_now("x"), Err(Error::BadCheckpoint { stream, .. }) if stream == "x"));
    }
}
