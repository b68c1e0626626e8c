//! `put`: the native way to send video to a stream from Python, over `kvs-producer`: any
//! Matroska (a file path or bytes) cut into fragments at keyframes, sent with PutMedia,
//! and resent from the first fragment not persisted after an ERROR ack or a dropped
//! connection.
//!
//! The put runs on a tokio runtime of its own with the GIL released, coming back every
//! quarter second so that Python can deliver signals (Ctrl-C). Cutting, sending and
//! resending belong to `kvs-producer`.

use std::path::PathBuf;
use std::time::Duration;

use kvs_producer::{Config, Producer, Snapshot, StaticCredentials};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error::{KvsError, MkvError};
use crate::source::Data;

/// How often a waiting put comes back to Python to check for signals.
const SIGNAL_CHECK: Duration = Duration::from_millis(250);

/// What to send: a file by path, or bytes in memory.
enum Input {
    Path(PathBuf),
    Bytes(bytes::Bytes),
}

/// Sends `source` (a path, or bytes holding Matroska) to `stream_name` and returns when
/// KVS has persisted every fragment: a dict of counts (fragments sent, persisted, resent,
/// bytes sent, reconnects). Bad input raises `MkvError` after the fragments before the
/// problem are persisted; a refusal by KVS raises `KvsError`.
#[pyfunction]
#[pyo3(signature = (stream_name, source, *, region = None, endpoint_url = None, credentials = None, create = false, realtime = false, fragment_duration = 2.0, tags = None, ca_file = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn put<'py>(
    py: Python<'py>,
    stream_name: String,
    source: Bound<'py, PyAny>,
    region: Option<String>,
    endpoint_url: Option<String>,
    credentials: Option<(String, String, Option<String>)>,
    create: bool,
    realtime: bool,
    fragment_duration: f64,
    tags: Option<Vec<(String, String)>>,
    ca_file: Option<PathBuf>,
) -> PyResult<Bound<'py, PyDict>> {
    let input = match source.extract::<Data>() {
        Ok(data) if !source.is_instance_of::<pyo3::types::PyString>() => Input::Bytes(data.into_bytes()),
        _ => Input::Path(source.extract::<PathBuf>()?),
    };
    if !fragment_duration.is_finite() || fragment_duration <= 0.0 || fragment_duration > 10.0 {
        return Err(PyValueError::new_err("fragment_duration must be more than 0 and at most 10 seconds"));
    }
    let mut config = Config::default();
    config.region = region;
    config.endpoint_url = endpoint_url;
    config.credentials = credentials.map(|(access_key_id, secret_access_key, session_token)| {
        StaticCredentials { access_key_id, secret_access_key, session_token }
    });
    config.create = create;
    config.realtime = realtime;
    config.fragment_duration = Duration::from_secs_f64(fragment_duration);
    config.tags = tags.unwrap_or_default();
    if let Some(path) = ca_file {
        config.ca_pem =
            Some(std::fs::read(&path).map_err(|e| PyOSError::new_err(format!("{}: {e}", path.display())))?);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| PyOSError::new_err(e.to_string()))?;
    let producer = Producer::new(stream_name, config);
    let mut task = runtime.spawn(async move {
        match input {
            Input::Bytes(bytes) => producer.put(&bytes[..]).await,
            Input::Path(path) => producer.put(tokio::fs::File::open(&path).await?).await,
        }
    });
    let joined = loop {
        if let Err(interrupted) = py.check_signals() {
            runtime.shutdown_background();
            return Err(interrupted);
        }
        let waited = py
            .detach(|| runtime.block_on(async { tokio::time::timeout(SIGNAL_CHECK, &mut task).await.ok() }));
        if let Some(joined) = waited {
            break joined;
        }
    };
    runtime.shutdown_background();
    let done = joined.map_err(|e| KvsError::new_err(e.to_string()))?;
    let snapshot = done.map_err(to_py)?;
    counts(py, &snapshot)
}

/// The counts of a finished put.
fn counts<'py>(py: Python<'py>, s: &Snapshot) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("fragments_sent", s.fragments_sent)?;
    dict.set_item("fragments_persisted", s.fragments_persisted)?;
    dict.set_item("fragments_resent", s.fragments_resent)?;
    dict.set_item("fragments_dropped", s.fragments_dropped)?;
    dict.set_item("bytes_sent", s.bytes_sent)?;
    dict.set_item("reconnects", s.reconnects)?;
    dict.set_item("ack_latency_ms", s.ack_latency_ms)?;
    Ok(dict)
}

/// The Python exception of a failed put.
fn to_py(error: kvs_producer::Error) -> PyErr {
    use kvs_producer::Error as E;
    match error {
        E::EmptyInput
        | E::NotMatroska
        | E::Mkv(_)
        | E::Truncated { .. }
        | E::NoTracks
        | E::NoKeyframe { .. }
        | E::NoFrames => MkvError::new_err(error.to_string()),
        E::Io(e) => PyOSError::new_err(e.to_string()),
        E::Config(message) => PyValueError::new_err(message),
        other => KvsError::new_err(other.to_string()),
    }
}
