//! `images`, `clip`, `hls_url` and `dash_url`: the archived-media calls from Python, over
//! `kvs_consumer::archived` (GetImages with every page, GetClip streamed to a file,
//! HLS / DASH streaming session URLs).
//!
//! Each call runs on a tokio runtime of its own with the GIL released. Paging, range
//! windows and retries belong to `kvs-consumer`; the service decodes and remuxes.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kvs_consumer::archived::{
    self, Archive, ContainerFormat, ImageFormat, ImagesRequest, Playback, SessionRequest,
};
use kvs_consumer::{Config, StaticCredentials, TimeRange, TimestampKind};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tokio::runtime::Runtime;

use crate::consumer::system_time;
use crate::error::Error;

/// `(access key id, secret access key, session token)`.
type Credentials = (String, String, Option<String>);

/// The configuration of the keyword arguments every call takes.
fn config(
    region: Option<String>,
    endpoint_url: Option<String>,
    credentials: Option<Credentials>,
    ca_file: Option<PathBuf>,
) -> PyResult<Config> {
    let mut config = Config::default();
    config.region = region;
    config.endpoint_url = endpoint_url;
    config.credentials = credentials.map(|(access_key_id, secret_access_key, session_token)| {
        StaticCredentials { access_key_id, secret_access_key, session_token }
    });
    config.ca_pem = kvs_consumer::tls::ca_pem_from(ca_file.as_deref()).map_err(Error::from)?;
    Ok(config)
}

fn runtime() -> PyResult<Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| PyOSError::new_err(e.to_string()))
}

fn seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64()
}

fn range(start: &Bound<'_, PyAny>, end: &Bound<'_, PyAny>, producer_time: bool) -> PyResult<TimeRange> {
    let (from, to) = (system_time(start)?, system_time(end)?);
    if to < from {
        return Err(PyValueError::new_err("the range ends before it starts"));
    }
    let kind = if producer_time { TimestampKind::Producer } else { TimestampKind::Server };
    Ok(TimeRange { from, to, kind })
}

/// One instant of GetImages: `timestamp` (seconds since the epoch), `error`
/// (`"NO_MEDIA"`, `"MEDIA_ERROR"` or `None`) and `content` (the JPEG or PNG bytes, empty
/// with an error).
#[pyclass(module = "kvs_consumer._native", frozen)]
pub(crate) struct Image {
    inner: archived::Image,
}

#[pymethods]
impl Image {
    /// Seconds since the epoch (server or producer time, as asked).
    #[getter]
    fn timestamp(&self) -> f64 {
        seconds(self.inner.timestamp)
    }

    /// `"NO_MEDIA"`, `"MEDIA_ERROR"`, or `None` when there is a picture.
    #[getter]
    fn error(&self) -> Option<String> {
        self.inner.error.as_ref().map(ToString::to_string)
    }

    /// The encoded picture.
    #[getter]
    fn content<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.content)
    }

    /// A file name from the timestamp: `20261204T050102.345Z.jpg`.
    #[pyo3(signature = (ext = "jpg"))]
    fn file_name(&self, ext: &str) -> String {
        self.inner.file_name(ext)
    }

    fn __repr__(&self) -> String {
        format!(
            "Image({}, error={:?}, {} bytes)",
            archived::utc_name(self.inner.timestamp),
            self.inner.error.as_ref().map(ToString::to_string),
            self.inner.content.len()
        )
    }
}

/// The images of a range, fetched a page at a time as iteration goes.
#[pyclass(module = "kvs_consumer._native")]
pub(crate) struct Images {
    state: Mutex<Option<(Runtime, archived::Images)>>,
}

#[pymethods]
impl Images {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Image>> {
        let mut guard = self
            .state
            .try_lock()
            .map_err(|_| PyRuntimeError::new_err("these Images are being read by another thread"))?;
        let Some((runtime, images)) = guard.as_mut() else { return Ok(None) };
        match py.detach(|| runtime.block_on(images.next())) {
            Some(Ok(inner)) => Ok(Some(Image { inner })),
            Some(Err(error)) => {
                *guard = None;
                Err(Error::from(error).into())
            }
            None => {
                *guard = None;
                Ok(None)
            }
        }
    }
}

