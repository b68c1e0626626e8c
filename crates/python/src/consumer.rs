//! `Consumer`: the native way to read a stream from Python, over `kvs-consumer`: live
//! GetMedia resumed across dropped connections (every fragment once, in order), or an
//! archived time range, with a bounded queue between the network and Python.
//!
//! The read runs on a tokio runtime of its own; `__next__` waits for the next item with
//! the GIL released, waking every quarter second to let Python deliver signals (Ctrl-C),
//! and `stop()` from any thread ends the wait at once. Async iteration is added in Python
//! (`kvs_consumer/consumer.py`). Retrying, resuming and throttling belong to
//! `kvs-consumer`.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, TryLockError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kvs_consumer::{
    Config, FragmentStream, Source, StartSelector, StaticCredentials, TimeRange, TimestampKind,
};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use tokio::runtime::Runtime;
use tokio::sync::Notify;

use crate::error::Error;
use crate::fragment::Fragment;

/// How often a waiting `__next__` comes back to Python to check for signals.
const SIGNAL_CHECK: Duration = Duration::from_millis(250);

/// A running read: its runtime and the receiving end of its queue.
struct Live {
    runtime: Runtime,
    stream: FragmentStream,
}

impl Live {
    fn close(self) {
        let Live { runtime, stream } = self;
        drop(stream);
        runtime.shutdown_background();
    }
}

/// What one wait for the next item ended with.
enum Wake {
    Item(Option<Result<Box<kvs_mkv::Fragment>, kvs_consumer::Error>>),
    Stopped,
    Tick,
}

/// Reads a Kinesis video stream: `for fragment in Consumer("my-camera"): ...`.
///
/// Live reads resume after the last delivered fragment when a connection ends or fails,
/// so every fragment comes once and in order. `start` is `"now"` (default),
/// `"earliest"`, `"after:<fragment number>"`, `"token:<continuation token>"`,
/// `"server:<RFC 3339>"`, `"producer:<RFC 3339>"`, or a boto3 `StartSelector` dict.
/// `archive=(start, end)` (or `(start, end, "producer")`) reads archived fragments in a
/// time range instead (datetimes or seconds since the epoch). With `follow=False` a live
/// read ends once it has caught up with the live edge. An error sent by KVS inside the
/// stream raises `KvsStreamError`; iterating again goes on when the error did not end the
/// stream.
#[pyclass(frozen, subclass, module = "kvs_consumer._native")]
pub struct Consumer {
    live: Mutex<Option<Live>>,
    stop: Arc<Notify>,
    stopped: AtomicBool,
    stats: kvs_consumer::Stats,
}

#[pymethods]
impl Consumer {
    #[new]
    #[pyo3(signature = (stream_name, region = None, endpoint_url = None, start = None, follow = true, archive = None, credentials = None, queue_capacity = 4, ca_file = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        stream_name: String,
        region: Option<String>,
        endpoint_url: Option<String>,
        start: Option<&Bound<'_, PyAny>>,
        follow: bool,
        archive: Option<&Bound<'_, PyAny>>,
        credentials: Option<(String, String, Option<String>)>,
        queue_capacity: usize,
        ca_file: Option<std::path::PathBuf>,
    ) -> PyResult<Self> {
        let source = match (archive, start) {
            (Some(_), Some(_)) => {
                return Err(PyValueError::new_err("give either start or archive, not both"));
            }
            (Some(range), None) => Source::archive(stream_name, time_range(range)?),
            (None, start) => Source::live(stream_name, start_selector(start)?),
        };
        let mut config = Config::default();
        config.region = region;
        config.endpoint_url = endpoint_url;
        config.until_caught_up = !follow;
        config.queue_capacity = queue_capacity;
        // `ca_file`, else AWS_CA_BUNDLE, else SSL_CERT_FILE: as the CLI and boto3 do.
        config.ca_pem = kvs_consumer::tls::ca_pem_from(ca_file.as_deref()).map_err(Error::from)?;
        config.credentials = credentials.map(|(access_key_id, secret_access_key, session_token)| {
            StaticCredentials { access_key_id, secret_access_key, session_token }
        });
        let live = py
            .detach(|| {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("kvs-consumer-io")
                    .enable_all()
                    .build()?;
                let stream = {
                    let _entered = runtime.enter();
                    kvs_consumer::Consumer::with_config(source, config).stream()?
                };
                Ok::<_, kvs_consumer::Error>(Live { runtime, stream })
            })
            .map_err(Error::from)?;
        let stats = live.stream.stats();
        Ok(Self {
            live: Mutex::new(Some(live)),
            stop: Arc::new(Notify::new()),
            stopped: AtomicBool::new(false),
            stats,
        })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Fragment>> {
        let mut guard = match self.live.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::WouldBlock) => {
                return Err(PyRuntimeError::new_err("this Consumer is being read by another thread"));
            }
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
        };
        loop {
            if self.stopped.load(Ordering::Relaxed) {
                if let Some(live) = guard.take() {
                    py.detach(|| live.close());
                }
                return Ok(None);
            }
            let Some(live) = guard.as_mut() else { return Ok(None) };
            let stop = self.stop.clone();
            let wake = py.detach(|| {
                live.runtime.block_on(async {
                    tokio::select! {
                        biased;
                        _ = stop.notified() => Wake::Stopped,
                        item = live.stream.next() => Wake::Item(item.map(|r| r.map(Box::new))),
                        _ = tokio::time::sleep(SIGNAL_CHECK) => Wake::Tick,
                    }
                })
            });
            match wake {
                Wake::Tick => py.check_signals()?,
                Wake::Stopped => {}
                Wake::Item(Some(Ok(fragment))) => return Ok(Some(Fragment::new(*fragment))),
                Wake::Item(Some(Err(error))) => {
                    if error.ends_stream()
                        && let Some(live) = guard.take()
                    {
                        py.detach(|| live.close());
                    }
                    return Err(Error::from(error).into());
                }
                Wake::Item(None) => {
                    if let Some(live) = guard.take() {
                        py.detach(|| live.close());
                    }
                    return Ok(None);
                }
            }
        }
    }

    /// Stops the read: the connection is closed and iteration ends. Safe to call from
    /// any thread, also while another thread waits in `next()`.
    fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.stop.notify_one();
    }

    /// Counters of the read: `fragments`, `bytes`, `requests`, `retries`, `duplicates`
    /// (dropped after a resume), `cut` (connections that ended inside a fragment),
    /// `skipped_bytes`, `millis_behind_now`.
    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.stats.snapshot();
        let d = PyDict::new(py);
        d.set_item("fragments", s.fragments)?;
        d.set_item("bytes", s.bytes)?;
        d.set_item("requests", s.requests)?;
        d.set_item("retries", s.retries)?;
        d.set_item("duplicates", s.duplicates)?;
        d.set_item("cut", s.cut)?;
        d.set_item("skipped_bytes", s.skipped_bytes)?;
        d.set_item("millis_behind_now", s.millis_behind_now)?;
        Ok(d)
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        if let Some(live) = self.live.get_mut().ok().and_then(Option::take) {
            live.close();
        }
    }
}

