//! Frames of a fragment as numpy arrays and image files, and audio tracks as WAV, through
//! `kvs-media`.
//!
//! Decoding and colour conversion run with the GIL released; each RGB frame becomes a
//! numpy array that owns the Rust buffer (no copy). Which frames to convert (every Nth,
//! keyframes only) is decided before conversion, by `kvs-media`. The Python methods that
//! call these helpers are on `Fragment` (`fragment.rs`).

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use kvs_media::{FrameDecoder, FrameInfo, ImageFormat, Selection, VideoFrame, VideoOptions, WavWriter};
use numpy::PyArray3;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error::Error;

/// Which frames of a fragment to hand out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Choice {
    /// Every Nth frame in presentation order, from the first (the sample's
    /// `one_in_frames_ratio`).
    pub every: usize,
    /// IDR frames only (nothing else is decoded).
    pub keyframes: bool,
    /// The video track; by default the first one.
    pub track: Option<u64>,
    /// Raise the first frame that failed to decode, rather than leave it out.
    pub strict: bool,
}

impl Choice {
    fn options(self) -> PyResult<VideoOptions> {
        let every =
            NonZeroUsize::new(self.every).ok_or_else(|| PyValueError::new_err("every must be at least 1"))?;
        let selection = match (self.keyframes, every.get()) {
            (true, _) => Selection::Keyframes,
            (false, 1) => Selection::All,
            (false, _) => Selection::EveryNth(every),
        };
        let mut options = VideoOptions::with_selection(selection);
        options.track = self.track;
        Ok(options)
    }
}

/// Decodes and converts the chosen frames, GIL released. Frames that fail are left out
/// (unless `strict`); when every chosen frame failed, the first failure is raised.
pub(crate) fn decode(
    py: Python<'_>,
    fragment: &kvs_mkv::Fragment,
    choice: Choice,
) -> PyResult<Vec<VideoFrame>> {
    let options = choice.options()?;
    let decoded = py.detach(|| FrameDecoder::new(options).decode(fragment)).map_err(Error::from)?;
    if (choice.strict || decoded.frames.is_empty())
        && let Some(failure) = decoded.errors.into_iter().next()
    {
        return Err(Error::from(failure.error).into());
    }
    Ok(decoded.frames)
}

/// The frame as a `(height, width, 3)` uint8 array that owns the Rust buffer.
pub(crate) fn to_numpy(py: Python<'_>, frame: VideoFrame) -> Bound<'_, PyArray3<u8>> {
    PyArray3::from_owned_array(py, frame.rgb)
}

/// `index`, `track`, `keyframe`, `timestamp_ns` of a frame.
pub(crate) fn info_dict<'py>(py: Python<'py>, info: &FrameInfo) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("index", info.index)?;
    d.set_item("track", info.track)?;
    d.set_item("keyframe", info.keyframe)?;
    d.set_item("timestamp_ns", info.timestamp_ns)?;
    Ok(d)
}

/// `"jpeg"` (or `"jpg"`) with a quality, or `"png"`.
pub(crate) fn image_format(format: &str, quality: u8) -> PyResult<ImageFormat> {
    match format.to_ascii_lowercase().as_str() {
        "jpeg" | "jpg" => Ok(ImageFormat::Jpeg { quality }),
        "png" => Ok(ImageFormat::Png),
        other => {
            Err(PyValueError::new_err(format!("unknown image format {other:?}: use \"jpeg\" or \"png\"")))
        }
    }
}

/// Saves each frame in `dir` as `<fragment number>-<frame index>.<ext>`.
pub(crate) fn save_in(
    py: Python<'_>,
    frames: &[VideoFrame],
    dir: &Path,
    format: ImageFormat,
) -> PyResult<Vec<PathBuf>> {
    py.detach(|| {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        frames
            .iter()
            .map(|f| kvs_media::save_image(f, dir, format).map_err(Error::from))
            .collect::<Result<Vec<_>, _>>()
    })
    .map_err(PyErr::from)
}

/// Saves the i-th frame as `<base>-<i>.<ext>`, as the sample's `save_frames_as_jpeg` does.
pub(crate) fn save_numbered(
    py: Python<'_>,
    frames: &[VideoFrame],
    base: &str,
    format: ImageFormat,
) -> PyResult<Vec<String>> {
    py.detach(|| {
        let mut paths = Vec::with_capacity(frames.len());
        for (i, frame) in frames.iter().enumerate() {
            let path = format!("{base}-{i}.{}", format.extension());
            let bytes = kvs_media::encode_image(&frame.rgb, format)?;
            std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
            paths.push(path);
        }
        Ok::<_, Error>(paths)
    })
    .map_err(PyErr::from)
}

/// Writes one audio track as a WAV file in the track's own sample format.
pub(crate) fn save_wav(
    py: Python<'_>,
    fragment: &kvs_mkv::Fragment,
    track: u64,
    path: &Path,
) -> PyResult<()> {
    py.detach(|| {
        let tracks = fragment.tracks()?;
        let info = tracks
            .iter()
            .find(|t| t.number == track)
            .ok_or_else(|| Error::Invalid(format!("the fragment has no track {track}")))?;
        let (frames, error) = fragment.frames_lossy();
        if let Some(error) = error {
            return Err(Error::from(error));
        }
        let mut wav = WavWriter::create(path, info)?;
        for frame in frames.iter().filter(|f| f.track == track) {
            wav.write_frame(&frame.payload)?;
        }
        wav.finish()?;
        Ok(())
    })
    .map_err(PyErr::from)
}
