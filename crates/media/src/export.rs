//! Frames of many fragments written as image files on several threads: what `kvs frames`
//! needs to keep up with FFmpeg. It owns the threads, the routing of fragments to
//! decoders and the in-order reports; decoding is [`FrameDecoder`]'s and encoding
//! [`encode_yuv`]'s, unchanged.
//!
//! Shape: `threads` decode workers, each with its own [`FrameDecoder`], and `threads`
//! encode workers, joined by a bounded queue of decoded pictures. Fragments go to the
//! least busy decoder, except one that goes on from the previous fragment (it does not
//! start at an IDR, or it describes no track): that one goes to the decoder that holds
//! the previous fragment's references. Encoding a picture costs more than decoding it,
//! so the encode workers keep every core busy even when one long fragment (a plain file
//! read as a single fragment) leaves a single decoder working.
//!
//! Memory is bounded: at most `2 * threads` fragments are in flight (`submit` blocks on
//! the oldest beyond that), and at most `2 * threads` decoded pictures wait for an encoder.
//! Reports come out in the order fragments went in.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use kvs_mkv::Fragment;

use crate::colour::{Colour, YuvPlanes};
use crate::image::{ImageFormat, encode_yuv, goes_through_rgb, write_image};
use crate::video::starts_at_idr;
use crate::{Error, FrameDecoder, FrameError, FrameInfo, Stats, VideoOptions};

/// What became of one fragment's frames.
#[derive(Debug)]
#[non_exhaustive]
pub struct ExportReport {
    /// The fragment's position in the stream ([`Fragment::index`]).
    pub fragment_index: u64,
    /// Image files written.
    pub written: u64,
    /// Frames that failed to decode, encode or be written ([`Error::Io`]), by index.
    pub errors: Vec<FrameError>,
    /// Why nothing of the fragment could be decoded (its codec, its track...), if so.
    pub result: Result<(), Error>,
}

/// Decodes fragments and writes their selected frames into one directory, on several
/// threads.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::num::NonZeroUsize;
/// use kvs_media::{FrameExporter, ImageFormat, VideoOptions};
///
/// let dir = std::env::temp_dir().join("kvs-media-export-doc");
/// std::fs::create_dir_all(&dir)?;
/// let threads = NonZeroUsize::new(2).unwrap();
/// let mut exporter = FrameExporter::new(VideoOptions::default(), ImageFormat::Jpeg { quality: 85 }, &dir, threads);
/// # let fragments: Vec<kvs_mkv::Fragment> = Vec::new();
/// let mut reports = Vec::new();
/// for fragment in fragments {
///     reports.extend(exporter.submit(fragment));
/// }
/// reports.extend(exporter.flush());
/// println!("{} images", reports.iter().map(|r| r.written).sum::<u64>());
/// # Ok(()) }
/// ```
pub struct FrameExporter {
    decoders: Vec<Sender<(u64, Fragment)>>,
    /// Fragments in flight per decoder.
    busy: Vec<usize>,
    events: Receiver<Event>,
    threads: Vec<JoinHandle<()>>,
    track: Option<u64>,
    window: usize,
    next_seq: u64,
    /// The next fragment to report.
    next_report: u64,
    in_flight: BTreeMap<u64, Progress>,
    /// The decoder of the last fragment submitted.
    last_decoder: Option<usize>,
    decoder_stats: Vec<Stats>,
    converted: u64,
}

impl std::fmt::Debug for FrameExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameExporter")
            .field("threads", &self.decoders.len())
            .field("in_flight", &self.in_flight.len())
            .finish()
    }
}

/// A fragment in flight.
struct Progress {
    fragment_index: u64,
    decoder: usize,
    /// Pictures sent to encoders, once the fragment is decoded, and its outcome.
    decoded: Option<(usize, Result<(), Error>)>,
    encoded: usize,
    written: u64,
    errors: Vec<FrameError>,
}

/// A decoded picture on its way to an encoder.
struct EncodeJob {
    seq: u64,
    info: FrameInfo,
    colour: Colour,
    width: usize,
    height: usize,
    /// Y, U and V, packed.
    yuv: Vec<u8>,
}

impl EncodeJob {
    fn planes(&self) -> YuvPlanes<'_> {
        let (cw, ch) = (self.width.div_ceil(2), self.height.div_ceil(2));
        let (y, chroma) = self.yuv.split_at(self.width * self.height);
        let (u, v) = chroma.split_at(cw * ch);
        YuvPlanes { width: self.width, height: self.height, y, u, v, strides: (self.width, cw, cw) }
    }
}

