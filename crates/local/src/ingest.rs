//! Turning a producer's MKV stream (a PutMedia body, a file, the camera) into fragments,
//! the way KVS does: each Cluster becomes one fragment, carrying the producer's header
//! elements (Info, Tracks, ...) and the producer tags sent since the previous Cluster.
//!
//! Pure bytes in, [`NewFragment`]s out: no clock, no storage. Numbering and timestamps of
//! the server side belong to the store.

use bytes::Bytes;
use kvs_mkv::{EbmlWriter, ElementTree, Fragment, Limits, RawElement, SegmentItem, SegmentReader, ids};

use crate::{Error, MediaError};

/// Producer timecodes before this (2000-01-01) are taken as relative to the producer's
/// start rather than as absolute times: files and captures often start at 0.
const ABSOLUTE_FLOOR_MS: i64 = 946_684_800_000;

/// The largest fragment accepted (KVS: 50 MB).
pub(crate) const MAX_FRAGMENT_BYTES: usize = 50_000_000;

/// Bytes of an element's start kept to read a Cluster's Timecode before the Cluster is
/// whole: its id, size and a first Timecode child fit.
const PEEK: usize = 32;

/// A fragment cut from the producer stream, before the store numbers it.
#[derive(Debug, Clone)]
pub(crate) struct NewFragment {
    /// EBML header, unknown-size Segment header, producer header elements and tags.
    pub head: Bytes,
    /// The Cluster's rebuilt first bytes (a replay's new Timecode), else empty: the
    /// Cluster is `cluster_start` followed by `cluster`.
    pub cluster_start: Bytes,
    /// The Cluster, as the producer sent it (or its rest after `cluster_start`).
    pub cluster: Bytes,
    /// Producer timestamp of the fragment's first frame, ms since the epoch.
    pub producer_ms: i64,
    /// Length of the fragment in ms (frame span plus one frame interval).
    pub duration_ms: u64,
    /// Time of the first frame as sent (Cluster Timecode plus block offset), in ms.
    pub timecode_ms: i64,
}

/// What the ingester hands out, in order.
#[derive(Debug)]
pub(crate) enum Ingested {
    /// A Cluster has begun to arrive (PutMedia's BUFFERING); given once per Cluster, before
    /// its fragment.
    Buffering {
        /// Its Timecode, in ms.
        timecode_ms: i64,
    },
    /// A whole fragment.
    Fragment(NewFragment),
}

/// How the producer's Cluster timecodes are meant (`x-amzn-fragment-timecode-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimecodeType {
    /// Timecodes are absolute times (those before 2000 count as relative).
    Absolute,
    /// Timecodes are relative to the producer start timestamp.
    Relative,
}

/// Cuts a producer stream into fragments. Feed chunks, take the fragments out.
///
/// Everything it holds between Clusters (header elements, Tags waiting for their Cluster,
/// the part of the element being received) is bounded by `max_held`: past it, a
/// [`MediaError::BufferFull`] and nothing more.
#[derive(Debug)]
pub(crate) struct Ingester {
    reader: SegmentReader,
    ebml: Option<Bytes>,
    header: Vec<RawElement>,
    pending_tags: Vec<Bytes>,
    /// Bytes of `header` and `pending_tags`.
    metadata_bytes: usize,
    clusters_in_segment: bool,
    timecode_type: TimecodeType,
    producer_start_ms: i64,
    failed: bool,
    max_held: usize,
    /// PutMedia's rule that fragments never go back in time.
    in_order: bool,
    /// Bytes fed, and the stream offset up to which the reader handed elements out.
    fed: u64,
    consumed: u64,
    /// The first bytes of the element being received (at `consumed`), and the last bytes
    /// fed before the current chunk, to fill it when an element starts in the previous one.
    peek: Vec<u8>,
    tail: Vec<u8>,
    /// Whether the Cluster being received was announced ([`Ingested::Buffering`]).
    announced: bool,
    timecode_scale: u64,
    last_frame_ns: Option<i64>,
}

