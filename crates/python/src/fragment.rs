//! `Fragment`: one KVS fragment as Python sees it: its KVS tags typed, every tag, its raw
//! bytes, its element tree, its tracks, playable `.mkv` output and the raw audio of a track.
//!
//! Everything is read from the `kvs-mkv` fragment on demand; parsing, decoding and file
//! writing run with the GIL released. Decoding itself is `kvs-media` (glue in `frames.rs`);
//! splitting a stream belongs to `reader.rs`.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyType};

use crate::dom::{Document, Shared};
use crate::error::Error;
use crate::frames;
use crate::source::Data;

/// One fragment of a KVS stream: a complete MKV "file" with its tags.
///
/// Get them by iterating a `FragmentReader` (or the `KvsConsumerLibrary` callbacks), or
/// from saved bytes with `Fragment.from_bytes`.
#[pyclass(frozen, module = "kvs_consumer._native")]
pub struct Fragment {
    pub(crate) inner: kvs_mkv::Fragment,
    shared: OnceLock<Arc<Shared>>,
    redelivered: bool,
}

impl Fragment {
    pub(crate) fn new(inner: kvs_mkv::Fragment) -> Self {
        Self { inner, shared: OnceLock::new(), redelivered: false }
    }

    /// A fragment a fleet handed out, flagged when it may have been handed out before.
    pub(crate) fn delivered(inner: kvs_mkv::Fragment, redelivered: bool) -> Self {
        Self { inner, shared: OnceLock::new(), redelivered }
    }

    /// A fragment whose tree is already parsed.
    pub(crate) fn with_shared(inner: kvs_mkv::Fragment, shared: Arc<Shared>) -> Self {
        Self { inner, shared: OnceLock::from(shared), redelivered: false }
    }

    /// The bytes shared with the fragment's `Document` (parsed when first used).
    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.shared.get_or_init(|| Arc::new(Shared::new(self.inner.bytes().clone()))).clone()
    }
}

#[pymethods]
impl Fragment {
    /// Reads one fragment from its bytes (a saved `.mkv`, the `fragment_bytes` of a
    /// callback). Raises `MkvError` when the bytes hold no fragment.
    #[classmethod]
    fn from_bytes(_cls: &Bound<'_, PyType>, py: Python<'_>, data: Data) -> PyResult<Self> {
        let bytes = data.into_bytes();
        let inner = py.detach(|| kvs_mkv::Fragment::from_bytes(bytes)).map_err(Error::from)?;
        Ok(Self::new(inner))
    }

    /// `AWS_KINESISVIDEO_FRAGMENT_NUMBER` as a string of digits, or `None`.
    #[getter]
    fn number(&self) -> Option<String> {
        self.inner.kvs().fragment_number.as_ref().map(ToString::to_string)
    }

    /// `AWS_KINESISVIDEO_CONTINUATION_TOKEN`, or `None`.
    #[getter]
    fn continuation_token(&self) -> Option<String> {
        self.inner.kvs().continuation_token.clone()
    }

    /// `AWS_KINESISVIDEO_SERVER_TIMESTAMP` in seconds since the epoch, or `None`.
    #[getter]
    fn server_timestamp(&self) -> Option<f64> {
        self.inner.kvs().server_timestamp.as_ref().map(|t| t.unix_millis() as f64 / 1000.0)
    }

    /// `AWS_KINESISVIDEO_PRODUCER_TIMESTAMP` in seconds since the epoch, or `None`.
    #[getter]
    fn producer_timestamp(&self) -> Option<f64> {
        self.inner.kvs().producer_timestamp.as_ref().map(|t| t.unix_millis() as f64 / 1000.0)
    }

    /// `AWS_KINESISVIDEO_MILLIS_BEHIND_NOW`, or `None`.
    #[getter]
    fn millis_behind_now(&self) -> Option<u64> {
        self.inner.kvs().millis_behind_now
    }

