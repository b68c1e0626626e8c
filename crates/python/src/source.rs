//! Where bytes come from: Python byte strings taken without copying, and the streams a
//! `FragmentReader` reads (a boto3 response or any object with `read`, a file path, or
//! bytes in memory).
//!
//! Reading a Python object happens with the GIL held (it is Python code; a blocking socket
//! read releases the GIL itself); reading a file happens with the GIL released. This module
//! does no parsing.

use std::io::Read;
use std::path::PathBuf;

use bytes::Bytes;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyDict, PyString};

use crate::error::Error;

/// Bytes passed from Python: `bytes` and `bytearray` are taken without copying (a
/// `bytearray` is copied once by PyO3), any other buffer (memoryview, numpy) through
/// `bytes(obj)`.
pub(crate) struct Data(Bytes);

impl Data {
    /// The bytes, sharing the Python object's memory where it was a `bytes`.
    pub(crate) fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Data {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(backed) = obj.extract::<PyBackedBytes>() {
            return Ok(Self(Bytes::from_owner(backed)));
        }
        // memoryview() accepts exactly the objects with the buffer protocol (not ints).
        let builtins = obj.py().import("builtins")?;
        let view = builtins.getattr("memoryview")?.call1((obj,))?;
        let copied = builtins.getattr("bytes")?.call1((view,))?;
        let backed: PyBackedBytes = copied.extract().map_err(PyErr::from)?;
        Ok(Self(Bytes::from_owner(backed)))
    }
}

/// A byte stream to split into fragments.
pub(crate) enum Source {
    /// A Python object; `read` is its bound `read1` (returns what has arrived, up to n
    /// bytes) or, failing that, its `read` method.
    Python {
        /// The bound method.
        read: Py<PyAny>,
    },
    /// A file opened by path; read with the GIL released.
    File {
        /// The open file.
        file: std::fs::File,
        /// Its path, for errors.
        path: PathBuf,
    },
    /// Bytes given whole; handed out once.
    Memory(Option<Bytes>),
}

impl Source {
    /// Accepts, in this order: a boto3 response (a dict with `"Payload"`), an object with
    /// `read1` or `read` (a botocore `StreamingBody` is read through its urllib3 stream's
    /// `read1` so that bytes are handed on as they arrive), a path (`str` or
    /// `os.PathLike`), or bytes.
    pub(crate) fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        let py = obj.py();
        let body = match obj.cast::<PyDict>() {
            Ok(dict) => dict
                .get_item("Payload")?
                .ok_or_else(|| PyTypeError::new_err("a GetMedia response dict must have a 'Payload'"))?,
            Err(_) => obj.clone(),
        };
        if let Some(read) = read_method(&body)? {
            return Ok(Self::Python { read: read.unbind() });
        }
        if body.is_instance_of::<PyString>() || body.hasattr("__fspath__")? {
            let path: PathBuf = body.extract()?;
            let file = py
                .detach(|| std::fs::File::open(&path))
                .map_err(|e| PyErr::from(Error::io(path.clone(), e)))?;
            return Ok(Self::File { file, path });
        }
        match body.extract::<Data>() {
            Ok(data) => Ok(Self::Memory(Some(data.into_bytes()))),
            Err(_) => Err(PyTypeError::new_err(
                "expected a GetMedia response, an object with read(n), a path or bytes",
            )),
        }
    }

    /// The next chunk, at most `chunk_size` bytes; `None` at the end of the stream.
    pub(crate) fn next_chunk(&mut self, py: Python<'_>, chunk_size: usize) -> PyResult<Option<Bytes>> {
        match self {
            Self::Python { read } => {
                let chunk = read.call1(py, (chunk_size,))?;
                if chunk.is_none(py) {
                    return Ok(None);
                }
                let bytes = chunk.extract::<Data>(py)?.into_bytes();
                Ok((!bytes.is_empty()).then_some(bytes))
            }
            Self::File { file, path } => {
                let result = py.detach(|| {
                    let mut buf = Vec::with_capacity(chunk_size);
                    file.by_ref().take(chunk_size as u64).read_to_end(&mut buf).map(|_| buf)
                });
                let buf = result.map_err(|e| PyErr::from(Error::io(path.clone(), e)))?;
                Ok((!buf.is_empty()).then(|| Bytes::from(buf)))
            }
            Self::Memory(bytes) => Ok(bytes.take()),
        }
    }
}

/// The method to read a stream with: `read1` where it exists (also on the urllib3 stream
/// inside a botocore `StreamingBody`), else `read`.
fn read_method<'py>(body: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    if body.hasattr("read1")? {
        return body.getattr("read1").map(Some);
    }
    if body.hasattr("_raw_stream")? {
        let raw = body.getattr("_raw_stream")?;
        if raw.hasattr("read1")? {
            return raw.getattr("read1").map(Some);
        }
    }
    if body.hasattr("read")? {
        return body.getattr("read").map(Some);
    }
    Ok(None)
}