impl Ingester {
    /// A new ingester; `producer_start_ms` anchors relative timecodes.
    pub fn new(timecode_type: TimecodeType, producer_start_ms: i64) -> Self {
        Self {
            reader: SegmentReader::with_limits(
                Limits::default().with_max_element_size(MAX_FRAGMENT_BYTES as u64),
            ),
            ebml: None,
            header: Vec::new(),
            pending_tags: Vec::new(),
            metadata_bytes: 0,
            clusters_in_segment: false,
            timecode_type,
            producer_start_ms,
            failed: false,
            max_held: usize::MAX,
            in_order: false,
            fed: 0,
            consumed: 0,
            peek: Vec::new(),
            tail: Vec::new(),
            announced: false,
            timecode_scale: 1_000_000,
            last_frame_ns: None,
        }
    }

    /// As PutMedia ingests: at most `max_held` bytes held, and fragments in time order.
    pub fn for_put_media(timecode_type: TimecodeType, producer_start_ms: i64, max_held: usize) -> Self {
        Self { max_held, in_order: true, ..Self::new(timecode_type, producer_start_ms) }
    }

    /// Adds input; returns what it completed. After an error, nothing more.
    pub fn feed(&mut self, chunk: Bytes) -> Vec<Result<Ingested, Error>> {
        let start = self.fed;
        self.fed += chunk.len() as u64;
        self.reader.feed(chunk.clone());
        let mut out = self.drain();
        if !self.failed {
            self.fill_peek(&chunk, start);
            self.announce(&mut out);
            self.check_held(&mut out);
        }
        let keep = chunk.len().min(PEEK);
        self.tail.extend_from_slice(&chunk[chunk.len() - keep..]);
        let excess = self.tail.len().saturating_sub(PEEK);
        self.tail.drain(..excess);
        out
    }

    /// Marks the end of input; returns what it completed.
    pub fn finish(&mut self) -> Vec<Result<Ingested, Error>> {
        self.reader.finish();
        self.drain()
    }

    /// Bytes held: header elements, pending Tags, and the element being received.
    fn held(&self) -> usize {
        self.metadata_bytes.saturating_add((self.fed - self.consumed) as usize)
    }

    fn check_held(&mut self, out: &mut Vec<Result<Ingested, Error>>) {
        let held = self.held();
        if held > self.max_held {
            self.failed = true;
            let in_cluster = self.peek.starts_with(&CLUSTER_ID);
            out.push(Err(MediaError::BufferFull { held, limit: self.max_held, in_cluster }.into()));
        }
    }

    /// Copies the first bytes of the element being received into `peek`, from the tail of
    /// the previous chunk and from this one (`chunk` starts at stream offset `start`).
    fn fill_peek(&mut self, chunk: &[u8], start: u64) {
        let tail_start = start - self.tail.len() as u64;
        while self.peek.len() < PEEK {
            let at = self.consumed + self.peek.len() as u64;
            let byte = if at < tail_start {
                // The start of the element is gone: no early announcement for it.
                return;
            } else if at < start {
                self.tail[(at - tail_start) as usize]
            } else {
                match chunk.get((at - start) as usize) {
                    Some(&b) => b,
                    None => return,
                }
            };
            self.peek.push(byte);
        }
    }

    /// Announces the Cluster being received once its Timecode can be read.
    fn announce(&mut self, out: &mut Vec<Result<Ingested, Error>>) {
        if self.announced || !self.peek.starts_with(&CLUSTER_ID) {
            return;
        }
        if let Some(ticks) = first_timecode(&Bytes::copy_from_slice(&self.peek))
            && let Ok(timecode_ms) = self.timecode_ms(ticks)
        {
            self.announced = true;
            out.push(Ok(Ingested::Buffering { timecode_ms }));
        }
    }

    fn timecode_ms(&self, ticks: u64) -> Result<i64, MediaError> {
        // Frames add a signed 16-bit offset to the Cluster's Timecode, in ticks: leave room.
        let ns = i128::from(ticks) * i128::from(self.timecode_scale);
        let limit = i128::from(i64::MAX) - i128::from(i16::MAX) * i128::from(self.timecode_scale);
        if ns > limit {
            return Err(MediaError::InvalidProducerTimestamp("the Cluster Timecode is past the year 2262"));
        }
        Ok((ns / 1_000_000) as i64)
    }