    /// Every SimpleTag in order, KVS and user tags alike, repeats kept, as
    /// `(name, value)` pairs; `value` is the TagString, else the TagBinary as bytes, else
    /// `None`. `dict(fragment.tags)` gives the last value of each name.
    #[getter]
    fn tags<'py>(&self, py: Python<'py>) -> Vec<(String, Py<PyAny>)> {
        self.inner
            .tags()
            .iter()
            .map(|t| {
                let value = match (&t.value, &t.binary) {
                    (Some(s), _) => {
                        s.into_pyobject(py).map(|v| v.into_any().unbind()).unwrap_or_else(|_| py.None())
                    }
                    (None, Some(b)) => PyBytes::new(py, b).into_any().unbind(),
                    (None, None) => py.None(),
                };
                (t.name.clone(), value)
            })
            .collect()
    }

    /// The fragment's bytes exactly as received.
    #[getter]
    fn bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.bytes())
    }

    /// True when a `Fleet` may have handed this fragment out before (after a crash, or a
    /// lease taken over from a dead worker): handle it idempotently. Always False for
    /// fragments read any other way.
    #[getter]
    fn redelivered(&self) -> bool {
        self.redelivered
    }

    /// Position of the fragment in its stream: 0 for the first one.
    #[getter]
    fn index(&self) -> u64 {
        self.inner.index()
    }

    /// Offset of the fragment's first byte in its stream.
    #[getter]
    fn offset(&self) -> u64 {
        self.inner.offset()
    }

    /// False when the stream ended or broke inside this fragment (its whole frames are
    /// still there).
    #[getter]
    fn complete(&self) -> bool {
        self.inner.is_complete()
    }

    /// The element tree (the sample's `fragment_dom`), parsed once, when first used.
    #[getter]
    fn dom<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, Document>> {
        Bound::new(py, Document::new(self.shared()))
    }

    /// The tracks of the fragment, one dict each: `number`, `name`, `codec_id`, `kind`
    /// (`"video"`, `"audio"`, `"subtitle"` or `"other"`), `width`/`height` for video,
    /// `sampling_frequency`/`channels`/`bit_depth` for audio.
    #[getter]
    fn tracks<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let fragment = &self.inner;
        let tracks = py.detach(|| fragment.tracks()).map_err(Error::from)?;
        tracks
            .iter()
            .map(|t| {
                let d = PyDict::new(py);
                d.set_item("number", t.number)?;
                d.set_item("name", t.name.as_deref())?;
                d.set_item("codec_id", &t.codec_id)?;
                let kind = match t.kind {
                    kvs_mkv::TrackKind::Video => "video",
                    kvs_mkv::TrackKind::Audio => "audio",
                    kvs_mkv::TrackKind::Subtitle => "subtitle",
                    _ => "other",
                };
                d.set_item("kind", kind)?;
                if let Some(v) = t.video {
                    d.set_item("width", v.width)?;
                    d.set_item("height", v.height)?;
                }
                if let Some(a) = t.audio {
                    d.set_item("sampling_frequency", a.sampling_frequency)?;
                    d.set_item("channels", a.channels)?;
                    d.set_item("bit_depth", a.bit_depth)?;
                }
                Ok(d)
            })
            .collect()
    }

    /// Number of coded frames, of one track or of all.
    #[pyo3(signature = (track = None))]
    fn frame_count(&self, py: Python<'_>, track: Option<u64>) -> PyResult<usize> {
        let fragment = &self.inner;
        let (frames, error) = py.detach(|| fragment.frames_lossy());
        if let Some(error) = error {
            return Err(Error::from(error).into());
        }
        Ok(frames.iter().filter(|f| track.is_none_or(|t| f.track == t)).count())
    }

    /// The payloads of one track's frames joined, in stored order: for a PCM track
    /// (Amazon Connect recordings) that is the raw audio.
    fn track_payload<'py>(&self, py: Python<'py>, track: u64) -> PyResult<Bound<'py, PyBytes>> {
        let payload = track_bytes(py, &self.inner, track)?;
        Ok(PyBytes::new(py, &payload))
    }

    /// Writes one audio track as a WAV file in the track's own sample format (PCM
    /// tracks; Amazon Connect records 8000 Hz mono 16-bit). Returns the path.
    fn save_wav(&self, py: Python<'_>, track: u64, path: PathBuf) -> PyResult<PathBuf> {
        frames::save_wav(py, &self.inner, track, &path)?;
        Ok(path)
    }

    /// The frames of the video track as `(height, width, 3)` uint8 RGB numpy arrays, in
    /// presentation order: all of them, every Nth from the first (`every=N`), or the
    /// keyframes only (`keyframes=True`, which decodes nothing else). Frames not chosen are
    /// never converted. With `with_info=True`, each item is `(info, array)` where `info`
    /// has `index`, `track`, `keyframe` and `timestamp_ns`. Decoding runs with the GIL
    /// released. Raises `MediaError` for a codec this build cannot decode; a frame the
    /// codec rejects is left out, or raised with `strict=True`.
    #[pyo3(signature = (every = 1, keyframes = false, track = None, with_info = false, strict = false))]
    fn frames(
        &self,
        py: Python<'_>,
        every: usize,
        keyframes: bool,
        track: Option<u64>,
        with_info: bool,
        strict: bool,
    ) -> PyResult<Vec<Py<PyAny>>> {
        let decoded = frames::decode(py, &self.inner, frames::Choice { every, keyframes, track, strict })?;
        decoded
            .into_iter()
            .map(|frame| {
                let info = frame.info.clone();
                let array = frames::to_numpy(py, frame).into_any();
                if with_info {
                    Ok((frames::info_dict(py, &info)?, array).into_pyobject(py)?.into_any().unbind())
                } else {
                    Ok(array.unbind())
                }
            })
            .collect()
    }

    /// Saves the chosen frames (as in `frames`) in `directory` as
    /// `<fragment number>-<frame index>.jpg` (or `.png`); returns the paths.
    #[pyo3(signature = (directory, every = 1, keyframes = false, format = "jpeg", quality = 90))]
    fn save_jpegs(
        &self,
        py: Python<'_>,
        directory: PathBuf,
        every: usize,
        keyframes: bool,
        format: &str,
        quality: u8,
    ) -> PyResult<Vec<PathBuf>> {
        let format = frames::image_format(format, quality)?;
        let decoded =
            frames::decode(py, &self.inner, frames::Choice { every, keyframes, track: None, strict: false })?;
        frames::save_in(py, &decoded, &directory, format)
    }

    /// Saves the chosen frames as `<base_path>-0.jpg`, `<base_path>-1.jpg`... in the order
    /// chosen (the sample's `save_frames_as_jpeg` naming); returns the paths.
    #[pyo3(signature = (base_path, every = 1, keyframes = false, format = "jpeg", quality = 90))]
    fn save_frames(
        &self,
        py: Python<'_>,
        base_path: &str,
        every: usize,
        keyframes: bool,
        format: &str,
        quality: u8,
    ) -> PyResult<Vec<String>> {
        let format = frames::image_format(format, quality)?;
        let decoded =
            frames::decode(py, &self.inner, frames::Choice { every, keyframes, track: None, strict: false })?;
        frames::save_numbered(py, &decoded, base_path, format)
    }

    /// Writes the fragment as a standalone `.mkv` that ordinary players play and seek in
    /// (unknown sizes replaced by real ones). Returns the path.
    fn save_mkv(&self, py: Python<'_>, path: PathBuf) -> PyResult<PathBuf> {
        let fragment = &self.inner;
        py.detach(|| {
            let mkv = fragment.to_playable_mkv()?;
            std::fs::write(&path, mkv).map_err(|e| Error::io(path.clone(), e))
        })?;
        Ok(path)
    }

    /// The fragment as a playable `.mkv`, in memory.
    fn playable_mkv<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let fragment = &self.inner;
        let mkv = py.detach(|| fragment.to_playable_mkv()).map_err(Error::from)?;
        Ok(PyBytes::new(py, &mkv))
    }

    fn __len__(&self) -> usize {
        self.inner.bytes().len()
    }

    fn __repr__(&self) -> String {
        format!(
            "<Fragment {} index={} bytes={}{}>",
            self.number().unwrap_or_else(|| "(no number)".into()),
            self.inner.index(),
            self.inner.bytes().len(),
            if self.inner.is_complete() { "" } else { " incomplete" }
        )
    }
}

/// The payloads of a track's frames, concatenated, read with the GIL released.
pub(crate) fn track_bytes(py: Python<'_>, fragment: &kvs_mkv::Fragment, track: u64) -> PyResult<Vec<u8>> {
    let (frames, error) = py.detach(|| fragment.frames_lossy());
    if let Some(error) = error {
        return Err(Error::from(error).into());
    }
    let mut out = Vec::new();
    for frame in frames.iter().filter(|f| f.track == track) {
        out.extend_from_slice(&frame.payload);
    }
    Ok(out)
}
