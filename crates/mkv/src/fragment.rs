//! [`Fragment`]: one MKV fragment of a KVS stream, its bytes and what can be read from them.

use bytes::Bytes;

use crate::element::{Child, Children};
use crate::frame::{Frame, collect_frames, timecode_scale};
use crate::tags::{KvsTags, SimpleTag};
use crate::track::{Track, parse_tracks};
use crate::tree::ElementTree;
use crate::{Error, FragmentSplitter, ids};

/// One fragment: a complete MKV "file" (EBML header, Segment, one Cluster and tags, in the
/// KVS layout) as it arrived, and its tags.
///
/// Where one Segment holds many Clusters (a merged KVS file, a plain Matroska file), each
/// Cluster is a fragment: the first as it arrived, each later one after a copy of the
/// Segment's header (EBML header, Segment start of unknown size, Info, Tracks), so that it
/// too reads, decodes and plays alone.
///
/// Tags are read while splitting; tracks, frames and the element tree are read from the
/// bytes on demand, so splitting a stream pays only for what is asked.
///
/// ```
/// # fn main() -> Result<(), kvs_mkv::Error> {
/// use kvs_mkv::{EbmlWriter, Fragment, ids};
///
/// let mut w = EbmlWriter::new();
/// w.ebml_header("matroska");
/// w.unknown_size_master(ids::SEGMENT);
/// w.simple_tags(&[("AWS_KINESISVIDEO_FRAGMENT_NUMBER", "91343852333181432392682062607743920146159169392")]);
/// w.master(ids::CLUSTER, |c| {
///     c.uint(ids::TIMECODE, 1000);
///     c.simple_block(1, 0, true, b"frame");
/// });
/// let fragment = Fragment::from_bytes(w.into_bytes())?;
/// assert_eq!(fragment.kvs().fragment_number.as_ref().unwrap().as_str(),
///            "91343852333181432392682062607743920146159169392");
/// let frames = fragment.frames()?;
/// assert_eq!((frames[0].timestamp_ns, &frames[0].payload[..]), (1_000_000_000, &b"frame"[..]));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    pub(crate) bytes: Bytes,
    pub(crate) offset: u64,
    pub(crate) index: u64,
    pub(crate) complete: bool,
    pub(crate) shared_header_len: usize,
    /// A part of a Segment that holds other fragments too: positions written in it
    /// (SeekHead, Cues) point outside of it.
    pub(crate) cut: bool,
    pub(crate) tags: Vec<SimpleTag>,
    pub(crate) kvs: KvsTags,
}

impl Fragment {
    /// Reads one fragment held whole in memory (a saved `.mkv`, a fragment's bytes passed
    /// to a callback): its first Segment, whole. Unlike the [`FragmentSplitter`], which
    /// gives one fragment per Cluster, a Segment of many Clusters (a whole Matroska file)
    /// is one fragment here. What follows the first Segment is ignored; garbage before it
    /// is skipped.
    pub fn from_bytes(bytes: Bytes) -> Result<Self, Error> {
        let len = bytes.len() as u64;
        let mut splitter = FragmentSplitter::whole_segments();
        splitter.feed(bytes);
        splitter.finish();
        let mut first_problem = None;
        while let Some(event) = splitter.poll() {
            match event {
                crate::Event::Fragment(f) => return Ok(f),
                crate::Event::Skipped(s) => {
                    first_problem.get_or_insert(s.reason);
                }
                crate::Event::AwsError(_) => {}
            }
        }
        Err(first_problem.unwrap_or(Error::Garbage { offset: 0, len }))
    }

    /// The fragment's bytes: a standalone MKV file. Exactly as received (a zero-copy slice
    /// of the input), unless it shares its Segment's header with earlier fragments: then its
    /// first [`shared_header_len`](Self::shared_header_len) bytes are a copy of that header.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Offset in the stream it was split from of the fragment's first byte as received (past
    /// its shared header, if it has one).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// How many of [`bytes`](Self::bytes) are a copy of a header shared with earlier
    /// fragments of the same Segment; 0 for a fragment as received.
    pub fn shared_header_len(&self) -> usize {
        self.shared_header_len
    }