    fn drain(&mut self) -> Vec<Result<Ingested, Error>> {
        let mut out = Vec::new();
        while let Some(item) = self.reader.poll() {
            if self.failed {
                continue;
            }
            if let Ok(SegmentItem::EbmlHeader(e) | SegmentItem::SegmentStart(e) | SegmentItem::Child(e)) =
                &item
            {
                self.consumed = e.offset + e.bytes.len() as u64;
                self.peek.clear();
            }
            let result = match item {
                Ok(SegmentItem::EbmlHeader(e)) => {
                    self.ebml = Some(e.bytes);
                    Ok(())
                }
                Ok(SegmentItem::SegmentStart(_)) => {
                    // Tags pending from the last segment still go with the next fragment.
                    self.metadata_bytes -= self.header.iter().map(|h| h.bytes.len()).sum::<usize>();
                    self.header.clear();
                    self.clusters_in_segment = false;
                    Ok(())
                }
                Ok(SegmentItem::Child(e)) => self.child(e, &mut out),
                Ok(_) => Ok(()),
                Err(e) => Err(Error::Mkv(e)),
            };
            if let Err(e) = result {
                self.failed = true;
                out.push(Err(e));
            } else if self.held() > self.max_held {
                self.check_held(&mut out);
            }
        }
        out
    }

    fn child(&mut self, e: RawElement, out: &mut Vec<Result<Ingested, Error>>) -> Result<(), Error> {
        match e.id {
            ids::CLUSTER => {
                // A Cluster that came whole in one chunk is announced now, checked or not:
                // its BUFFERING goes before its RECEIVED or its ERROR.
                if !std::mem::take(&mut self.announced)
                    && let Some(timecode_ms) =
                        cluster_timecode(&e.bytes).and_then(|t| self.timecode_ms(t).ok())
                {
                    out.push(Ok(Ingested::Buffering { timecode_ms }));
                }
                let fragment = self.cluster(e.bytes)?;
                out.push(Ok(Ingested::Fragment(fragment)));
            }
            ids::TAGS => {
                let kept =
                    if is_kvs_tags(&e.bytes) { without_kvs_tags(&e.bytes) } else { Some(e.bytes.clone()) };
                match kept {
                    // Before the first Cluster: the producer's header tags, in every fragment.
                    Some(bytes) if !self.clusters_in_segment => {
                        self.metadata_bytes += bytes.len();
                        self.header.push(RawElement { bytes, header_len: 0, ..e });
                    }
                    // Between Clusters: fragment metadata, for the next fragment only.
                    Some(bytes) => {
                        self.metadata_bytes += bytes.len();
                        self.pending_tags.push(bytes);
                    }
                    None => {}
                }
            }
            ids::CUES | ids::CRC32 => {}
            _ => {
                if e.id == ids::INFO {
                    self.timecode_scale = ElementTree::parse(e.bytes.clone())
                        .find("TimecodeScale")
                        .and_then(|s| s.as_uint())
                        .filter(|&s| s > 0)
                        .unwrap_or(1_000_000);
                }
                self.metadata_bytes += e.bytes.len();
                // A header element sent again (a new Info or Tracks) replaces the old one.
                match self.header.iter_mut().find(|h| h.id == e.id && h.id != ids::VOID) {
                    Some(slot) => {
                        self.metadata_bytes -= slot.bytes.len();
                        *slot = e;
                    }
                    None => self.header.push(e),
                }
            }
        }
        Ok(())
    }

