//! The crate's one error type and its mapping to Python exceptions.
//!
//! The exception classes themselves are defined in Python (`kvs_consumer/_errors.py`) so
//! that they carry docstrings and attributes; this module only raises them.

use std::path::PathBuf;

use pyo3::PyErr;
use pyo3::exceptions::{PyOSError, PyValueError};

pyo3::import_exception!(kvs_consumer._errors, KvsStreamError);
pyo3::import_exception!(kvs_consumer._errors, MkvError);
pyo3::import_exception!(kvs_consumer._errors, MediaError);
pyo3::import_exception!(kvs_consumer._errors, KvsError);

/// What can go wrong in the Python layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes that are not a readable MKV fragment.
    #[error(transparent)]
    Mkv(#[from] kvs_mkv::Error),
    /// Frames or audio could not be decoded or saved.
    #[error(transparent)]
    Media(#[from] kvs_media::Error),
    /// Reading a stream through `kvs-consumer` failed.
    #[error(transparent)]
    Consumer(#[from] kvs_consumer::Error),
    /// Starting a fleet failed (its checkpoint store, its lease table).
    #[error(transparent)]
    Fleet(#[from] kvs_fleet::Error),
    /// KVS sent an error inside the media stream instead of a fragment.
    #[error("{0}")]
    Aws(kvs_mkv::AwsError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// An argument that cannot be used (a track that does not exist, say).
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}

impl From<Error> for PyErr {
    fn from(error: Error) -> Self {
        match error {
            Error::Mkv(e) => MkvError::new_err(e.to_string()),
            Error::Media(kvs_media::Error::Io { path, source }) => Error::Io { path, source }.into(),
            Error::Media(e) => MediaError::new_err(e.to_string()),
            Error::Consumer(kvs_consumer::Error::InBand(e)) => Error::Aws(e).into(),
            Error::Consumer(kvs_consumer::Error::Mkv(e)) => Error::Mkv(e).into(),
            Error::Consumer(kvs_consumer::Error::Io(e)) => PyOSError::new_err(e.to_string()),
            Error::Consumer(e) => KvsError::new_err(e.to_string()),
            Error::Fleet(kvs_fleet::Error::Consumer(e)) => Error::Consumer(e).into(),
            Error::Fleet(e) => KvsError::new_err(e.to_string()),
            Error::Aws(e) => {
                let tags: Vec<(String, Option<String>)> =
                    e.tags.iter().map(|t| (t.name.clone(), t.value.clone())).collect();
                KvsStreamError::new_err((e.to_string(), e.code, e.id, e.message, tags))
            }
            // OSError(errno, strerror, filename) becomes FileNotFoundError and friends.
            Error::Io { path, source } => match source.raw_os_error() {
                Some(errno) => PyOSError::new_err((errno, source.to_string(), path)),
                None => PyOSError::new_err(format!("{}: {source}", path.display())),
            },
            Error::Invalid(message) => PyValueError::new_err(message),
        }
    }
}
