//! The crate's one error type.

/// What can go wrong in a fleet. Errors of one stream never end the others: they are
/// logged, counted, and that stream backs off alone.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A consumer error (AWS calls, parsing, configuration of a read).
    #[error(transparent)]
    Consumer(#[from] kvs_consumer::Error),
    /// The SQLite checkpoint file could not be opened, read or written.
    #[error("checkpoint database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A DynamoDB call failed.
    #[error("DynamoDB {operation}: {message}")]
    DynamoDb {
        /// The operation (`UpdateItem`, `Scan`...).
        operation: &'static str,
        /// What went wrong.
        message: String,
    },
    /// Another worker owns the stream's lease now (a conditional write failed): this
    /// worker must stop reading it.
    #[error("lease of stream {stream} lost to another worker")]
    LeaseLost {
        /// The stream.
        stream: String,
    },
    /// A stored checkpoint could not be understood.
    #[error("checkpoint of stream {stream}: {message}")]
    BadCheckpoint {
        /// The stream.
        stream: String,
        /// What is wrong with it.
        message: String,
    },
    /// A bad setting.
    #[error("fleet configuration: {0}")]
    Config(String),
}
