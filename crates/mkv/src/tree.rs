//! [`ElementTree`]: the searchable element tree of a fragment (the "DOM" users of the
//! Python sample know), with typed values and zero-copy binary payloads.

use std::fmt;

use bytes::Bytes;

use crate::element::{Children, MAX_DEPTH, read_float, read_int, read_string, read_uint};
use crate::schema::{self, ElementType};
use crate::{Error, vint};

/// A decoded element value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A master element: see [`Element::children`].
    Master,
    /// Unsigned integer.
    Uint(u64),
    /// Signed integer.
    Int(i64),
    /// Float.
    Float(f64),
    /// ASCII or UTF-8 string.
    String(String),
    /// Nanoseconds since 2001-01-01T00:00:00 UTC.
    Date(i64),
    /// Opaque bytes, a slice of the fragment.
    Binary(Bytes),
    /// Data that does not fit the element's type (a 3-byte float, say).
    Invalid(Bytes),
}

/// One element of the tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    id: u32,
    offset: u64,
    header_len: usize,
    declared_size: Option<u64>,
    truncated: bool,
    data: Bytes,
    children: Vec<Element>,
}

impl Element {
    /// Element id, length marker included.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Matroska name, or `"Unknown"`.
    pub fn name(&self) -> &'static str {
        schema::name_of(self.id)
    }

    /// Type from the schema (unknown ids read as binary).
    pub fn kind(&self) -> ElementType {
        schema::kind_of(self.id)
    }

    /// Offset of the element header within the fragment.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes taken by the header.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Size as written; `None` when the header says "unknown".
    pub fn declared_size(&self) -> Option<u64> {
        self.declared_size
    }

    /// The data ran past the end of the fragment; what is there is kept.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// The element's data (without its header), zero-copy.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// Child elements, in order (empty for non-masters).
    pub fn children(&self) -> &[Element] {
        &self.children
    }

    /// The decoded value.
    pub fn value(&self) -> Value {
        let d = &self.data;
        let invalid = || Value::Invalid(d.clone());
        match self.kind() {
            ElementType::Master => Value::Master,
            ElementType::Uint => read_uint(d).map_or_else(invalid, Value::Uint),
            ElementType::Int => read_int(d).map_or_else(invalid, Value::Int),
            ElementType::Float => read_float(d).map_or_else(invalid, Value::Float),
            ElementType::String | ElementType::Utf8 => Value::String(read_string(d)),
            ElementType::Date => read_int(d).map_or_else(invalid, Value::Date),
            ElementType::Binary => Value::Binary(d.clone()),
        }
    }

    /// The value as an unsigned integer, if it is one.
    pub fn as_uint(&self) -> Option<u64> {
        match self.value() {
            Value::Uint(v) => Some(v),
            _ => None,
        }
    }

    /// The value as a string, if it is one.
    pub fn as_string(&self) -> Option<String> {
        match self.value() {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// First descendant (depth first, self excluded) with this name.
    pub fn find(&self, name: &str) -> Option<&Element> {
        self.children.iter().find_map(|c| if c.name() == name { Some(c) } else { c.find(name) })
    }

    /// Every descendant with this name, depth first.
    pub fn find_all<'a>(&'a self, name: &str) -> Vec<&'a Element> {
        let mut out = Vec::new();
        walk(&self.children, &mut |e| {
            if e.name() == name {
                out.push(e);
            }
        });
        out
    }

    /// Child by a `/`-separated path of names relative to this element, e.g.
    /// `"TrackEntry/CodecID"`.
    pub fn path(&self, path: &str) -> Option<&Element> {
        path.split('/').try_fold(self, |e, name| e.children.iter().find(|c| c.name() == name))
    }
}

impl Element {
    /// An element made here rather than read: it has no place in the input yet.
    pub(crate) fn synthetic(id: u32, data: Bytes) -> Self {
        let mut header = Vec::new();
        vint::write_id(&mut header, id);
        vint::write_size(&mut header, data.len() as u64);
        Self {
            id,
            offset: 0,
            header_len: header.len(),
            declared_size: Some(data.len() as u64),
            truncated: false,
            data,
            children: Vec::new(),
        }
    }

    pub(crate) fn children_mut(&mut self) -> &mut Vec<Element> {
        &mut self.children
    }
}

fn walk<'a>(elements: &'a [Element], f: &mut impl FnMut(&'a Element)) {
    for e in elements {
        f(e);
        walk(&e.children, f);
    }
}

/// Every element of a fragment, parsed from its bytes.
///
/// ```
/// # fn main() -> Result<(), kvs_mkv::Error> {
/// let stream = kvs_mkv::testing::stream_of(1);
/// let fragment = kvs_mkv::Fragment::from_bytes(stream)?;
/// let tree = fragment.tree();
/// let codec = tree.path("Segment/Tracks/TrackEntry/CodecID").unwrap();
/// assert_eq!(codec.as_string().as_deref(), Some("V_MPEG4/ISO/AVC"));
/// assert_eq!(tree.find_all("SimpleBlock").len(), 3);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ElementTree {
    roots: Vec<Element>,
    error: Option<Error>,
}

