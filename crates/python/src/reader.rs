//! `FragmentReader`: iterates the fragments of a GetMedia / GetMediaForFragmentList
//! response, a file or bytes, each one as soon as its last byte has arrived.
//!
//! The driver loop: read a chunk from the source (Python code, with the GIL), feed it to
//! the `kvs-mkv` splitter with the GIL released, hand out what the splitter completed. An
//! in-band AWS error is raised as `KvsStreamError`; bytes that are not a fragment are
//! skipped and recorded in `skipped` (the Python layer logs them). No threads and no retries here: resuming belongs to
//! `kvs-consumer`, threads to the Python `KvsConsumerLibrary`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, TryLockError};

use kvs_mkv::{Event, FragmentSplitter};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::error::Error;
use crate::fragment::Fragment;
use crate::source::Source;

/// Bytes passed over because they were not part of a fragment.
#[derive(Debug, Clone)]
struct SkippedRun {
    offset: u64,
    len: u64,
    reason: String,
}

struct State {
    source: Source,
    splitter: FragmentSplitter,
    chunk_size: usize,
    finished: bool,
    bytes_read: u64,
    fragments: u64,
    skipped: Vec<SkippedRun>,
}

/// Splits a stream into fragments: `for fragment in FragmentReader(response): ...`.
///
/// `source` is a boto3 GetMedia / GetMediaForFragmentList response (or its `Payload`), any
/// object with `read1(n)` or `read(n)`, a path, or bytes. Each fragment comes out the
/// moment it is complete, the last one included; a fragment cut short by the end of the
/// stream comes out with `complete == False`. An error that KVS sent inside the stream
/// raises `KvsStreamError`.
#[pyclass(frozen, module = "kvs_consumer._native")]
pub struct FragmentReader {
    state: Mutex<State>,
    stop: AtomicBool,
}

impl FragmentReader {
    fn next_fragment(&self, py: Python<'_>, state: &mut State) -> PyResult<Option<Fragment>> {
        loop {
            while let Some(event) = state.splitter.poll() {
                match event {
                    Event::Fragment(f) => {
                        state.fragments += 1;
                        return Ok(Some(Fragment::new(f)));
                    }
                    Event::Skipped(s) => {
                        state.skipped.push(SkippedRun {
                            offset: s.offset,
                            len: s.len,
                            reason: s.reason.to_string(),
                        });
                    }
                    Event::AwsError(e) => return Err(Error::Aws(e).into()),
                    _ => {}
                }
            }
            if state.finished || self.stop.load(Ordering::Relaxed) {
                return Ok(None);
            }
            let chunk_size = state.chunk_size;
            let splitter = &mut state.splitter;
            match state.source.next_chunk(py, chunk_size)? {
                Some(chunk) => {
                    state.bytes_read += chunk.len() as u64;
                    py.detach(|| splitter.feed(chunk));
                }
                None => {
                    state.finished = true;
                    py.detach(|| splitter.finish());
                }
            }
        }
    }

    fn lock(&self) -> PyResult<std::sync::MutexGuard<'_, State>> {
        match self.state.try_lock() {
            Ok(guard) => Ok(guard),
            Err(TryLockError::WouldBlock) => {
                Err(PyRuntimeError::new_err("this FragmentReader is being read by another thread"))
            }
            Err(TryLockError::Poisoned(p)) => Ok(p.into_inner()),
        }
    }
}

#[pymethods]
impl FragmentReader {
    /// `chunk_size` is the most bytes asked of the source per read (default 64 KiB).
    #[new]
    #[pyo3(signature = (source, chunk_size = 65536))]
    fn new(source: &Bound<'_, PyAny>, chunk_size: usize) -> PyResult<Self> {
        if !(1..=(64 << 20)).contains(&chunk_size) {
            return Err(PyValueError::new_err("chunk_size must be between 1 byte and 64 MiB"));
        }
        let state = State {
            source: Source::from_py(source)?,
            splitter: FragmentSplitter::new(),
            chunk_size,
            finished: false,
            bytes_read: 0,
            fragments: 0,
            skipped: Vec::new(),
        };
        Ok(Self { state: Mutex::new(state), stop: AtomicBool::new(false) })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Fragment>> {
        let mut state = self.lock()?;
        self.next_fragment(py, &mut state)
    }

    /// Stops the iteration before the next read: safe to call from another thread (a read
    /// already waiting on the network finishes first). Fragments not yet complete are
    /// dropped.
    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Bytes read from the source so far.
    #[getter]
    fn bytes_read(&self) -> PyResult<u64> {
        Ok(self.lock()?.bytes_read)
    }

    /// Fragments handed out so far.
    #[getter]
    fn fragments_read(&self) -> PyResult<u64> {
        Ok(self.lock()?.fragments)
    }

    /// Runs of bytes that were not fragments, as `(offset, length, reason)`.
    #[getter]
    fn skipped(&self) -> PyResult<Vec<(u64, u64, String)>> {
        Ok(self.lock()?.skipped.iter().map(|s| (s.offset, s.len, s.reason.clone())).collect())
    }
}
