//! Turning a producer's MKV stream (a PutMedia body, a file, the camera) into fragments,
//! the way KVS does: each Cluster becomes one fragment, carrying the producer's header
//! elements (Info, Tracks, ...) and the producer tags sent since the previous Cluster.
//!
//! Pure bytes in, [`NewFragment`]s out: no clock, no storage. Numbering and timestamps of
//! the server side belong to the store.

use bytes::Bytes;
use kvs_mkv::{EbmlWriter, Fragment, RawElement, SegmentItem, SegmentReader, ids};

use crate::Error;

/// Producer timecodes before this (2000-01-01) are taken as relative to the producer's
/// start rather than as absolute times: files and captures often start at 0.
const ABSOLUTE_FLOOR_MS: i64 = 946_684_800_000;

/// The largest fragment accepted (KVS: 50 MB).
pub(crate) const MAX_FRAGMENT_BYTES: usize = 50_000_000;

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
    /// Cluster timecode as sent, for the PutMedia acknowledgements.
    pub timecode_ms: i64,
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
#[derive(Debug)]
pub(crate) struct Ingester {
    reader: SegmentReader,
    ebml: Option<Bytes>,
    header: Vec<RawElement>,
    pending_tags: Vec<Bytes>,
    clusters_in_segment: bool,
    timecode_type: TimecodeType,
    producer_start_ms: i64,
    failed: bool,
}

impl Ingester {
    /// A new ingester; `producer_start_ms` anchors relative timecodes.
    pub fn new(timecode_type: TimecodeType, producer_start_ms: i64) -> Self {
        Self {
            reader: SegmentReader::new(),
            ebml: None,
            header: Vec::new(),
            pending_tags: Vec::new(),
            clusters_in_segment: false,
            timecode_type,
            producer_start_ms,
            failed: false,
        }
    }

    /// Adds input; returns the fragments it completed. After an error, nothing more.
    pub fn feed(&mut self, chunk: Bytes) -> Vec<Result<NewFragment, Error>> {
        self.reader.feed(chunk);
        self.drain()
    }

    /// Marks the end of input; returns what it completed.
    pub fn finish(&mut self) -> Vec<Result<NewFragment, Error>> {
        self.reader.finish();
        self.drain()
    }

    fn drain(&mut self) -> Vec<Result<NewFragment, Error>> {
        let mut out = Vec::new();
        while let Some(item) = self.reader.poll() {
            if self.failed {
                continue;
            }
            let result = match item {
                Ok(SegmentItem::EbmlHeader(e)) => {
                    self.ebml = Some(e.bytes);
                    Ok(None)
                }
                Ok(SegmentItem::SegmentStart(_)) => {
                    // Tags pending from the last segment still go with the next fragment.
                    self.header.clear();
                    self.clusters_in_segment = false;
                    Ok(None)
                }
                Ok(SegmentItem::Child(e)) => self.child(e),
                Ok(_) => Ok(None),
                Err(e) => Err(Error::Mkv(e)),
            };
            match result {
                Ok(Some(f)) => out.push(Ok(f)),
                Ok(None) => {}
                Err(e) => {
                    self.failed = true;
                    out.push(Err(e));
                }
            }
        }
        out
    }

    fn child(&mut self, e: RawElement) -> Result<Option<NewFragment>, Error> {
        match e.id {
            ids::CLUSTER => self.cluster(e.bytes).map(Some),
            ids::TAGS => {
                let kept =
                    if is_kvs_tags(&e.bytes) { without_kvs_tags(&e.bytes) } else { Some(e.bytes.clone()) };
                match kept {
                    // Before the first Cluster: the producer's header tags, in every fragment.
                    Some(bytes) if !self.clusters_in_segment => {
                        self.header.push(RawElement { bytes, header_len: 0, ..e });
                    }
                    // Between Clusters: fragment metadata, for the next fragment only.
                    Some(bytes) => self.pending_tags.push(bytes),
                    None => {}
                }
                Ok(None)
            }
            ids::CUES | ids::CRC32 => Ok(None),
            _ => {
                // A header element sent again (a new Info or Tracks) replaces the old one.
                match self.header.iter_mut().find(|h| h.id == e.id && h.id != ids::VOID) {
                    Some(slot) => *slot = e,
                    None => self.header.push(e),
                }
                Ok(None)
            }
        }
    }

    fn cluster(&mut self, cluster: Bytes) -> Result<NewFragment, Error> {
        self.clusters_in_segment = true;
        let Some(ebml) = self.ebml.clone() else {
            return Err(Error::Rejected("a Cluster before any EBML header".into()));
        };
        if !self.header.iter().any(|h| h.id == ids::TRACKS) {
            return Err(Error::Rejected("a Cluster before any Tracks element".into()));
        }
        let mut w = EbmlWriter::new();
        w.raw(&ebml).unknown_size_master(ids::SEGMENT);
        for h in &self.header {
            w.raw(&h.bytes);
        }
        for t in self.pending_tags.drain(..) {
            w.raw(&t);
        }
        let head = w.into_bytes();
        if head.len() + cluster.len() > MAX_FRAGMENT_BYTES {
            return Err(Error::TooLarge(head.len() + cluster.len()));
        }
        let mut whole = Vec::with_capacity(head.len() + cluster.len());
        whole.extend_from_slice(&head);
        whole.extend_from_slice(&cluster);
        let fragment = Fragment::from_bytes(Bytes::from(whole))?;
        let frames = fragment.frames()?;
        let (Some(first), Some(last)) =
            (frames.iter().map(|f| f.timestamp_ns).min(), frames.iter().map(|f| f.timestamp_ns).max())
        else {
            return Err(Error::Rejected("a Cluster without frames".into()));
        };
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
        out.into_iter().map(Result::unwrap).collect()
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

    #[test]
    fn a_cluster_before_tracks_is_rejected() {
        let mut w = EbmlWriter::new();
        w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
        w.master(ids::CLUSTER, |c| {
            c.uint(ids::TIMECODE, 0).simple_block(1, 0, true, b"x");
        });
        let mut ingester = Ingester::new(TimecodeType::Absolute, 0);
        let out = ingester.feed(w.into_bytes());
        assert!(matches!(out.as_slice(), [Err(Error::Rejected(_))]));
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