enum Event {
    Decoded {
        seq: u64,
        decoder: usize,
        pictures: usize,
        outcome: Result<Vec<FrameError>, Error>,
        stats: Stats,
    },
    Encoded {
        seq: u64,
        info: FrameInfo,
        result: Result<PathBuf, Error>,
        converted: bool,
    },
    Panicked,
}

/// Tells the exporter when a worker dies of a panic, so that it does not wait forever.
struct PanicGuard(Sender<Event>);

impl Drop for PanicGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self.0.send(Event::Panicked);
        }
    }
}

impl FrameExporter {
    /// An exporter into `dir` (which must exist) with `threads` decode and `threads`
    /// encode workers.
    pub fn new(options: VideoOptions, format: ImageFormat, dir: &Path, threads: NonZeroUsize) -> Self {
        let n = threads.get();
        let (events_tx, events) = mpsc::channel();
        let (jobs_tx, jobs_rx) = mpsc::sync_channel::<EncodeJob>(2 * n);
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        let mut threads = Vec::with_capacity(2 * n);
        let mut decoders = Vec::with_capacity(n);
        for worker in 0..n {
            let (tx, rx) = mpsc::channel();
            decoders.push(tx);
            let (options, jobs, events) = (options.clone(), jobs_tx.clone(), events_tx.clone());
            threads.push(std::thread::spawn(move || decode_worker(worker, options, rx, jobs, events)));
        }
        for _ in 0..n {
            let (jobs, events, dir) = (Arc::clone(&jobs_rx), events_tx.clone(), dir.to_owned());
            threads.push(std::thread::spawn(move || encode_worker(format, &dir, &jobs, events)));
        }
        Self {
            decoders,
            busy: vec![0; n],
            events,
            threads,
            track: options.track,
            window: 2 * n,
            next_seq: 0,
            next_report: 0,
            in_flight: BTreeMap::new(),
            last_decoder: None,
            decoder_stats: vec![Stats::default(); n],
            converted: 0,
        }
    }

