//! [`Refragmenter`]: any Matroska input (a file, a pipe from ffmpeg or GStreamer, in any
//! Cluster layout, fed in chunks of any size) turned into KVS fragments: each starts at a
//! keyframe, a new one at the first keyframe once the target duration is reached; one
//! Cluster each with an absolute Timecode in milliseconds; the input's Tracks (and so its
//! CodecPrivate) in the header; the per-fragment tags given, as KVS fragment metadata.
//!
//! Sans-IO: bytes in through [`feed`](Refragmenter::feed) and
//! [`finish`](Refragmenter::finish), fragments out of [`poll`](Refragmenter::poll); no
//! clock (the wall-clock anchor is given), no sockets. Reading EBML belongs to `kvs-mkv`;
//! sending and acknowledgements to the [`UploadBuffer`](crate::UploadBuffer) and the driver.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use kvs_mkv::{EbmlWriter, Fragment, Frame, SegmentItem, SegmentReader, TrackKind, ids};

use crate::Error;

/// The EBML magic every Matroska stream starts with.
const EBML_MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];
/// Cluster timecodes before this (2000-01-01, in ms) are relative to the input's start,
/// not wall-clock times: files start at 0. The same rule as the server's.
const ABSOLUTE_FLOOR_MS: i64 = 946_684_800_000;
/// Output timecodes are in milliseconds, as KVS expects.
const MS: i64 = 1_000_000;

/// How to cut. `Default`: 2 s fragments, no tags, KVS's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefragmentConfig {
    /// Target fragment duration: a new fragment starts at the first keyframe at or past it.
    pub fragment_duration: Duration,
    /// Longest fragment KVS accepts (10 s, error 4002): a fragment that would grow past it
    /// with no keyframe to cut at ends the put with [`Error::NoKeyframe`].
    pub max_fragment_duration: Duration,
    /// Largest fragment KVS accepts (50 MB, error 4001).
    pub max_fragment_bytes: usize,
    /// SimpleTags (name, value) written as the metadata of every fragment.
    pub tags: Vec<(String, String)>,
    /// Wall-clock time (ms since the Unix epoch) of the input's first frame, for inputs
    /// whose timecodes start near 0; inputs with absolute timecodes keep theirs.
    pub start_ms: i64,
}

impl Default for RefragmentConfig {
    fn default() -> Self {
        Self {
            fragment_duration: Duration::from_secs(2),
            max_fragment_duration: Duration::from_secs(10),
            max_fragment_bytes: 50_000_000,
            tags: Vec::new(),
            start_ms: 0,
        }
    }
}

/// One KVS fragment ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutFragment {
    /// EBML header, unknown-size Segment, Info and the input's Tracks: sent once at the start
    /// of each PutMedia connection, and again only where the input's tracks change.
    pub header: Bytes,
    /// The fragment metadata (Tags) and the Cluster.
    pub body: Bytes,
    /// The Cluster Timecode (absolute, ms): what `FragmentTimecode` in the acks refers to.
    pub timecode_ms: i64,
    /// The earliest frame time (ms), which some servers acknowledge instead.
    pub earliest_ms: i64,
    /// Frames in the fragment.
    pub frames: usize,
    /// From the first frame to the last, in ms.
    pub span_ms: i64,
}

impl OutFragment {
    /// Bytes the fragment holds in memory (header shared, not counted).
    pub fn len(&self) -> usize {
        self.body.len()
    }

    /// Whether the fragment holds no bytes (never, for a built one).
    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }
}

/// A fragment being filled.
#[derive(Debug)]
struct Building {
    header: Bytes,
    start_ms: i64,
    frames: Vec<(Frame, i64)>,
    bytes: usize,
}