    fn cluster(&mut self, cluster: Bytes) -> Result<NewFragment, Error> {
        self.clusters_in_segment = true;
        let Some(ebml) = self.ebml.clone() else {
            return Err(MediaError::ClusterBeforeEbmlHeader.into());
        };
        if !self.header.iter().any(|h| h.id == ids::TRACKS) {
            return Err(MediaError::ClusterBeforeTracks.into());
        }
        let mut w = EbmlWriter::new();
        w.raw(&ebml).unknown_size_master(ids::SEGMENT);
        for h in &self.header {
            w.raw(&h.bytes);
        }
        for t in &self.pending_tags {
            w.raw(t);
        }
        let head = w.into_bytes();
        if head.len() + cluster.len() > MAX_FRAGMENT_BYTES {
            return Err(Error::TooLarge(head.len() + cluster.len()));
        }
        self.metadata_bytes -= self.pending_tags.drain(..).map(|t| t.len()).sum::<usize>();
        // Checked before the frames are read: their timestamps are computed from it.
        let ticks = cluster_timecode(&cluster).ok_or(MediaError::ClusterWithoutTimecode)?;
        self.timecode_ms(ticks)?;
        let mut whole = Vec::with_capacity(head.len() + cluster.len());
        whole.extend_from_slice(&head);
        whole.extend_from_slice(&cluster);
        let fragment = Fragment::from_bytes(Bytes::from(whole))?;
        let tracks = fragment.tracks()?;
        let frames = fragment.frames()?;
        if let Some(f) = frames.iter().find(|f| !tracks.iter().any(|t| t.number == f.track)) {
            return Err(MediaError::UndeclaredTrack { track: f.track }.into());
        }
        let (Some(first), Some(last)) =
            (frames.iter().map(|f| f.timestamp_ns).min(), frames.iter().map(|f| f.timestamp_ns).max())
        else {
            return Err(MediaError::ClusterWithoutFrames.into());
        };
        if first < 0 || self.producer_start_ms < 0 {
            return Err(MediaError::InvalidProducerTimestamp("before 1970").into());
        }
        if self.in_order
            && let Some(previous_ns) = self.last_frame_ns
            && first < previous_ns
        {
            return Err(MediaError::TimecodeBackwards { start_ns: first, previous_ns }.into());
        }
        self.last_frame_ns = Some(last);
        let first_ms = first.div_euclid(1_000_000);
        let span_ms = ((last - first) / 1_000_000) as u64;
        let interval = if frames.len() > 1 { span_ms / (frames.len() as u64 - 1) } else { 0 };
        let relative = self.timecode_type == TimecodeType::Relative || first_ms < ABSOLUTE_FLOOR_MS;
        let producer_ms = if relative { self.producer_start_ms.saturating_add(first_ms) } else { first_ms };
        Ok(NewFragment {
            head,
            cluster_start: Bytes::new(),
            cluster,
            producer_ms,
            duration_ms: span_ms + interval,
            timecode_ms: first_ms,
        })
    }
}

/// The Cluster element id, as it is written.
const CLUSTER_ID: [u8; 4] = [0x1F, 0x43, 0xB6, 0x75];

/// The Timecode of a Cluster, read from its first bytes (`None` if they do not hold it).
fn first_timecode(cluster_start: &Bytes) -> Option<u64> {
    let tree = ElementTree::parse(cluster_start.clone());
    let timecode = tree.roots().first()?.path("Timecode")?;
    if timecode.is_truncated() { None } else { timecode.as_uint() }
}

/// The Timecode of a whole Cluster.
fn cluster_timecode(cluster: &Bytes) -> Option<u64> {
    first_timecode(&cluster.slice(..cluster.len().min(PEEK))).or_else(|| first_timecode(cluster))
}

/// Whether a Tags element holds tags that KVS itself writes (they are dropped on ingest:
/// the server writes its own).
fn is_kvs_tags(tags: &[u8]) -> bool {
    tags.windows(17).any(|w| w == b"AWS_KINESISVIDEO_")
}