impl ElementTree {
    /// Parses every element of `bytes`. Parsing stops at the first malformed element; what
    /// came before is kept and the problem is in [`error`](Self::error).
    pub fn parse(bytes: Bytes) -> Self {
        let mut error = None;
        let roots = build(&bytes, 0..bytes.len(), 0, &mut error);
        Self { roots, error }
    }

    /// Top-level elements (EBML header, Segment).
    pub fn roots(&self) -> &[Element] {
        &self.roots
    }

    pub(crate) fn roots_mut(&mut self) -> &mut [Element] {
        &mut self.roots
    }

    /// Why parsing stopped early, if it did.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// First element with this name, depth first.
    pub fn find(&self, name: &str) -> Option<&Element> {
        self.roots.iter().find_map(|r| if r.name() == name { Some(r) } else { r.find(name) })
    }

    /// Every element with this name, depth first.
    pub fn find_all<'a>(&'a self, name: &str) -> Vec<&'a Element> {
        let mut out = Vec::new();
        walk(&self.roots, &mut |e| {
            if e.name() == name {
                out.push(e);
            }
        });
        out
    }

    /// Every element with this id, depth first.
    pub fn find_id(&self, id: u32) -> Vec<&Element> {
        let mut out = Vec::new();
        walk(&self.roots, &mut |e| {
            if e.id == id {
                out.push(e);
            }
        });
        out
    }

    /// Element by a `/`-separated path of names from the top, e.g.
    /// `"Segment/Tracks/TrackEntry/CodecID"` (the first match at each step).
    pub fn path(&self, path: &str) -> Option<&Element> {
        let (first, rest) = path.split_once('/').unwrap_or((path, ""));
        let root = self.roots.iter().find(|r| r.name() == first)?;
        if rest.is_empty() { Some(root) } else { root.path(rest) }
    }

    /// Every element, depth first, with its depth.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &Element)> {
        let mut out = Vec::new();
        fn go<'a>(es: &'a [Element], depth: usize, out: &mut Vec<(usize, &'a Element)>) {
            for e in es {
                out.push((depth, e));
                go(&e.children, depth + 1, out);
            }
        }
        go(&self.roots, 0, &mut out);
        out.into_iter()
    }
}

fn build(
    bytes: &Bytes,
    range: std::ops::Range<usize>,
    depth: usize,
    error: &mut Option<Error>,
) -> Vec<Element> {
    let mut out = Vec::new();
    if depth >= MAX_DEPTH {
        error.get_or_insert(Error::TooDeep { offset: range.start as u64, limit: MAX_DEPTH });
        return out;
    }
    for child in Children::new(bytes, range, 0) {
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                error.get_or_insert(e);
                break;
            }
        };
        let children = if schema::kind_of(child.header.id) == ElementType::Master {
            build(bytes, child.data.clone(), depth + 1, error)
        } else {
            Vec::new()
        };
        out.push(Element {
            id: child.header.id,
            offset: child.start as u64,
            header_len: child.header.len,
            declared_size: child.header.size,
            truncated: child.truncated,
            data: bytes.slice(child.data),
            children,
        });
    }
    out
}

impl fmt::Display for ElementTree {
    /// An mkvinfo-like listing: one line per element with name, id, size and value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (depth, e) in self.iter() {
            let size = e.declared_size.map_or_else(|| "unknown".to_owned(), |s| s.to_string());
            write!(
                f,
                "{:indent$}+ {} ({:#X}) @{} size {}",
                "",
                e.name(),
                e.id,
                e.offset,
                size,
                indent = depth * 2
            )?;
            match e.value() {
                Value::Master => {}
                Value::Uint(v) => write!(f, ": {v}")?,
                Value::Int(v) => write!(f, ": {v}")?,
                Value::Float(v) => write!(f, ": {v}")?,
                Value::String(s) => write!(f, ": {s:?}")?,
                Value::Date(v) => write!(f, ": {v} ns since 2001")?,
                Value::Binary(b) | Value::Invalid(b) => {
                    write!(f, ": {} bytes", b.len())?;
                    if (e.id == crate::ids::SIMPLE_BLOCK || e.id == crate::ids::BLOCK)
                        && let vint::Vint::Done(Some(track), n) = vint::read_size(&b)
                        && b.len() >= n + 3
                    {
                        let key = if b[n + 2] & 0x80 != 0 { ", key" } else { "" };
                        let tc = i16::from_be_bytes([b[n], b[n + 1]]);
                        write!(f, " (track {track}, timecode {tc}{key})")?;
                    }
                }
            }
            if e.truncated {
                write!(f, " [truncated]")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