/// GetImages over `start`..`end` (datetimes or seconds since the epoch; any length, asked
/// for in windows of at most 300 s): an iterator of `Image`, one per `every` seconds.
#[pyfunction]
#[pyo3(signature = (stream_name, start, end, *, every = 1.0, format = "jpeg", quality = 80, width = None, height = None, producer_time = false, region = None, endpoint_url = None, credentials = None, ca_file = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn images(
    py: Python<'_>,
    stream_name: String,
    start: &Bound<'_, PyAny>,
    end: &Bound<'_, PyAny>,
    every: f64,
    format: &str,
    quality: u8,
    width: Option<u32>,
    height: Option<u32>,
    producer_time: bool,
    region: Option<String>,
    endpoint_url: Option<String>,
    credentials: Option<Credentials>,
    ca_file: Option<PathBuf>,
) -> PyResult<Images> {
    let mut request = ImagesRequest::new(range(start, end, producer_time)?);
    request.interval = Duration::try_from_secs_f64(every)
        .ok()
        .filter(|d| *d >= archived::MIN_SAMPLING_INTERVAL)
        .ok_or_else(|| PyValueError::new_err("every must be at least 0.2 seconds"))?;
    request.format = match format.to_ascii_lowercase().as_str() {
        "jpeg" | "jpg" if (1..=100).contains(&quality) => ImageFormat::Jpeg { quality },
        "jpeg" | "jpg" => return Err(PyValueError::new_err("quality must be 1 to 100")),
        "png" => ImageFormat::Png,
        other => return Err(PyValueError::new_err(format!("format {other:?}: use \"jpeg\" or \"png\""))),
    };
    if width.is_some() && height.is_none() {
        return Err(PyValueError::new_err("width needs height (height alone keeps the aspect ratio)"));
    }
    request.width = width;
    request.height = height;
    let config = config(region, endpoint_url, credentials, ca_file)?;
    let runtime = runtime()?;
    let archive = py.detach(|| runtime.block_on(Archive::new(&stream_name, &config))).map_err(Error::from)?;
    let images = archive.images(request);
    Ok(Images { state: Mutex::new(Some((runtime, images))) })
}

/// GetClip over `start`..`end`: the MP4's bytes, or with `path` the number of bytes
/// written there (a failed file is removed).
#[pyfunction]
#[pyo3(signature = (stream_name, start, end, path = None, *, producer_time = false, region = None, endpoint_url = None, credentials = None, ca_file = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn clip<'py>(
    py: Python<'py>,
    stream_name: String,
    start: &Bound<'py, PyAny>,
    end: &Bound<'py, PyAny>,
    path: Option<PathBuf>,
    producer_time: bool,
    region: Option<String>,
    endpoint_url: Option<String>,
    credentials: Option<Credentials>,
    ca_file: Option<PathBuf>,
) -> PyResult<Bound<'py, PyAny>> {
    let range = range(start, end, producer_time)?;
    let config = config(region, endpoint_url, credentials, ca_file)?;
    let runtime = runtime()?;
    match path {
        None => {
            let bytes = py
                .detach(|| {
                    runtime.block_on(async {
                        let mut out = Vec::new();
                        Archive::new(&stream_name, &config).await?.clip(&range, &mut out).await?;
                        Ok::<_, kvs_consumer::Error>(out)
                    })
                })
                .map_err(Error::from)?;
            Ok(PyBytes::new(py, &bytes).into_any())
        }
        Some(path) => {
            let written = py
                .detach(|| {
                    runtime.block_on(async {
                        let archive = Archive::new(&stream_name, &config).await?;
                        let mut file =
                            tokio::fs::File::create(&path).await.map_err(|e| Error::io(&path, e))?;
                        let result = archive.clip(&range, &mut file).await;
                        if result.is_err() {
                            drop(file);
                            let _ = std::fs::remove_file(&path);
                        }
                        Ok::<_, Error>(result?)
                    })
                })
                .map_err(PyErr::from)?;
            Ok(written.into_pyobject(py)?.into_any())
        }
    }
}