/// Re-fragments a Matroska input. Call order: [`feed`](Self::feed) chunks, draining
/// [`poll`](Self::poll) after each; [`finish`](Self::finish) at the end of input, and drain
/// again. After an `Err`, nothing more comes out.
///
/// ```
/// use kvs_producer::{Refragmenter, RefragmentConfig};
///
/// let mut r = Refragmenter::new(RefragmentConfig::default());
/// r.feed(kvs_mkv::testing::stream_of(3));
/// r.finish();
/// let fragments: Vec<_> = std::iter::from_fn(|| r.poll()).collect::<Result<_, _>>().unwrap();
/// // The test stream's keyframes are 2 s apart: one 2 s fragment each.
/// assert_eq!(fragments.len(), 3);
/// assert_eq!(fragments[0].frames, 3);
/// ```
#[derive(Debug)]
pub struct Refragmenter {
    config: RefragmentConfig,
    reader: SegmentReader,
    /// Input bytes held until the first Segment header is seen (see [`erase_segment_size`]).
    prefix: Option<Vec<u8>>,
    scale: u64,
    tracks: Option<Bytes>,
    header: Option<Bytes>,
    cut_track: Option<u64>,
    /// Added to an input time (ns, scaled) to give absolute ms; fixed by the first frame.
    offset_ms: Option<i64>,
    current: Option<Building>,
    /// First frame dropped while waiting for the first keyframe.
    waiting_since_ms: Option<i64>,
    /// Time of the last frame read.
    last_at_ms: Option<i64>,
    skipped: u64,
    last_end_ms: Option<i64>,
    out: VecDeque<Result<OutFragment, Error>>,
    failed: bool,
    finished: bool,
}

impl Refragmenter {
    /// A refragmenter with this configuration.
    pub fn new(config: RefragmentConfig) -> Self {
        Self {
            config,
            reader: SegmentReader::new(),
            prefix: Some(Vec::new()),
            scale: 1_000_000,
            tracks: None,
            header: None,
            cut_track: None,
            offset_ms: None,
            current: None,
            waiting_since_ms: None,
            last_at_ms: None,
            skipped: 0,
            last_end_ms: None,
            out: VecDeque::new(),
            failed: false,
            finished: false,
        }
    }

    /// Frames dropped before the first keyframe (a pipe joined mid-GOP).
    pub fn skipped_frames(&self) -> u64 {
        self.skipped
    }

    /// Adds the next chunk of input.
    pub fn feed(&mut self, chunk: Bytes) {
        if self.failed || self.finished || chunk.is_empty() {
            return;
        }
        match self.prefix.take() {
            None => self.reader.feed(chunk),
            Some(mut prefix) => {
                prefix.extend_from_slice(&chunk);
                match erase_segment_size(&mut prefix) {
                    Prefix::NeedMore => self.prefix = Some(prefix),
                    Prefix::NotMatroska => return self.fail(Error::NotMatroska),
                    Prefix::Ready => self.reader.feed(Bytes::from(prefix)),
                }
            }
        }
        self.drain();
    }

    /// Marks the end of input: the fragment in progress is completed.
    pub fn finish(&mut self) {
        if self.failed || self.finished {
            return;
        }
        self.finished = true;
        if let Some(prefix) = self.prefix.take() {
            if prefix.is_empty() {
                return self.fail(Error::EmptyInput);
            }
            if prefix.len() < EBML_MAGIC.len() || prefix[..4] != EBML_MAGIC {
                return self.fail(Error::NotMatroska);
            }
            self.reader.feed(Bytes::from(prefix));
        }
        self.reader.finish();
        self.drain();
        if self.failed {
            return;
        }
        self.close_current();
        if self.last_end_ms.is_none() && !self.failed {
            match self.waiting_since_ms {
                Some(_) => {
                    let limit_ms = self.config.max_fragment_duration.as_millis() as i64;
                    self.fail(Error::NoKeyframe { waited_ms: self.waited_ms(), limit_ms })
                }
                None => self.fail(Error::NoFrames),
            }
        }
    }

    /// The next fragment, or the error that ended the input.
    pub fn poll(&mut self) -> Option<Result<OutFragment, Error>> {
        self.out.pop_front()
    }

    fn fail(&mut self, error: Error) {
        if !self.failed {
            self.failed = true;
            self.out.push_back(Err(error));
        }
    }

