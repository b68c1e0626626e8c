//! Writing EBML: [`EbmlWriter`] for producers and tests, and the rewrite of a fragment into
//! a standalone `.mkv` with known sizes that ordinary players seek in.

use bytes::Bytes;

use crate::fragment::Fragment;
use crate::schema::ElementType;
use crate::tree::{Element, ElementTree};
use crate::vint::{self, UNKNOWN_SIZE};
use crate::{Error, ids};

/// Builds EBML bytes element by element.
///
/// ```
/// use kvs_mkv::{EbmlWriter, ids};
/// let mut w = EbmlWriter::new();
/// w.master(ids::INFO, |info| {
///     info.uint(ids::TIMECODE_SCALE, 1_000_000);
///     info.string(ids::MUXING_APP, "kvs");
/// });
/// assert_eq!(&w.as_slice()[..4], &[0x15, 0x49, 0xA9, 0x66]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct EbmlWriter {
    out: Vec<u8>,
}

impl EbmlWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.out
    }

    /// Number of bytes written so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// The bytes written.
    pub fn into_bytes(self) -> Bytes {
        Bytes::from(self.out)
    }

    /// Appends bytes as they are (already-encoded elements).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.out.extend_from_slice(bytes);
        self
    }

    /// An element with binary data.
    pub fn binary(&mut self, id: u32, data: &[u8]) -> &mut Self {
        vint::write_id(&mut self.out, id);
        vint::write_size(&mut self.out, data.len() as u64);
        self.out.extend_from_slice(data);
        self
    }

    /// An unsigned integer element, in the fewest bytes.
    pub fn uint(&mut self, id: u32, value: u64) -> &mut Self {
        let len = (8 - value.leading_zeros() as usize / 8).max(1);
        self.binary(id, &value.to_be_bytes()[8 - len..])
    }

    /// A signed integer element, in the fewest bytes.
    pub fn int(&mut self, id: u32, value: i64) -> &mut Self {
        let len = (1..=8)
            .find(|&n| n == 8 || (value >= -(1i64 << (8 * n - 1)) && value < (1i64 << (8 * n - 1))))
            .unwrap_or(8);
        self.binary(id, &value.to_be_bytes()[8 - len..])
    }

    /// An 8-byte float element.
    pub fn float(&mut self, id: u32, value: f64) -> &mut Self {
        self.binary(id, &value.to_be_bytes())
    }

    /// A string element.
    pub fn string(&mut self, id: u32, value: &str) -> &mut Self {
        self.binary(id, value.as_bytes())
    }

    /// A master element of known size, its children written by `build`.
    pub fn master(&mut self, id: u32, build: impl FnOnce(&mut EbmlWriter)) -> &mut Self {
        let mut inner = EbmlWriter::new();
        build(&mut inner);
        self.binary(id, &inner.out)
    }

    /// The header of a master element of unknown size (8-byte marker, as KVS writes);
    /// its children are simply written after it.
    pub fn unknown_size_master(&mut self, id: u32) -> &mut Self {
        vint::write_id(&mut self.out, id);
        self.out.extend_from_slice(&UNKNOWN_SIZE);
        self
    }

    /// An EBML header for `doc_type` (`"matroska"` or `"webm"`), as KVS writes it.
    pub fn ebml_header(&mut self, doc_type: &str) -> &mut Self {
        self.master(ids::EBML, |h| {
            h.uint(ids::EBML_VERSION, 1)
                .uint(ids::EBML_READ_VERSION, 1)
                .uint(ids::EBML_MAX_ID_LENGTH, 4)
                .uint(ids::EBML_MAX_SIZE_LENGTH, 8)
                .string(ids::DOC_TYPE, doc_type)
                .uint(ids::DOC_TYPE_VERSION, 4)
                .uint(ids::DOC_TYPE_READ_VERSION, 2);
        })
    }

    /// A `Tags` element with one `Tag` holding these `(TagName, TagString)` pairs in order:
    /// the layout KVS uses for its tags.
    pub fn simple_tags(&mut self, tags: &[(&str, &str)]) -> &mut Self {
        self.master(ids::TAGS, |t| {
            t.master(ids::TAG, |tag| {
                for (name, value) in tags {
                    tag.master(ids::SIMPLE_TAG, |s| {
                        s.string(ids::TAG_NAME, name).string(ids::TAG_STRING, value);
                    });
                }
            });
        })
    }

    /// A SimpleBlock without lacing.
    pub fn simple_block(&mut self, track: u64, timecode: i16, keyframe: bool, payload: &[u8]) -> &mut Self {
        let mut data = Vec::with_capacity(payload.len() + 4);
        vint::write_size(&mut data, track);
        data.extend_from_slice(&timecode.to_be_bytes());
        data.push(if keyframe { 0x80 } else { 0 });
        data.extend_from_slice(payload);
        self.binary(ids::SIMPLE_BLOCK, &data)
    }
}

