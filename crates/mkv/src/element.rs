//! Element headers, and a cursor over the children of a master element held in memory.
//!
//! Used on whole elements (a fragment's bytes, a Tags element); the streaming splitter
//! has its own state machine but the same header reader.

use crate::Error;
use crate::schema::{self, ElementType};
use crate::vint::{self, Size, Vint};

/// Deepest nesting accepted; Matroska needs about 8, this leaves room for odd producers.
pub const MAX_DEPTH: usize = 32;

/// An element header: id and size, and how many bytes they took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Element id, length marker included (e.g. `0x1A45DFA3`).
    pub id: u32,
    /// Declared data size; `None` when unknown.
    pub size: Size,
    /// Bytes taken by id and size.
    pub len: usize,
}

/// Outcome of reading a header from a prefix of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderRead {
    Done(Header),
    Partial,
    Invalid,
}

#[inline]
pub(crate) fn read_header(buf: &[u8]) -> HeaderRead {
    let (id, id_len) = match vint::read_id(buf) {
        Vint::Done(id, n) => (id, n),
        Vint::Partial => return HeaderRead::Partial,
        Vint::Invalid => return HeaderRead::Invalid,
    };
    match vint::read_size(&buf[id_len..]) {
        Vint::Done(size, n) => HeaderRead::Done(Header { id, size, len: id_len + n }),
        Vint::Partial => HeaderRead::Partial,
        Vint::Invalid => HeaderRead::Invalid,
    }
}

/// One child found by [`Children`]: its header and where its data lies in the parent buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Child {
    pub header: Header,
    /// Offset of the header within the buffer walked.
    pub start: usize,
    /// Data range within the buffer walked (an unknown size resolved, an overrun clamped).
    pub data: std::ops::Range<usize>,
    /// The element's declared size runs past the end of its parent: `data` is clamped.
    pub truncated: bool,
}

impl Child {
    /// The child, or `Truncated` if it was cut short.
    pub(crate) fn whole(self, base: u64) -> Result<Self, Error> {
        if self.truncated {
            return Err(Error::Truncated { id: self.header.id, offset: base + self.start as u64 });
        }
        Ok(self)
    }
}

/// Iterates the children in `buf[range]`, the body of an element with id `parent`.
///
/// Unknown-size masters among them are resolved to end at the first element that does not
/// fit inside them, or at the end of the range. A child that overruns the range comes out
/// clamped and flagged `truncated`, and is the last one.
pub(crate) struct Children<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
    /// Offset of `buf[0]` in the caller's coordinates, for error messages.
    base: u64,
    done: bool,
}

impl<'a> Children<'a> {
    pub(crate) fn new(buf: &'a [u8], range: std::ops::Range<usize>, base: u64) -> Self {
        Self { buf, pos: range.start, end: range.end, base, done: false }
    }

    fn fail(&mut self, error: Error) -> Option<Result<Child, Error>> {
        self.done = true;
        Some(Err(error))
    }
}

impl Iterator for Children<'_> {
    type Item = Result<Child, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.end {
            return None;
        }
        let start = self.pos;
        let offset = self.base + start as u64;
        let header = match read_header(&self.buf[start..self.end]) {
            HeaderRead::Done(h) => h,
            HeaderRead::Partial => return self.fail(Error::Truncated { id: 0, offset }),
            HeaderRead::Invalid => return self.fail(Error::InvalidVint { offset }),
        };
        let data_start = start + header.len;
        let mut truncated = false;
        let data_end = match header.size {
            Some(size) => {
                let end = (data_start as u64).saturating_add(size);
                if end > self.end as u64 {
                    truncated = true;
                    self.done = true;
                    self.end
                } else {
                    end as usize
                }
            }
            None if schema::kind_of(header.id) == ElementType::Master => {
                match unknown_size_end(self.buf, data_start, self.end, header.id, self.base, 0) {
                    Ok(end) => end,
                    Err(e) => return self.fail(e),
                }
            }
            None => {
                return self.fail(Error::Malformed {
                    id: header.id,
                    offset,
                    reason: "unknown size on an element that is not a master",
                });
            }
        };
        self.pos = data_end;
        Some(Ok(Child { header, start, data: data_start..data_end, truncated }))
    }
}