/// The producer's own SimpleTags of a Tags element that also holds KVS tags, as a new
/// Tags element; `None` when nothing is left.
fn without_kvs_tags(tags: &Bytes) -> Option<Bytes> {
    let parsed = kvs_mkv::parse_tags(tags).ok()?;
    let kept: Vec<(&str, &str)> = parsed
        .iter()
        .filter(|t| !t.name.starts_with("AWS_KINESISVIDEO_"))
        .map(|t| (t.name.as_str(), t.value.as_deref().unwrap_or("")))
        .collect();
    if kept.is_empty() {
        return None;
    }
    let mut out = EbmlWriter::new();
    out.simple_tags(&kept);
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ingest_all(bytes: Bytes) -> Vec<NewFragment> {
        let mut ingester = Ingester::new(TimecodeType::Absolute, 1_700_000_000_000);
        let mut out = ingester.feed(bytes);
        out.extend(ingester.finish());
        out.into_iter()
            .filter_map(|r| match r.unwrap() {
                Ingested::Fragment(f) => Some(f),
                Ingested::Buffering { .. } => None,
            })
            .collect()
    }

    #[test]
    fn each_cluster_becomes_a_fragment_without_the_old_kvs_tags() {
        let fragments = ingest_all(kvs_mkv::testing::stream_of(3));
        assert_eq!(fragments.len(), 3);
        for f in &fragments {
            assert!(!is_kvs_tags(&f.head));
            assert_eq!(&f.cluster[..4], &[0x1F, 0x43, 0xB6, 0x75]);
        }
    }

    /// What a stream fed in `chunk`-byte pieces comes out as: `B` for a Buffering, `F` for
    /// a fragment, `E` for an error.
    fn events(ingester: &mut Ingester, mkv: &Bytes, chunk: usize) -> String {
        let mut out = String::new();
        let mut push = |results: Vec<Result<Ingested, Error>>| {
            for r in results {
                out.push(match r {
                    Ok(Ingested::Buffering { .. }) => 'B',
                    Ok(Ingested::Fragment(_)) => 'F',
                    Err(_) => 'E',
                });
            }
        };
        for start in (0..mkv.len()).step_by(chunk) {
            push(ingester.feed(mkv.slice(start..(start + chunk).min(mkv.len()))));
        }
        push(ingester.finish());
        out
    }

    #[test]
    fn each_cluster_is_announced_once_before_its_fragment_whatever_the_chunks() {
        let mkv = kvs_mkv::testing::stream_of(3);
        for chunk in [1, 2, 3, 7, 31, 100, 1000, mkv.len()] {
            let mut ingester = Ingester::for_put_media(TimecodeType::Absolute, 0, 1 << 20);
            assert_eq!(events(&mut ingester, &mkv, chunk), "BFBFBF", "chunks of {chunk}");
        }
    }

    #[test]
    fn what_is_held_between_clusters_is_bounded() {
        let mut w = EbmlWriter::new();
        w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
        for _ in 0..100 {
            w.binary(ids::VOID, &[0; 100]);
        }
        let mkv = w.into_bytes();
        for chunk in [1, 64, 5000] {
            let mut ingester = Ingester::for_put_media(TimecodeType::Absolute, 0, 4096);
            assert_eq!(events(&mut ingester, &mkv, chunk), "E", "chunks of {chunk}");
            // And nothing more is read.
            assert!(ingester.feed(mkv.clone()).is_empty());
        }
    }

    #[test]
    fn a_cluster_before_tracks_is_rejected() {
        let mut w = EbmlWriter::new();
        w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
        w.master(ids::CLUSTER, |c| {
            c.uint(ids::TIMECODE, 0).simple_block(1, 0, true, b"x");
        });
        let mut ingester = Ingester::new(TimecodeType::Absolute, 0);
        let out = ingester.feed(w.into_bytes());
        assert!(matches!(
            out.as_slice(),
            [Ok(Ingested::Buffering { timecode_ms: 0 }), Err(Error::Media(MediaError::ClusterBeforeTracks))]
        ));
    }

    #[test]
    fn timecodes_near_zero_are_relative_to_the_producer_start() {
        let mut w = EbmlWriter::new();
        w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
        w.master(ids::TRACKS, |t| {
            t.master(ids::TRACK_ENTRY, |e| {
                e.uint(ids::TRACK_NUMBER, 1).string(ids::CODEC_ID, "V_MPEG4/ISO/AVC");
            });
        });
        w.master(ids::CLUSTER, |c| {
            c.uint(ids::TIMECODE, 2000).simple_block(1, 0, true, b"a").simple_block(1, 100, false, b"b");
        });
        let f = ingest_all(w.into_bytes());
        assert_eq!((f[0].producer_ms, f[0].duration_ms, f[0].timecode_ms), (1_700_000_002_000, 200, 2000));
    }
}