/// `start=`: a string in the CLI's spelling or a boto3 `StartSelector` dict.
pub(crate) fn start_selector(start: Option<&Bound<'_, PyAny>>) -> PyResult<StartSelector> {
    let Some(start) = start else { return Ok(StartSelector::Now) };
    if let Ok(text) = start.cast::<PyString>() {
        return StartSelector::from_str(&text.to_cow()?).map_err(|e| Error::from(e).into());
    }
    let Ok(dict) = start.cast::<PyDict>() else {
        return Err(PyTypeError::new_err("start must be a string or a StartSelector dict"));
    };
    let field = |name: &str| -> PyResult<Bound<'_, PyAny>> {
        dict.get_item(name)?.ok_or_else(|| PyValueError::new_err(format!("StartSelector needs {name}")))
    };
    let kind: String = field("StartSelectorType")?.extract()?;
    Ok(match kind.as_str() {
        "NOW" => StartSelector::Now,
        "EARLIEST" => StartSelector::Earliest,
        "FRAGMENT_NUMBER" => {
            let number: String = field("AfterFragmentNumber")?.extract()?;
            StartSelector::AfterFragment(number.parse().map_err(|e| PyValueError::new_err(format!("{e}")))?)
        }
        "SERVER_TIMESTAMP" => StartSelector::ServerTimestamp(system_time(&field("StartTimestamp")?)?),
        "PRODUCER_TIMESTAMP" => StartSelector::ProducerTimestamp(system_time(&field("StartTimestamp")?)?),
        "CONTINUATION_TOKEN" => StartSelector::ContinuationToken(field("ContinuationToken")?.extract()?),
        other => return Err(PyValueError::new_err(format!("unknown StartSelectorType {other:?}"))),
    })
}

/// `archive=`: `(start, end)` or `(start, end, "server" | "producer")`.
fn time_range(range: &Bound<'_, PyAny>) -> PyResult<TimeRange> {
    let tuple = range
        .cast::<PyTuple>()
        .map_err(|_| PyTypeError::new_err("archive must be a tuple (start, end[, kind])"))?;
    let kind = match tuple.len() {
        2 => TimestampKind::Server,
        3 => match tuple.get_item(2)?.extract::<String>()?.to_ascii_lowercase().as_str() {
            "server" => TimestampKind::Server,
            "producer" => TimestampKind::Producer,
            other => {
                return Err(PyValueError::new_err(format!(
                    "archive kind {other:?}: use \"server\" or \"producer\""
                )));
            }
        },
        _ => return Err(PyTypeError::new_err("archive must be a tuple (start, end[, kind])")),
    };
    let (from, to) = (system_time(&tuple.get_item(0)?)?, system_time(&tuple.get_item(1)?)?);
    if to < from {
        return Err(PyValueError::new_err("archive range ends before it starts"));
    }
    Ok(TimeRange { from, to, kind })
}

/// A `datetime` (naive means UTC) or seconds since the epoch.
pub(crate) fn system_time(value: &Bound<'_, PyAny>) -> PyResult<SystemTime> {
    let seconds: f64 = if value.hasattr("timestamp")? {
        let value = if value.getattr("tzinfo")?.is_none() {
            let utc = value.py().import("datetime")?.getattr("timezone")?.getattr("utc")?;
            let kwargs = PyDict::new(value.py());
            kwargs.set_item("tzinfo", utc)?;
            value.call_method("replace", (), Some(&kwargs))?
        } else {
            value.clone()
        };
        value.call_method0("timestamp")?.extract()?
    } else {
        value.extract()?
    };
    if !seconds.is_finite() || !(0.0..=1e11).contains(&seconds) {
        return Err(PyValueError::new_err("timestamp out of range"));
    }
    Ok(UNIX_EPOCH + Duration::from_secs_f64(seconds))
}