/// Finds where an unknown-size master starting its data at `pos` ends: at the first element
/// that does not fit inside it, or at `limit`.
fn unknown_size_end(
    buf: &[u8],
    mut pos: usize,
    limit: usize,
    id: u32,
    base: u64,
    depth: usize,
) -> Result<usize, Error> {
    if depth >= MAX_DEPTH {
        return Err(Error::TooDeep { offset: base + pos as u64, limit: MAX_DEPTH });
    }
    while pos < limit {
        let header = match read_header(&buf[pos..limit]) {
            HeaderRead::Done(h) => h,
            // A torn header at the very end belongs to the unknown-size element.
            HeaderRead::Partial => return Ok(limit),
            HeaderRead::Invalid => return Err(Error::InvalidVint { offset: base + pos as u64 }),
        };
        if !schema::fits_inside(header.id, id) {
            return Ok(pos);
        }
        let data_start = pos + header.len;
        pos = match header.size {
            Some(size) => (data_start as u64).saturating_add(size).min(limit as u64) as usize,
            None => unknown_size_end(buf, data_start, limit, header.id, base, depth + 1)?,
        };
    }
    Ok(limit)
}

/// Reads a big-endian unsigned integer of 0-8 bytes.
pub(crate) fn read_uint(data: &[u8]) -> Option<u64> {
    (data.len() <= 8).then(|| data.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// Reads a big-endian signed integer of 0-8 bytes.
pub(crate) fn read_int(data: &[u8]) -> Option<i64> {
    let value = read_uint(data)?;
    if data.is_empty() {
        return Some(0);
    }
    let shift = 64 - 8 * data.len() as u32;
    Some(((value << shift) as i64) >> shift)
}

/// Reads a float of 0, 4 or 8 bytes.
pub(crate) fn read_float(data: &[u8]) -> Option<f64> {
    match data.len() {
        0 => Some(0.0),
        4 => Some(f64::from(f32::from_be_bytes(data.try_into().ok()?))),
        8 => Some(f64::from_be_bytes(data.try_into().ok()?)),
        _ => None,
    }
}

/// Reads a string, dropping the zero padding EBML allows at its end.
pub(crate) fn read_string(data: &[u8]) -> String {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    String::from_utf8_lossy(&data[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_of_every_width() {
        assert_eq!(read_uint(&[]), Some(0));
        assert_eq!(read_uint(&[1, 0]), Some(256));
        assert_eq!(read_uint(&[0; 9]), None);
        assert_eq!(read_int(&[0xFF]), Some(-1));
        assert_eq!(read_int(&[0xFF, 0xFE]), Some(-2));
        assert_eq!(read_int(&[0x7F]), Some(127));
        assert_eq!(read_float(&1.5f32.to_be_bytes()), Some(1.5));
        assert_eq!(read_float(&[1, 2, 3]), None);
        assert_eq!(read_string(b"abc\0\0"), "abc");
    }

    #[test]
    fn unknown_size_cluster_ends_at_tags() {
        // Cluster(unknown) { Timecode=0 } Tags(empty)
        let buf = [0x1F, 0x43, 0xB6, 0x75, 0xFF, 0xE7, 0x81, 0x00, 0x12, 0x54, 0xC3, 0x67, 0x80];
        let children: Vec<_> = Children::new(&buf, 0..buf.len(), 0).map(Result::unwrap).collect();
        assert_eq!(children.len(), 2);
        assert_eq!(children[0].data, 5..8);
        assert_eq!(children[1].header.id, crate::ids::TAGS);
    }
}
