//! The native half of the Python package `kvs_consumer` (imported as
//! `kvs_consumer._native`): the AWS "KVS Consumer Library for Python" API on the Rust
//! engine, and a native API for new code.
//!
//! What it owns: the PyO3 classes `FragmentReader` (split a GetMedia response, a stream, a
//! file or bytes into fragments as they arrive), `Consumer` (a stream read through
//! `kvs-consumer`, resumed across connections), `Fleet` (many streams through `kvs-fleet`,
//! with checkpoints and leases), `put` (send Matroska to a stream through `kvs-producer`,
//! resent until persisted), `images` / `clip` / `hls_url` / `dash_url` (archived media
//! through `kvs_consumer::archived`), `Fragment` (tags, bytes, playable MKV, frames as numpy
//! arrays, JPEG and WAV files), and the EBMLite-like `Document` / `Element` DOM; conversions between Python objects and `bytes::Bytes` without copying;
//! releasing the GIL around reading files, parsing, decoding and writing. What it does not
//! own: the threaded, callback-based drop-in classes (`KvsConsumerLibrary`,
//! `KvsFragementProcessor`), context managers and async iteration, which are thin Python in
//! `python/kvs_consumer/`; parsing (`kvs-mkv`), decoding (`kvs-media`), network reads and
//! resume (`kvs-consumer`), discovery, checkpoints and leases (`kvs-fleet`).
//!
//! The crate builds as a `cdylib` through maturin (`pip install ./crates/python`), and has
//! no Rust tests: its test suite is `crates/python/tests` (pytest), run by
//! `.ci/python.sh`.
#![deny(missing_docs)]

mod archived;
mod consumer;
mod dom;
mod error;
mod fleet;
mod fragment;
mod frames;
mod producer;
mod reader;
mod source;

use pyo3::prelude::*;

/// The `kvs_consumer._native` extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<reader::FragmentReader>()?;
    m.add_class::<fragment::Fragment>()?;
    m.add_class::<consumer::Consumer>()?;
    m.add_class::<fleet::Fleet>()?;
    m.add_function(wrap_pyfunction!(producer::put, m)?)?;
    m.add_class::<archived::Image>()?;
    m.add_class::<archived::Images>()?;
    m.add_function(wrap_pyfunction!(archived::images, m)?)?;
    m.add_function(wrap_pyfunction!(archived::clip, m)?)?;
    m.add_function(wrap_pyfunction!(archived::hls_url, m)?)?;
    m.add_function(wrap_pyfunction!(archived::dash_url, m)?)?;
    m.add_class::<dom::Document>()?;
    m.add_class::<dom::Element>()?;
    m.add_function(wrap_pyfunction!(rust_split, m)?)?;
    m.add_function(wrap_pyfunction!(rust_frames, m)?)?;
    m.add_function(wrap_pyfunction!(rust_frame_checksums, m)?)?;
    Ok(())
}

/// Splits `data` in chunks of `chunk_size` bytes entirely in Rust, with the GIL released,
/// and returns `(fragments, frames)`: the baseline that `bench/benchmark.py` compares the
/// Python iteration with.
#[pyfunction]
#[pyo3(name = "_rust_split", signature = (data, chunk_size = 65536))]
fn rust_split(py: Python<'_>, data: source::Data, chunk_size: usize) -> PyResult<(u64, u64)> {
    let bytes = data.into_bytes();
    let chunk_size = chunk_size.max(1);
    Ok(py.detach(|| {
        let mut splitter = kvs_mkv::FragmentSplitter::new();
        let (mut fragments, mut frames) = (0u64, 0u64);
        let mut count = |splitter: &mut kvs_mkv::FragmentSplitter| {
            while let Some(event) = splitter.poll() {
                if let kvs_mkv::Event::Fragment(f) = event {
                    fragments += 1;
                    frames += f.frames_lossy().0.len() as u64;
                }
            }
        };
        let mut at = 0;
        while at < bytes.len() {
            let end = (at + chunk_size).min(bytes.len());
            splitter.feed(bytes.slice(at..end));
            count(&mut splitter);
            at = end;
        }
        splitter.finish();
        count(&mut splitter);
        (fragments, frames)
    }))
}

/// Decodes the video of every fragment of `data` in Rust with the GIL released, converting
/// every `every`-th frame to RGB, and returns `(fragments, frames converted)`: the baseline
/// for `Fragment.frames` in `bench/benchmark.py`.
#[pyfunction]
#[pyo3(name = "_rust_frames", signature = (data, every = 1))]
fn rust_frames(py: Python<'_>, data: source::Data, every: usize) -> PyResult<(u64, u64)> {
    let every = std::num::NonZeroUsize::new(every)
        .ok_or_else(|| pyo3::exceptions::PyValueError::new_err("every must be at least 1"))?;
    let bytes = data.into_bytes();
    py.detach(|| {
        let selection =
            if every.get() == 1 { kvs_media::Selection::All } else { kvs_media::Selection::EveryNth(every) };
        let mut decoder = kvs_media::FrameDecoder::new(kvs_media::VideoOptions::with_selection(selection));
        let mut splitter = kvs_mkv::FragmentSplitter::new();
        splitter.feed(bytes);
        splitter.finish();
        let (mut fragments, mut frames) = (0u64, 0u64);
        while let Some(event) = splitter.poll() {
            if let kvs_mkv::Event::Fragment(f) = event {
                fragments += 1;
                frames += decoder.decode(&f)?.frames.len() as u64;
            }
        }
        Ok::<_, error::Error>((fragments, frames))
    })
    .map_err(PyErr::from)
}

/// `(index, height, width, sum of R, sum of G, sum of B, sum of i * value)`.
type FrameChecksum = (usize, usize, usize, u64, u64, u64, u64);

/// For the tests: decodes the first fragment of `data` in Rust and returns, for each
/// chosen frame, `(index, height, width, sum of R, sum of G, sum of B, sum of i * value)`
/// over the pixels in row-major order, so Python can check that its numpy arrays hold
/// exactly what the Rust crate decoded.
#[pyfunction]
#[pyo3(name = "_rust_frame_checksums", signature = (data, every = 1))]
fn rust_frame_checksums(py: Python<'_>, data: source::Data, every: usize) -> PyResult<Vec<FrameChecksum>> {
    let bytes = data.into_bytes();
    let fragment = py.detach(|| kvs_mkv::Fragment::from_bytes(bytes)).map_err(error::Error::from)?;
    let frames =
        frames::decode(py, &fragment, frames::Choice { every, keyframes: false, track: None, strict: true })?;
    Ok(frames
        .iter()
        .map(|f| {
            let (h, w, _) = f.rgb.dim();
            let mut sums = [0u64; 3];
            let mut weighted = 0u64;
            for (i, v) in f.rgb.iter().enumerate() {
                sums[i % 3] += u64::from(*v);
                weighted = weighted.wrapping_add((i as u64).wrapping_mul(u64::from(*v)));
            }
            (f.info.index, h, w, sums[0], sums[1], sums[2], weighted)
        })
        .collect())
}