    fn drain(&mut self) {
        while let Some(item) = self.reader.poll() {
            if self.failed {
                return;
            }
            match item {
                Ok(SegmentItem::Child(e)) => match e.id {
                    ids::INFO => self.info(&e.bytes),
                    ids::TRACKS => self.tracks(e.bytes),
                    ids::CLUSTER => self.cluster(e.bytes),
                    _ => {}
                },
                Ok(_) => {}
                Err(kvs_mkv::Error::Truncated { offset, .. }) => {
                    // Whole frames already read still go out; the cut is then reported.
                    self.close_current();
                    self.fail(Error::Truncated { offset });
                }
                Err(e) => self.fail(Error::Mkv(e)),
            }
        }
    }

    fn info(&mut self, info: &Bytes) {
        // The Info's TimecodeScale, read through the fragment reader of kvs-mkv.
        let mut w = EbmlWriter::new();
        w.ebml_header("matroska").unknown_size_master(ids::SEGMENT).raw(info);
        if let Ok(f) = Fragment::from_bytes(w.into_bytes()) {
            self.scale = f.timecode_scale().unwrap_or(1_000_000);
        }
    }

    fn tracks(&mut self, tracks: Bytes) {
        if self.tracks.as_ref() == Some(&tracks) {
            return;
        }
        let mut w = EbmlWriter::new();
        w.ebml_header("matroska").unknown_size_master(ids::SEGMENT).raw(&tracks);
        let parsed = Fragment::from_bytes(w.into_bytes()).and_then(|f| f.tracks());
        let parsed = match parsed {
            Ok(parsed) => parsed,
            Err(e) => return self.fail(Error::Mkv(e)),
        };
        // Fragments are cut at the keyframes of the first video track (else the first track).
        self.cut_track =
            parsed.iter().find(|t| t.kind == TrackKind::Video).or(parsed.first()).map(|t| t.number);
        // New tracks (a new codec configuration) start a new fragment with the new header.
        self.close_current();
        let mut w = EbmlWriter::new();
        w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
        w.master(ids::INFO, |info| {
            info.uint(ids::TIMECODE_SCALE, MS as u64)
                .string(ids::MUXING_APP, "kvs-producer")
                .string(ids::WRITING_APP, "kvs put");
        });
        w.raw(&tracks);
        self.header = Some(w.into_bytes());
        self.tracks = Some(tracks);
    }

    fn cluster(&mut self, cluster: Bytes) {
        let Some(header) = self.header.clone() else { return self.fail(Error::NoTracks) };
        let mut w = EbmlWriter::new();
        w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
        w.master(ids::INFO, |info| {
            info.uint(ids::TIMECODE_SCALE, self.scale);
        });
        w.raw(&cluster);
        let fragment = match Fragment::from_bytes(w.into_bytes()) {
            Ok(f) => f,
            Err(e) => return self.fail(Error::Mkv(e)),
        };
        let (frames, error) = fragment.frames_lossy();
        for frame in frames {
            self.frame(&header, frame);
            if self.failed {
                return;
            }
        }
        if let Some(e) = error {
            self.close_current();
            self.fail(Error::Mkv(e));
        }
    }