impl Fragment {
    /// The fragment as a standalone `.mkv` that players seek in: every unknown size
    /// (Segment, Cluster) replaced by the real one.
    ///
    /// Players show a length and a seek bar only when Info has a Duration, which KVS
    /// producers leave out: it is added, from the first frame to the end of the last.
    /// Where that or a size change (a 1-byte unknown marker growing) moves later byte
    /// positions, or where the fragment is one Cluster of a longer Segment (a merged or
    /// plain Matroska file), SeekHead and Cues, which hold positions, become Void elements
    /// of the same length rather than point to the wrong place. A block cut short (an incomplete
    /// fragment) is left out, so the file holds whole frames only.
    pub fn to_playable_mkv(&self) -> Result<Vec<u8>, Error> {
        let mut tree = ElementTree::parse(self.bytes.clone());
        if let Some(error) = tree.error()
            && self.complete
        {
            return Err(error.clone());
        }
        let added_duration = self.add_duration(&mut tree);
        let mut out = Vec::with_capacity(self.bytes.len() + 16);
        let void_positions = self.cut || added_duration || grew(tree.roots());
        for root in tree.roots() {
            write_known(root, void_positions, &mut out);
        }
        Ok(out)
    }
}

impl Fragment {
    /// Adds `Info/Duration` where it is missing; returns whether it did.
    fn add_duration(&self, tree: &mut ElementTree) -> bool {
        let (frames, _) = self.frames_lossy();
        let (Some(first), Some(last)) =
            (frames.iter().map(|f| f.timestamp_ns).min(), frames.iter().map(|f| f.timestamp_ns).max())
        else {
            return false;
        };
        let scale = self.timecode_scale().unwrap_or(1_000_000).max(1);
        // The last frame lasts as long as the average frame before it.
        let mut stamps: Vec<i64> = frames.iter().map(|f| f.timestamp_ns).collect();
        stamps.sort_unstable();
        stamps.dedup();
        let step = if stamps.len() > 1 { (last - first) / (stamps.len() as i64 - 1) } else { 0 };
        let duration_ns = (last - first + step) as f64;
        let Some(segment) = tree.roots_mut().iter_mut().find(|e| e.id() == ids::SEGMENT) else {
            return false;
        };
        let Some(info) = segment.children_mut().iter_mut().find(|e| e.id() == ids::INFO && !e.is_truncated())
        else {
            return false;
        };
        if info.children().iter().any(|c| c.id() == ids::DURATION) || duration_ns <= 0.0 {
            return false;
        }
        let ticks = duration_ns / scale as f64;
        info.children_mut()
            .push(Element::synthetic(ids::DURATION, Bytes::copy_from_slice(&ticks.to_be_bytes())));
        true
    }
}

/// Whether rewriting any element changes its header length.
fn grew(elements: &[Element]) -> bool {
    elements
        .iter()
        .any(|e| (e.declared_size().is_none() && header_for(e).len() != e.header_len()) || grew(e.children()))
}

/// The header `write_known` gives an element: the original size length if the real size
/// fits in it, else the fewest bytes.
fn header_for(e: &Element) -> Vec<u8> {
    let size = body_len(e) as u64;
    let original = e.header_len() - vint::id_len(e.id());
    let len = if size < (1u64 << (7 * original)) - 1 { original } else { vint::size_len(size) };
    let mut header = Vec::with_capacity(12);
    vint::write_id(&mut header, e.id());
    vint::write_size_with_len(&mut header, size, len);
    header
}

/// Length of an element's data once rewritten.
fn body_len(e: &Element) -> usize {
    if e.kind() == ElementType::Master {
        e.children().iter().filter(|c| keep(c)).map(|c| header_for(c).len() + body_len(c)).sum()
    } else {
        e.data().len()
    }
}

/// Non-masters cut short carry partial data: leave them out.
fn keep(e: &Element) -> bool {
    !(e.is_truncated() && e.kind() != ElementType::Master)
}

/// Writes an element with known sizes; with `void_positions`, SeekHead and Cues become Void
/// elements of their own length, since the positions they hold have moved.
fn write_known(e: &Element, void_positions: bool, out: &mut Vec<u8>) {
    if !keep(e) {
        return;
    }
    if void_positions && matches!(e.id(), ids::SEEK_HEAD | ids::CUES) {
        out.extend_from_slice(&void_of(header_for(e).len() + body_len(e)));
        return;
    }
    out.extend_from_slice(&header_for(e));
    if e.kind() == ElementType::Master {
        for child in e.children() {
            write_known(child, void_positions, out);
        }
    } else {
        out.extend_from_slice(e.data());
    }
}

/// A Void element of exactly `len` bytes (at least 2).
fn void_of(len: usize) -> Vec<u8> {
    let mut out = vec![ids::VOID as u8];
    let n = (1..=8).find(|&n| len > n && ((len - 1 - n) as u64) < (1u64 << (7 * n)) - 1).unwrap_or(8);
    vint::write_size_with_len(&mut out, (len - 1 - n) as u64, n);
    out.resize(len, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn void_has_exact_length() {
        for len in 2..300 {
            let v = void_of(len);
            assert_eq!(v.len(), len);
            let tree = ElementTree::parse(Bytes::from(v));
            assert_eq!(tree.roots().len(), 1, "{len}");
            assert!(tree.error().is_none());
        }
    }

    #[test]
    fn ints_take_fewest_bytes() {
        let mut w = EbmlWriter::new();
        w.int(ids::REFERENCE_BLOCK, -1).uint(ids::TIMECODE, 0).uint(ids::TIMECODE, 256);
        assert_eq!(w.as_slice(), &[0xFB, 0x81, 0xFF, 0xE7, 0x81, 0x00, 0xE7, 0x82, 0x01, 0x00]);
    }
}