    /// Position of the fragment in its stream: 0 for the first one.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The same fragment placed at `index` and `offset` of a longer logical stream: a
    /// consumer that resumes over several responses numbers what it delivers across all
    /// of them, while each response's splitter starts again at 0.
    pub fn renumbered(mut self, index: u64, offset: u64) -> Self {
        self.index = index;
        self.offset = offset;
        self
    }

    /// False when the input ended or turned bad inside this fragment: its whole elements
    /// (and so its whole frames) are still there, the rest is missing.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Every SimpleTag of the fragment in order, KVS and user tags alike, repeats kept.
    pub fn tags(&self) -> &[SimpleTag] {
        &self.tags
    }

    /// The KVS tags, typed.
    pub fn kvs(&self) -> &KvsTags {
        &self.kvs
    }

    /// The Segment's children (Info, Tracks, Tags, Cluster, ...), clamped where cut short.
    fn segment_children(&self) -> Result<Vec<Child>, Error> {
        let mut out = Vec::new();
        for top in Children::new(&self.bytes, 0..self.bytes.len(), 0) {
            let top = match top {
                Ok(top) => top,
                Err(e) if out.is_empty() => return Err(e),
                Err(_) => break,
            };
            if top.header.id == ids::SEGMENT {
                for child in Children::new(&self.bytes, top.data, 0) {
                    match child {
                        Ok(child) => out.push(child),
                        Err(_) if !self.complete => break,
                        Err(e) => return Err(e),
                    }
                }
                break;
            }
        }
        Ok(out)
    }

    /// The tracks described in the fragment's `Tracks` element(s).
    pub fn tracks(&self) -> Result<Vec<Track>, Error> {
        let mut tracks = Vec::new();
        for child in self.segment_children()? {
            if child.header.id == ids::TRACKS {
                let child = child.whole(0)?;
                parse_tracks(&self.bytes, child.data, &mut tracks)?;
            }
        }
        Ok(tracks)
    }

    /// `TimecodeScale` in nanoseconds per tick (default 1 ms).
    pub fn timecode_scale(&self) -> Result<u64, Error> {
        Ok(self.scale_in(&self.segment_children()?))
    }

    /// TimecodeScale from the Info among these Segment children (default 1 ms).
    fn scale_in(&self, children: &[Child]) -> u64 {
        children
            .iter()
            .find(|c| c.header.id == ids::INFO && !c.truncated)
            .map_or(1_000_000, |info| timecode_scale(&self.bytes, info.data.clone()))
    }

    /// Every frame of every track, in stored order.
    ///
    /// A malformed block is an error; use [`frames_lossy`](Self::frames_lossy) to keep the
    /// frames before it (an incomplete fragment's whole frames, for instance).
    pub fn frames(&self) -> Result<Vec<Frame>, Error> {
        let (frames, error) = self.frames_lossy();
        match error {
            Some(e) => Err(e),
            None => Ok(frames),
        }
    }

    /// Every whole frame up to the first problem, and the problem if there was one.
    ///
    /// For a fragment that is not [complete](Self::is_complete), the block cut by the end of
    /// the data is not counted as a problem.
    pub fn frames_lossy(&self) -> (Vec<Frame>, Option<Error>) {
        let mut frames = Vec::new();
        let result = self.segment_children().and_then(|children| {
            let scale = self.scale_in(&children);
            collect_frames(&self.bytes, children, scale, &mut frames)
        });
        match result {
            Err(Error::Truncated { .. }) if !self.complete => (frames, None),
            Err(e) => (frames, Some(e)),
            Ok(()) => (frames, None),
        }
    }

    /// The element tree: every element with its name, type and value, payloads zero-copy.
    pub fn tree(&self) -> ElementTree {
        ElementTree::parse(self.bytes.clone())
    }
}