    fn frame(&mut self, header: &Bytes, frame: Frame) {
        let ns = frame.timestamp_ns;
        let offset = *self.offset_ms.get_or_insert_with(|| {
            if ns.div_euclid(MS) >= ABSOLUTE_FLOOR_MS { 0 } else { self.config.start_ms - ns.div_euclid(MS) }
        });
        let at_ms = ns.div_euclid(MS) + offset;
        self.last_at_ms = Some(at_ms);
        let cuts = Some(frame.track) == self.cut_track && frame.keyframe;
        let target = self.config.fragment_duration.as_millis() as i64;
        let limit = self.config.max_fragment_duration.as_millis() as i64;
        match &self.current {
            None if !cuts => {
                self.skipped += 1;
                let since = *self.waiting_since_ms.get_or_insert(at_ms);
                if at_ms - since >= limit {
                    self.fail(Error::NoKeyframe { waited_ms: at_ms - since, limit_ms: limit });
                }
                return;
            }
            Some(b) if cuts && at_ms - b.start_ms >= target => self.close_current(),
            Some(b) if at_ms - b.start_ms >= limit => {
                let waited_ms = at_ms - b.start_ms;
                self.close_current();
                return self.fail(Error::NoKeyframe { waited_ms, limit_ms: limit });
            }
            _ => {}
        }
        let building = self.current.get_or_insert_with(|| Building {
            header: header.clone(),
            start_ms: at_ms,
            frames: Vec::new(),
            bytes: 0,
        });
        building.bytes += frame.payload.len() + 16;
        let size = building.bytes;
        building.frames.push((frame, at_ms));
        if size > self.config.max_fragment_bytes {
            self.current = None;
            self.fail(Error::FragmentTooLarge { size, limit: self.config.max_fragment_bytes });
        }
    }

    fn waited_ms(&self) -> i64 {
        match (self.waiting_since_ms, self.last_at_ms) {
            (Some(since), Some(last)) => last - since,
            _ => 0,
        }
    }

    fn close_current(&mut self) {
        let Some(b) = self.current.take() else { return };
        let earliest_ms = b.frames.iter().map(|f| f.1).min().unwrap_or(b.start_ms);
        let latest_ms = b.frames.iter().map(|f| f.1).max().unwrap_or(b.start_ms);
        let mut w = EbmlWriter::new();
        if !self.config.tags.is_empty() {
            let tags: Vec<(&str, &str)> =
                self.config.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            w.simple_tags(&tags);
        }
        let frames = b.frames.len();
        w.master(ids::CLUSTER, |c| {
            c.uint(ids::TIMECODE, b.start_ms.max(0) as u64);
            for (frame, at_ms) in &b.frames {
                // Within the 10 s limit, so the offset fits an i16.
                let relative = (at_ms - b.start_ms).clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16;
                match frame.duration_ns {
                    Some(d) => {
                        let mut block = Vec::with_capacity(frame.payload.len() + 4);
                        kvs_mkv::vint::write_size(&mut block, frame.track);
                        block.extend_from_slice(&relative.to_be_bytes());
                        block.push(0);
                        block.extend_from_slice(&frame.payload);
                        c.master(ids::BLOCK_GROUP, |g| {
                            g.binary(ids::BLOCK, &block).uint(ids::BLOCK_DURATION, d / MS as u64);
                            if !frame.keyframe {
                                g.int(ids::REFERENCE_BLOCK, -1);
                            }
                        });
                    }
                    None => {
                        c.simple_block(frame.track, relative, frame.keyframe, &frame.payload);
                    }
                }
            }
        });
        self.last_end_ms = Some(latest_ms);
        self.out.push_back(Ok(OutFragment {
            header: b.header,
            body: w.into_bytes(),
            timecode_ms: b.start_ms,
            earliest_ms,
            frames,
            span_ms: latest_ms - earliest_ms,
        }));
    }
}

/// What the start of the input says.
enum Prefix {
    NeedMore,
    NotMatroska,
    /// The first Segment header has been seen (its size made unknown).
    Ready,
}

/// Reads a vint length from its first byte (1 to 8), `None` for a zero byte.
fn vint_len(first: u8) -> Option<usize> {
    (first != 0).then(|| first.leading_zeros() as usize + 1)
}