/// The session of the keyword arguments of `hls_url` and `dash_url`.
#[allow(clippy::too_many_arguments)]
fn session(
    mode: &str,
    start: Option<&Bound<'_, PyAny>>,
    end: Option<&Bound<'_, PyAny>>,
    producer_time: bool,
    expires: Option<u32>,
    max_fragments: Option<u32>,
    display_timestamps: bool,
) -> PyResult<SessionRequest> {
    let from = start.map(system_time).transpose()?;
    let to = end.map(system_time).transpose()?;
    let playback = match (mode.to_ascii_lowercase().replace('-', "_").as_str(), from, to) {
        ("live", None, None) => Playback::Live,
        ("live", _, _) => return Err(PyValueError::new_err("mode \"live\" takes no start or end")),
        ("replay" | "live_replay", Some(from), to) => Playback::LiveReplay { from, to },
        ("on_demand", Some(from), Some(to)) => Playback::OnDemand { from, to },
        ("replay" | "live_replay", None, _) => {
            return Err(PyValueError::new_err("mode \"replay\" needs start"));
        }
        ("on_demand", _, _) => return Err(PyValueError::new_err("mode \"on_demand\" needs start and end")),
        (other, _, _) => {
            return Err(PyValueError::new_err(format!(
                "mode {other:?}: use \"live\", \"replay\" or \"on_demand\""
            )));
        }
    };
    let mut request = SessionRequest::new(playback);
    if producer_time {
        request.kind = TimestampKind::Producer;
    }
    request.expires = expires.map(|s| Duration::from_secs(s.into()));
    request.max_fragments = max_fragments;
    request.display_fragment_timestamp = display_timestamps;
    Ok(request)
}

/// GetHLSStreamingSessionURL: the master playlist URL of `stream_name`, `mode` `"live"`
/// (default), `"replay"` (from `start`, to `end` if given) or `"on_demand"`
/// (`start`..`end`); `container` `"fmp4"` or `"ts"`.
#[pyfunction]
#[pyo3(signature = (stream_name, *, mode = "live", start = None, end = None, producer_time = false, container = "fmp4", expires = None, max_fragments = None, display_timestamps = false, region = None, endpoint_url = None, credentials = None, ca_file = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn hls_url(
    py: Python<'_>,
    stream_name: String,
    mode: &str,
    start: Option<&Bound<'_, PyAny>>,
    end: Option<&Bound<'_, PyAny>>,
    producer_time: bool,
    container: &str,
    expires: Option<u32>,
    max_fragments: Option<u32>,
    display_timestamps: bool,
    region: Option<String>,
    endpoint_url: Option<String>,
    credentials: Option<Credentials>,
    ca_file: Option<PathBuf>,
) -> PyResult<String> {
    let mut request = session(mode, start, end, producer_time, expires, max_fragments, display_timestamps)?;
    request.container = match container.to_ascii_lowercase().as_str() {
        "fmp4" | "fragmented_mp4" => ContainerFormat::FragmentedMp4,
        "ts" | "mpeg_ts" => ContainerFormat::MpegTs,
        other => return Err(PyValueError::new_err(format!("container {other:?}: use \"fmp4\" or \"ts\""))),
    };
    let config = config(region, endpoint_url, credentials, ca_file)?;
    let runtime = runtime()?;
    let url = py.detach(|| {
        runtime.block_on(async { Archive::new(&stream_name, &config).await?.hls_url(&request).await })
    });
    Ok(url.map_err(Error::from)?)
}

/// GetDASHStreamingSessionURL: the manifest URL of `stream_name`; the same modes as
/// `hls_url`.
#[pyfunction]
#[pyo3(signature = (stream_name, *, mode = "live", start = None, end = None, producer_time = false, expires = None, max_fragments = None, display_timestamps = false, region = None, endpoint_url = None, credentials = None, ca_file = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn dash_url(
    py: Python<'_>,
    stream_name: String,
    mode: &str,
    start: Option<&Bound<'_, PyAny>>,
    end: Option<&Bound<'_, PyAny>>,
    producer_time: bool,
    expires: Option<u32>,
    max_fragments: Option<u32>,
    display_timestamps: bool,
    region: Option<String>,
    endpoint_url: Option<String>,
    credentials: Option<Credentials>,
    ca_file: Option<PathBuf>,
) -> PyResult<String> {
    let request = session(mode, start, end, producer_time, expires, max_fragments, display_timestamps)?;
    let config = config(region, endpoint_url, credentials, ca_file)?;
    let runtime = runtime()?;
    let url = py.detach(|| {
        runtime.block_on(async { Archive::new(&stream_name, &config).await?.dash_url(&request).await })
    });
    Ok(url.map_err(Error::from)?)
}
