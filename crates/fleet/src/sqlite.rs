//! [`SqliteStore`]: checkpoints in an SQLite file, the embedded default for one machine.
//!
//! One row per stream. The file is in WAL mode with `synchronous = FULL`, so a checkpoint
//! that `save` returned survives a kill -9 or a power cut. One thread owns the connection
//! and commits the saves that queued up while it was busy in one transaction (group
//! commit): 500 streams at one fragment a second cost a few fsyncs a second, not 500, and
//! no save waits longer than one commit for another's. The file is opened in exclusive
//! locking mode: a second process that opens it fails at once instead of double-reading
//! every stream (several machines share work through DynamoDB leases, not one file).
//!
//! It does not decide when to write (the tracker does) and holds no lease.

use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

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

/// Saves committed in one transaction at most (a bound on one commit's latency).
const MAX_BATCH: usize = 1024;

/// Checkpoints in an SQLite file. Cheap to clone; the file closes when the last clone is
/// dropped.
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
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    requests: Option<mpsc::Sender<Request>>,
    writer: Option<JoinHandle<()>>,
    path: PathBuf,
}

impl Drop for Inner {
    /// Closes the file before returning, so that it can be opened again at once.
    fn drop(&mut self) {
        self.requests.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// A save waiting for its commit, and where to say how it went.
type PendingSave = (String, Checkpoint, oneshot::Sender<Result<(), Error>>);

/// What the connection's thread is asked to do.
enum Request {
    Load(String, oneshot::Sender<Result<Option<Checkpoint>, Error>>),
    Save(String, Checkpoint, oneshot::Sender<Result<(), Error>>),
    Streams(oneshot::Sender<Result<Vec<String>, Error>>),
}

impl SqliteStore {
    /// Opens (or creates) the file and takes it for this process.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_owned();
        let connection = Connection::open(&path)?;
        // Fail at once, not after SQLite's default 5 s wait, when another process holds it.
        connection.busy_timeout(std::time::Duration::ZERO)?;
        let in_use = |e: rusqlite::Error| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy => {
                Error::Config(format!("{} is in use by another process", path.display()))
            }
            e => Error::Sqlite(e),
        };
        connection.pragma_update(None, "journal_mode", "WAL").map_err(in_use)?;
        connection.pragma_update(None, "synchronous", "FULL").map_err(in_use)?;
        connection.pragma_update(None, "locking_mode", "EXCLUSIVE").map_err(in_use)?;
        // The first write takes the exclusive lock; do it now so that a second process
        // fails here, not at its first checkpoint.
        connection.execute_batch(SCHEMA).map_err(in_use)?;
        let (requests, received) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("kvs-checkpoints".into())
            .spawn(move || serve(connection, received))
            .map_err(|e| Error::Config(format!("cannot start the checkpoint thread: {e}")))?;
        let inner = Inner { requests: Some(requests), writer: Some(writer), path };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Every stream with a checkpoint, sorted.
    pub async fn streams(&self) -> Result<Vec<String>, Error> {
        let (tx, rx) = oneshot::channel();
        self.ask(Request::Streams(tx), rx).await
    }

    async fn ask<T>(
        &self,
        request: Request,
        answer: oneshot::Receiver<Result<T, Error>>,
    ) -> Result<T, Error> {
        let gone = || Error::Config("the checkpoint thread stopped".into());
        self.inner.requests.as_ref().ok_or_else(gone)?.send(request).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

impl CheckpointStore for SqliteStore {
    async fn load(&self, stream: &str) -> Result<Option<Checkpoint>, Error> {
        let (tx, rx) = oneshot::channel();
        self.ask(Request::Load(stream.to_owned(), tx), rx).await
    }

    async fn save(&self, stream: &str, checkpoint: &Checkpoint) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        self.ask(Request::Save(stream.to_owned(), checkpoint.clone(), tx), rx).await
    }
}

/// The connection's thread: answers loads at once, and commits the saves that queued up
/// meanwhile in one transaction. Ends when every store handle is gone.
fn serve(mut connection: Connection, requests: mpsc::Receiver<Request>) {
    while let Ok(first) = requests.recv() {
        let mut saves = Vec::new();
        let mut next = Some(first);
        while let Some(request) = next.take() {
            match request {
                Request::Load(stream, answer) => {
                    let _ = answer.send(load(&connection, &stream));
                }
                Request::Streams(answer) => {
                    let _ = answer.send(streams(&connection));
                }
                Request::Save(stream, checkpoint, answer) => saves.push((stream, checkpoint, answer)),
            }
            if saves.len() < MAX_BATCH {
                next = requests.try_recv().ok();
            }
        }
        if saves.is_empty() {
            continue;
        }
        let written = save_all(&mut connection, &saves);
        for (_, _, answer) in saves {
            let _ = answer.send(
                written
                    .as_ref()
                    .map(|_| ())
                    .map_err(|e| Error::Config(format!("checkpoint not written: {e}"))),
            );
        }
    }
}

fn save_all(connection: &mut Connection, saves: &[PendingSave]) -> Result<(), rusqlite::Error> {
    let written_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let transaction = connection.transaction()?;
    {
        let mut insert = transaction
            .prepare_cached("INSERT OR REPLACE INTO checkpoints VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?;
        for (stream, c, _) in saves {
            let h = c.handled.as_ref();
            insert.execute(params![
                stream,
                h.map(|h| h.fragment_number.as_str()),
                h.map(|h| h.continuation_token.as_str()),
                h.and_then(|h| h.producer_timestamp_ms),
                h.and_then(|h| h.server_timestamp_ms),
                c.in_flight.as_ref().map(|n| n.as_str()),
                c.horizon_ms,
                written_ms,
            ])?;
        }
    }
    transaction.commit()
}

fn streams(connection: &Connection) -> Result<Vec<String>, Error> {
    let mut query = connection.prepare_cached("SELECT stream FROM checkpoints ORDER BY stream")?;
    let rows = query.query_map([], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn load(connection: &Connection, stream: &str) -> Result<Option<Checkpoint>, Error> {
    type Row = (Option<String>, Option<String>, Option<i64>, Option<i64>, Option<String>, Option<i64>);
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

    #[tokio::test]
    async fn checkpoints_survive_reopening_and_a_second_opener_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        {
            let store = SqliteStore::open(&path).unwrap();
            store.save("a", &checkpoint(1)).await.unwrap();
            store.save("b", &Checkpoint::default()).await.unwrap();
            store.save("a", &checkpoint(2)).await.unwrap();
            let taken = SqliteStore::open(&path).unwrap_err().to_string();
            assert!(taken.contains("in use by another process"), "{taken}");
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.load("a").await.unwrap(), Some(checkpoint(2)));
        assert_eq!(store.load("b").await.unwrap(), Some(Checkpoint::default()));
        assert_eq!(store.load("c").await.unwrap(), None);
        assert_eq!(store.streams().await.unwrap(), ["a", "b"]);
    }

    /// Saves sent together are committed together, and each lands.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_saves_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("c.sqlite")).unwrap();
        let mut saves = tokio::task::JoinSet::new();
        for i in 0..200u64 {
            let store = store.clone();
            saves.spawn(async move { store.save(&format!("s{i:03}"), &checkpoint(i)).await });
        }
        while let Some(saved) = saves.join_next().await {
            saved.unwrap().unwrap();
        }
        for i in [0u64, 57, 199] {
            assert_eq!(store.load(&format!("s{i:03}")).await.unwrap(), Some(checkpoint(i)));
        }
        assert_eq!(store.streams().await.unwrap().len(), 200);
    }

    #[tokio::test]
    async fn a_corrupt_row_is_a_typed_error_naming_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        {
            let connection = Connection::open(&path).unwrap();
            connection.execute_batch(SCHEMA).unwrap();
            connection
                .execute(
                    "INSERT INTO checkpoints (stream, in_flight, written_ms) VALUES ('x', 'not-a-number', 0)",
                    [],
                )
                .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert!(matches!(store.load("x").await, Err(Error::BadCheckpoint { stream, .. }) if stream == "x"));
    }
}