/// Checks the EBML magic and makes the first Segment's size unknown, in place.
///
/// A file's Segment declares its whole size, which the element reader would refuse as an
/// element over its limit (files over 64 MiB); its children are read one by one either
/// way, so nothing is lost by forgetting the Segment's size.
fn erase_segment_size(prefix: &mut [u8]) -> Prefix {
    let n = prefix.len().min(EBML_MAGIC.len());
    if prefix[..n] != EBML_MAGIC[..n] {
        return Prefix::NotMatroska;
    }
    let mut pos = 0;
    loop {
        // Top level: an id (at most 4 bytes), then a size vint.
        let Some(&first) = prefix.get(pos) else { return Prefix::NeedMore };
        let Some(id_len) = vint_len(first).filter(|&l| l <= 4) else { return Prefix::Ready };
        let Some(&size_first) = prefix.get(pos + id_len) else { return Prefix::NeedMore };
        let Some(size_len) = vint_len(size_first) else { return Prefix::Ready };
        let size_at = pos + id_len;
        let Some(size_bytes) = prefix.get(size_at..size_at + size_len) else { return Prefix::NeedMore };
        let id = prefix[pos..pos + id_len].iter().fold(0u32, |acc, &b| acc << 8 | u32::from(b));
        if id == ids::SEGMENT {
            let marker = 0x80u8 >> (size_len - 1);
            prefix[size_at] = marker | (marker - 1);
            for b in &mut prefix[size_at + 1..size_at + size_len] {
                *b = 0xFF;
            }
            return Prefix::Ready;
        }
        let mut size = u64::from(size_bytes[0]) & (0xFF >> size_len);
        for &b in &size_bytes[1..] {
            size = size << 8 | u64::from(b);
        }
        // Only small elements (the EBML header, Void) come before the Segment.
        if size > 4096 {
            return Prefix::Ready;
        }
        pos = size_at + size_len + size as usize;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8], chunk: usize, config: RefragmentConfig) -> Vec<Result<OutFragment, String>> {
        let mut r = Refragmenter::new(config);
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            r.feed(Bytes::copy_from_slice(piece));
            out.extend(std::iter::from_fn(|| r.poll()));
        }
        r.finish();
        out.extend(std::iter::from_fn(|| r.poll()));
        out.into_iter().map(|r| r.map_err(|e| e.to_string())).collect()
    }

    /// A producer stream: `clusters` Clusters of `per_cluster` 40 ms frames, a keyframe
    /// every `gop` frames, timecodes from 0.
    fn stream(clusters: u64, per_cluster: u64, gop: u64) -> Vec<u8> {
        let mut w = EbmlWriter::new();
        w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
        w.master(ids::INFO, |i| {
            i.uint(ids::TIMECODE_SCALE, 1_000_000);
        });
        w.master(ids::TRACKS, |t| {
            t.master(ids::TRACK_ENTRY, |e| {
                e.uint(ids::TRACK_NUMBER, 1)
                    .uint(ids::TRACK_TYPE, 1)
                    .string(ids::CODEC_ID, "V_MPEG4/ISO/AVC");
            });
        });
        for c in 0..clusters {
            w.master(ids::CLUSTER, |cl| {
                cl.uint(ids::TIMECODE, c * per_cluster * 40);
                for j in 0..per_cluster {
                    let i = c * per_cluster + j;
                    let payload = format!("frame{i}");
                    cl.simple_block(1, (j * 40) as i16, i.is_multiple_of(gop), payload.as_bytes());
                }
            });
        }
        w.as_slice().to_vec()
    }

    fn config(start_ms: i64) -> RefragmentConfig {
        RefragmentConfig { start_ms, ..RefragmentConfig::default() }
    }

    #[test]
    fn fragments_start_at_keyframes_after_the_target_duration() {
        // 100 frames of 40 ms (4 s), keyframe every 25 (1 s): 2 s fragments of 50 frames.
        let out = run(&stream(4, 25, 25), 1 << 20, config(1_700_000_000_000));
        let fragments: Vec<OutFragment> = out.into_iter().map(Result::unwrap).collect();
        assert_eq!(fragments.iter().map(|f| f.frames).collect::<Vec<_>>(), [50, 50]);
        assert_eq!(fragments[0].timecode_ms, 1_700_000_000_000);
        assert_eq!(fragments[1].timecode_ms, 1_700_000_002_000);
        let parsed =
            Fragment::from_bytes([&fragments[1].header[..], &fragments[1].body[..]].concat().into()).unwrap();
        let frames = parsed.frames().unwrap();
        assert!(frames[0].keyframe);
        assert_eq!(&frames[0].payload[..], b"frame50");
        assert_eq!(frames[49].timestamp_ns, (1_700_000_002_000 + 49 * 40) * MS);
    }

    #[test]
    fn leading_frames_before_a_keyframe_are_skipped() {
        let mut input = stream(1, 10, 5);
        // Make the first frame a delta frame: the flags byte of the first SimpleBlock.
        let at = input.windows(6).position(|w| w == b"frame0").unwrap() - 1;
        input[at] = 0;
        let mut r = Refragmenter::new(config(0));
        r.feed(Bytes::from(input.clone()));
        r.finish();
        let f = r.poll().unwrap().unwrap();
        assert_eq!((f.frames, f.timecode_ms, r.skipped_frames()), (5, 200, 5));
        assert!(r.poll().is_none());
        // With no keyframe at all, nothing is sent and the wait is reported.
        let mut input = stream(1, 10, 100);
        input[at] = 0;
        assert_eq!(
            run(&input, 7, config(0)),
            [Err("no keyframe for 360 ms (a KVS fragment is at most 10000 ms long)".into())]
        );
    }

    #[test]
    fn no_keyframe_for_too_long_is_an_error() {
        // 400 frames of 40 ms = 16 s with a keyframe only at the start.
        let out = run(&stream(16, 25, 1000), 4096, config(0));
        assert_eq!(out.len(), 2);
        assert!(out[0].is_ok());
        assert!(out[1].as_ref().unwrap_err().contains("no keyframe for 10000 ms"), "{out:?}");
    }

    #[test]
    fn not_matroska_and_truncated_inputs_are_errors() {
        assert_eq!(run(b"hello world", 3, config(0)), [Err(Error::NotMatroska.to_string())]);
        assert_eq!(run(b"", 3, config(0)), [Err(Error::EmptyInput.to_string())]);
        assert_eq!(run(b"\x1a\x45", 3, config(0)), [Err(Error::NotMatroska.to_string())]);
        let whole = stream(4, 25, 25);
        let out = run(&whole[..whole.len() - 100], 1000, config(0));
        assert!(out[0].is_ok());
        assert!(out.last().unwrap().as_ref().unwrap_err().contains("cut short"), "{out:?}");
    }

    #[test]
    fn known_segment_sizes_are_forgotten() {
        let mut prefix = EbmlWriter::new();
        prefix.ebml_header("matroska");
        let at = prefix.len();
        prefix.raw(&[0x18, 0x53, 0x80, 0x67, 0x08, 0x00, 0x10, 0x00, 0x00]);
        let mut bytes = prefix.as_slice().to_vec();
        assert!(matches!(erase_segment_size(&mut bytes[..at + 3]), Prefix::NeedMore));
        assert!(matches!(erase_segment_size(&mut bytes), Prefix::Ready));
        assert_eq!(&bytes[at + 4..at + 9], &[0x0F, 0xFF, 0xFF, 0xFF, 0xFF]);
    }

    #[test]
    fn tags_go_before_each_cluster() {
        let config = RefragmentConfig { tags: vec![("camera".into(), "door".into())], ..config(0) };
        let out = run(&stream(4, 25, 25), 999, config);
        for f in out {
            let f = f.unwrap();
            let parsed = Fragment::from_bytes([&f.header[..], &f.body[..]].concat().into()).unwrap();
            let tags: Vec<_> = parsed.tags().iter().map(|t| (t.name.clone(), t.value.clone())).collect();
            assert_eq!(tags, [("camera".to_owned(), Some("door".to_owned()))]);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_chunking_gives_the_same_fragments(chunk in 1usize..5000, gop in 1u64..60) {
            let input = stream(6, 20, gop);
            let whole = run(&input, input.len(), config(5));
            proptest::prop_assert_eq!(run(&input, chunk, config(5)), whole);
        }
    }
}