    /// Queues a fragment; returns the reports of the fragments finished meanwhile, in
    /// order. Blocks while the most fragments allowed are in flight.
    pub fn submit(&mut self, fragment: Fragment) -> Vec<ExportReport> {
        let mut reports = Vec::new();
        while self.in_flight.len() >= self.window {
            self.wait(&mut reports);
        }
        let decoder = match self.last_decoder {
            Some(last) if !starts_at_idr(&fragment, self.track) => last,
            _ => (0..self.busy.len()).min_by_key(|&d| self.busy[d]).unwrap_or(0),
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.last_decoder = Some(decoder);
        self.busy[decoder] += 1;
        let progress = Progress {
            fragment_index: fragment.index(),
            decoder,
            decoded: None,
            encoded: 0,
            written: 0,
            errors: Vec::new(),
        };
        self.in_flight.insert(seq, progress);
        if self.decoders[decoder].send((seq, fragment)).is_err() {
            panic!("a frame export thread is gone");
        }
        while let Ok(event) = self.events.try_recv() {
            self.handle(event, &mut reports);
        }
        reports
    }

    /// Waits for every fragment in flight; returns their reports in order.
    pub fn flush(&mut self) -> Vec<ExportReport> {
        let mut reports = Vec::new();
        while !self.in_flight.is_empty() {
            self.wait(&mut reports);
        }
        reports
    }

    /// The decoders' counts, over the fragments reported so far and those in progress.
    pub fn stats(&self) -> Stats {
        let mut stats = Stats::default();
        for s in &self.decoder_stats {
            stats.add(s);
        }
        stats.converted += self.converted;
        stats
    }

    fn wait(&mut self, reports: &mut Vec<ExportReport>) {
        match self.events.recv() {
            Ok(event) => self.handle(event, reports),
            Err(_) => panic!("every frame export thread is gone"),
        }
    }

    fn handle(&mut self, event: Event, reports: &mut Vec<ExportReport>) {
        match event {
            Event::Decoded { seq, decoder, pictures, outcome, stats } => {
                self.decoder_stats[decoder] = stats;
                if let Some(p) = self.in_flight.get_mut(&seq) {
                    let result = match outcome {
                        Ok(errors) => {
                            p.errors.extend(errors);
                            Ok(())
                        }
                        Err(e) => Err(e),
                    };
                    p.decoded = Some((pictures, result));
                }
            }
            Event::Encoded { seq, info, result, converted } => {
                self.converted += u64::from(converted);
                if let Some(p) = self.in_flight.get_mut(&seq) {
                    p.encoded += 1;
                    match result {
                        Ok(_) => p.written += 1,
                        Err(error) => p.errors.push(FrameError {
                            index: Some(info.index),
                            timestamp_ns: Some(info.timestamp_ns),
                            error,
                        }),
                    }
                }
            }
            Event::Panicked => panic!("a frame export thread panicked"),
        }
        self.report_finished(reports);
    }

    /// Moves the finished fragments at the head of the queue to `reports`.
    fn report_finished(&mut self, reports: &mut Vec<ExportReport>) {
        while let Some(entry) = self.in_flight.first_entry() {
            let done = matches!(entry.get().decoded, Some((pictures, _)) if pictures == entry.get().encoded);
            if !done || *entry.key() != self.next_report {
                return;
            }
            let mut p = entry.remove();
            self.next_report += 1;
            self.busy[p.decoder] -= 1;
            p.errors.sort_by_key(|e| e.index);
            let result = p.decoded.map_or(Ok(()), |(_, result)| result);
            reports.push(ExportReport {
                fragment_index: p.fragment_index,
                written: p.written,
                errors: p.errors,
                result,
            });
        }
    }
}

impl Drop for FrameExporter {
    fn drop(&mut self) {
        // Closing the decoders' queues ends them, which closes the encoders' queue.
        self.decoders.clear();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn decode_worker(
    worker: usize,
    options: VideoOptions,
    fragments: Receiver<(u64, Fragment)>,
    jobs: SyncSender<EncodeJob>,
    events: Sender<Event>,
) {
    let _guard = PanicGuard(events.clone());
    let mut decoder = FrameDecoder::new(options);
    for (seq, fragment) in fragments {
        let mut pictures = 0;
        let outcome = decoder.decode_with(&fragment, |picture| {
            let yuv = picture.yuv();
            let job = EncodeJob {
                seq,
                info: picture.info().clone(),
                colour: picture.colour(),
                width: yuv.width,
                height: yuv.height,
                yuv: yuv.to_packed(),
            };
            if jobs.send(job).is_ok() {
                pictures += 1;
            }
        });
        let event = Event::Decoded { seq, decoder: worker, pictures, outcome, stats: decoder.stats() };
        if events.send(event).is_err() {
            return;
        }
    }
}

fn encode_worker(format: ImageFormat, dir: &Path, jobs: &Mutex<Receiver<EncodeJob>>, events: Sender<Event>) {
    let _guard = PanicGuard(events.clone());
    loop {
        // The lock is held only while waiting for the next job, never while encoding.
        let job = match jobs.lock() {
            Ok(jobs) => jobs.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let converted = goes_through_rgb(format);
        let result = encode_yuv(&job.planes(), job.colour, format)
            .and_then(|bytes| write_image(&bytes, &job.info, dir, format));
        let event = Event::Encoded { seq: job.seq, info: job.info, result, converted };
        if events.send(event).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use kvs_mkv::{EbmlWriter, ids};

    use super::*;
    use crate::Selection;

    const START_MS: i64 = 1_700_000_000_000;

    /// The synthetic camera, 160x96 at 15 fps with an IDR every `gop` frames, its frames
    /// cut into fragments of `per_fragment`: when the two differ, fragments start in the
    /// middle of a GOP, as a plain file's Clusters may.
    fn camera_fragments(gop: u32, frames: u64, per_fragment: usize) -> Vec<Fragment> {
        let config = kvs_local::CameraConfig {
            width: 160,
            height: 96,
            frames_per_fragment: gop,
            ..Default::default()
        };
        let whole =
            Fragment::from_bytes(kvs_local::camera::encode_at(&config, frames, START_MS).unwrap()).unwrap();
        let codec_private = whole.tracks().unwrap().remove(0).codec_private.unwrap();
        let frames = whole.frames().unwrap();
        let fragments = frames.chunks(per_fragment).enumerate().map(|(i, chunk)| {
            let mut w = EbmlWriter::new();
            w.ebml_header("matroska");
            w.unknown_size_master(ids::SEGMENT);
            w.master(ids::INFO, |info| {
                info.uint(ids::TIMECODE_SCALE, 1_000_000);
            });
            w.master(ids::TRACKS, |t| {
                t.master(ids::TRACK_ENTRY, |e| {
                    e.uint(ids::TRACK_NUMBER, 1)
                        .uint(ids::TRACK_TYPE, 1)
                        .string(ids::CODEC_ID, "V_MPEG4/ISO/AVC");
                    e.binary(ids::CODEC_PRIVATE, &codec_private);
                });
            });
            let base = chunk[0].timestamp_ns / 1_000_000;
            w.master(ids::CLUSTER, |c| {
                c.uint(ids::TIMECODE, base as u64);
                for f in chunk {
                    c.simple_block(1, (f.timestamp_ns / 1_000_000 - base) as i16, f.keyframe, &f.payload);
                }
            });
            Fragment::from_bytes(w.into_bytes()).unwrap().renumbered(i as u64, 0)
        });
        fragments.collect()
    }

    fn index_of(rgb: &[u8]) -> u64 {
        kvs_local::camera::read_frame_index(rgb, 160, 96).expect("the picture carries its index")
    }

    /// Before, the decoder was flushed and reset at the end of every fragment, so the
    /// frames of a fragment that starts in the middle of a GOP were skipped up to the next
    /// keyframe: 8 of these 18. Now it goes on from the fragment before.
    #[test]
    fn fragments_that_start_mid_gop_go_on_from_the_one_before() {
        let fragments = camera_fragments(6, 18, 4);
        let mut decoder = FrameDecoder::new(VideoOptions::default());
        let mut indices = Vec::new();
        for fragment in &fragments {
            let decoded = decoder.decode(fragment).unwrap();
            assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
            indices.extend(decoded.frames.iter().map(|f| index_of(f.rgb.as_slice().unwrap())));
        }
        assert_eq!(indices, (0..18).collect::<Vec<_>>());
        let stats = decoder.stats();
        assert_eq!(
            (stats.decoded, stats.skipped_before_keyframe, stats.fragments_without_leading_keyframe),
            (18, 0, 0)
        );
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }

    #[test]
    fn two_threads_write_every_frame_into_its_own_file_and_report_in_order() {
        let fragments = camera_fragments(6, 18, 4);
        let dir = tempfile::tempdir().unwrap();
        let threads = NonZeroUsize::new(2).unwrap();
        let mut exporter = FrameExporter::new(VideoOptions::default(), ImageFormat::Png, dir.path(), threads);
        let mut reports = Vec::new();
        for fragment in fragments {
            reports.extend(exporter.submit(fragment));
        }
        reports.extend(exporter.flush());
        let summary: Vec<(u64, u64)> = reports.iter().map(|r| (r.fragment_index, r.written)).collect();
        assert_eq!(summary, [(0, 4), (1, 4), (2, 4), (3, 4), (4, 2)]);
        assert!(reports.iter().all(|r| r.errors.is_empty() && r.result.is_ok()), "{reports:?}");
        let stats = exporter.stats();
        assert_eq!((stats.decoded, stats.converted, stats.skipped_before_keyframe), (18, 18, 0));
        // Each file holds its own frame: PNG is lossless, so the index drawn in the
        // picture reads back exactly.
        for (fragment, frame) in (0..18u64).map(|i| (i / 4, i % 4)) {
            let bytes = std::fs::read(dir.path().join(format!("{fragment}-{frame}.png"))).unwrap();
            let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
            let mut rgb = vec![0; reader.output_buffer_size().unwrap()];
            reader.next_frame(&mut rgb).unwrap();
            assert_eq!(index_of(&rgb), fragment * 4 + frame);
        }
        assert_eq!(names(dir.path()).len(), 18);
    }

    #[test]
    fn the_selection_and_write_failures_reach_the_reports() {
        let fragments = camera_fragments(6, 12, 6);
        let dir = tempfile::tempdir().unwrap();
        let threads = NonZeroUsize::new(3).unwrap();
        let options = VideoOptions::with_selection(Selection::Keyframes);
        let mut exporter =
            FrameExporter::new(options, ImageFormat::Jpeg { quality: 80 }, dir.path(), threads);
        let mut reports = exporter.submit(fragments[0].clone());
        reports.extend(exporter.flush());
        assert_eq!(names(dir.path()), ["0-0.jpg"]);
        assert_eq!(reports.len(), 1);

        let gone = dir.path().join("gone");
        let mut exporter = FrameExporter::new(VideoOptions::default(), ImageFormat::Png, &gone, threads);
        let mut reports = exporter.submit(fragments[1].clone());
        reports.extend(exporter.flush());
        let indices: Vec<Option<usize>> = reports[0].errors.iter().map(|e| e.index).collect();
        assert_eq!(indices, (0..6).map(Some).collect::<Vec<_>>());
        assert!(reports[0].errors.iter().all(|e| matches!(e.error, Error::Io { .. })));
    }
}
