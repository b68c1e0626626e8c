//! `Element` and `Document`: the fragment "DOM" that the Python sample's users know from
//! EBMLite, over the element tree of `kvs-mkv`.
//!
//! One node type: an `Element` is the fragment's shared tree (parsed once, with the GIL
//! released, behind an `Arc`) and the path of child indices that leads to its element, so
//! walking the tree copies no payload. The empty path is the document itself: `Document`
//! is that root node, a subclass that adds what only a whole document has (its EBML header,
//! its SimpleTags, a listing, its `Fragment`). Values become Python objects only when asked
//! for.
//!
//! What it owns: the EBMLite names (`id`, `name`, `value`, `offset`, `size`,
//! `payloadOffset`, `dtype`), iteration and indexing, the sample's `get_fragment_tags`
//! dictionary and an EBMLite-style listing. Parsing, search by name and path, and tag
//! reading are `kvs-mkv`'s (`ElementTree`, `Element::find`, `parse_tags`).

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use kvs_mkv::{ElementTree, ElementType, Value, ids};
use pyo3::exceptions::{PyIndexError, PyKeyError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyType};

use crate::error::Error;

/// Microseconds between the Unix epoch and 2001-01-01T00:00:00 UTC, the Matroska epoch.
const MATROSKA_EPOCH_UNIX_MICROS: i64 = 978_307_200_000_000;

/// What EBMLite calls a document read from memory.
const DOCUMENT_NAME: &str = "MatroskaDocument";

/// The bytes of a fragment and their element tree, parsed on first use, shared by a
/// `Document` and every `Element` handed out.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) bytes: Bytes,
    tree: OnceLock<ElementTree>,
}

impl Shared {
    /// Shares `bytes`; nothing is parsed until the tree is asked for.
    pub(crate) fn new(bytes: Bytes) -> Self {
        Self { bytes, tree: OnceLock::new() }
    }

    /// The tree, parsed with the GIL released the first time.
    fn tree(&self, py: Python<'_>) -> &ElementTree {
        if let Some(tree) = self.tree.get() {
            return tree;
        }
        let bytes = self.bytes.clone();
        let parsed = py.detach(|| ElementTree::parse(bytes));
        self.tree.get_or_init(|| parsed)
    }

    /// The element at `path` (the tree itself for the empty path).
    fn resolve(&self, py: Python<'_>, path: &[u32]) -> Option<Node<'_>> {
        let tree = self.tree(py);
        let Some((first, rest)) = path.split_first() else { return Some(Node::Root(tree)) };
        let mut element = tree.roots().get(*first as usize)?;
        for &i in rest {
            element = element.children().get(i as usize)?;
        }
        Some(Node::Element(element))
    }
}

/// What a path leads to: the whole tree, or one element of it.
#[derive(Clone, Copy)]
enum Node<'a> {
    Root(&'a ElementTree),
    Element(&'a kvs_mkv::Element),
}

impl<'a> Node<'a> {
    fn children(self) -> &'a [kvs_mkv::Element] {
        match self {
            Node::Root(tree) => tree.roots(),
            Node::Element(e) => e.children(),
        }
    }

    /// The first descendant named `name`, depth first.
    fn find(self, name: &str) -> Option<&'a kvs_mkv::Element> {
        match self {
            Node::Root(tree) => tree.find(name),
            Node::Element(e) => e.find(name),
        }
    }

    /// Every descendant named `name`, depth first.
    fn find_all(self, name: &str) -> Vec<&'a kvs_mkv::Element> {
        match self {
            Node::Root(tree) => tree.find_all(name),
            Node::Element(e) => e.find_all(name),
        }
    }

    /// The descendant at a `/`-separated path of names.
    fn path(self, path: &str) -> Option<&'a kvs_mkv::Element> {
        match self {
            Node::Root(tree) => tree.path(path),
            Node::Element(e) => e.path(path),
        }
    }
}

/// The path of child indices from the top of `tree` to `target`, one of its elements
/// (found by `kvs-mkv`'s search). Siblings are in offset order and never overlap, so each
/// step is the last sibling that starts at or before the target.
fn locate(tree: &ElementTree, target: &kvs_mkv::Element) -> Option<Vec<u32>> {
    let mut path = Vec::new();
    let mut level = tree.roots();
    loop {
        let i = level.partition_point(|e| e.offset() <= target.offset()).checked_sub(1)?;
        path.push(u32::try_from(i).ok()?);
        let element = &level[i];
        if std::ptr::eq(element, target) {
            return Some(path);
        }
        level = element.children();
    }
}

/// One element of a fragment's tree, with EBMLite's element interface; or, as its
/// subclass [`Document`], the whole tree.
#[pyclass(frozen, subclass, module = "kvs_consumer._native")]
pub struct Element {
    shared: Arc<Shared>,
    path: Vec<u32>,
}

impl Element {
    fn node<'a>(&'a self, py: Python<'_>) -> PyResult<Node<'a>> {
        self.shared
            .resolve(py, &self.path)
            .ok_or_else(|| PyRuntimeError::new_err("element path out of its tree"))
    }

    /// The element itself; `None` for the document.
    fn element<'a>(&'a self, py: Python<'_>) -> PyResult<Option<&'a kvs_mkv::Element>> {
        Ok(match self.node(py)? {
            Node::Root(_) => None,
            Node::Element(e) => Some(e),
        })
    }

    fn at(&self, path: Vec<u32>) -> Element {
        Element { shared: self.shared.clone(), path }
    }

    fn child(&self, i: u32) -> Element {
        let mut path = self.path.clone();
        path.push(i);
        self.at(path)
    }

    /// The element handle of `found`, an element of this tree.
    fn handle(&self, py: Python<'_>, found: &kvs_mkv::Element) -> PyResult<Element> {
        let path = locate(self.shared.tree(py), found)
            .ok_or_else(|| PyRuntimeError::new_err("element not found in its own tree"))?;
        Ok(self.at(path))
    }
}

#[pymethods]
impl Element {
    /// The element id, e.g. `0x1A45DFA3` for the EBML header; `None` for a document.
    #[getter]
    fn id(&self, py: Python<'_>) -> PyResult<Option<u32>> {
        Ok(self.element(py)?.map(kvs_mkv::Element::id))
    }

    /// The Matroska name, e.g. `"SimpleBlock"`, or `"Unknown"`; `"MatroskaDocument"` for
    /// a document.
    #[getter]
    fn name(&self, py: Python<'_>) -> PyResult<&'static str> {
        Ok(self.element(py)?.map_or(DOCUMENT_NAME, kvs_mkv::Element::name))
    }

    /// Offset of the element's header within the fragment (0 for a document).
    #[getter]
    fn offset(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.element(py)?.map_or(0, kvs_mkv::Element::offset))
    }

    /// Size of the element's data (its payload, header excluded), as in EBMLite. For an
    /// element of unknown size, the size it turned out to have. For a document, the size
    /// of its bytes.
    #[getter]
    fn size(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.element(py)?.map_or(self.shared.bytes.len(), |e| e.data().len()))
    }

    /// Bytes taken by the element's header (id and size).
    #[getter]
    fn header_size(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.element(py)?.map_or(0, kvs_mkv::Element::header_len))
    }

    /// Offset of the element's data within the fragment.
    #[getter]
    #[allow(non_snake_case)]
    fn payloadOffset(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.element(py)?.map_or(0, |e| e.offset() + e.header_len() as u64))
    }

    /// Whether the header declared an unknown size (`0x01FFFFFFFFFFFFFF`).
    #[getter]
    fn unknown_size(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.element(py)?.is_some_and(|e| e.declared_size().is_none()))
    }

    /// Whether the data ran past the end of the fragment (what is there is kept).
    #[getter]
    fn truncated(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.element(py)?.is_some_and(kvs_mkv::Element::is_truncated))
    }

    /// Whether this element contains other elements (a document does).
    #[getter]
    fn is_master(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(kind(self.element(py)?) == ElementType::Master)
    }

    /// The Python type of `value`: `list` (master), `int`, `float`, `str`, `bytes` or
    /// `datetime.datetime`.
    #[getter]
    fn dtype<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyType>> {
        let name = match kind(self.element(py)?) {
            ElementType::Master => "list",
            ElementType::Uint | ElementType::Int => "int",
            ElementType::Float => "float",
            ElementType::String | ElementType::Utf8 => "str",
            ElementType::Binary => "bytes",
            ElementType::Date => return Ok(py.import("datetime")?.getattr("datetime")?.cast_into()?),
        };
        Ok(py.import("builtins")?.getattr(name)?.cast_into()?)
    }

    /// The decoded value: a list of child elements for a master (and a document), else
    /// `int`, `float`, `str`, `bytes` (binary data, copied on access) or
    /// `datetime.datetime` (UTC, naive).
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.element(py)? {
            Some(e) if e.kind() != ElementType::Master => Ok(scalar_to_py(py, e)?.into_bound(py)),
            _ => Ok(PyList::new(py, self.children(py)?)?.into_any()),
        }
    }

    /// The child elements, as a list (empty for non-masters).
    #[getter]
    fn children(&self, py: Python<'_>) -> PyResult<Vec<Element>> {
        Ok((0..self.__len__(py)? as u32).map(|i| self.child(i)).collect())
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.node(py)?.children().len())
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        PyList::new(py, self.children(py)?)?.try_iter().map(Bound::into_any)
    }

    fn __getitem__(&self, py: Python<'_>, index: isize) -> PyResult<Element> {
        let len = self.__len__(py)?;
        let i = if index < 0 { index + len as isize } else { index };
        if i < 0 || i as usize >= len {
            return Err(PyIndexError::new_err("element index out of range"));
        }
        Ok(self.child(i as u32))
    }

    /// The first descendant with this name, depth first, or `None`.
    fn find(&self, py: Python<'_>, name: &str) -> PyResult<Option<Element>> {
        self.node(py)?.find(name).map(|e| self.handle(py, e)).transpose()
    }

    /// Every descendant with this name, depth first.
    fn find_all(&self, py: Python<'_>, name: &str) -> PyResult<Vec<Element>> {
        self.node(py)?.find_all(name).into_iter().map(|e| self.handle(py, e)).collect()
    }

    /// The descendant at a `/`-separated path of names (the first match at each step),
    /// e.g. `"Segment/Tracks/TrackEntry/CodecID"` from a document, or `None`.
    fn path(&self, py: Python<'_>, path: &str) -> PyResult<Option<Element>> {
        self.node(py)?.path(path).map(|e| self.handle(py, e)).transpose()
    }

    /// The element's bytes, header included (EBMLite's `getRaw()`); a document's bytes.
    #[allow(non_snake_case)]
    fn getRaw<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = &self.shared.bytes;
        let raw = match self.element(py)? {
            None => bytes,
            Some(e) => {
                let start = e.offset() as usize;
                let end = (start + e.header_len() + e.data().len()).min(bytes.len());
                bytes.get(start..end).unwrap_or_default()
            }
        };
        Ok(PyBytes::new(py, raw))
    }

    /// The element's data bytes, header excluded (EBMLite's `getRawValue()`); a
    /// document's bytes.
    #[allow(non_snake_case)]
    fn getRawValue<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, self.element(py)?.map_or(&self.shared.bytes, |e| e.data())))
    }

    /// The value as nested dictionaries keyed by element name for a master or a document
    /// (EBMLite's `dump()`; repeated elements become lists), else the value.
    fn dump<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.element(py)? {
            Some(e) if e.kind() != ElementType::Master => Ok(scalar_to_py(py, e)?.into_bound(py)),
            _ => Ok(dump_elements(py, self.node(py)?.children())?.into_any()),
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(match self.element(py)? {
            None => format!(
                "<{DOCUMENT_NAME}: {} bytes, {} top-level elements>",
                self.shared.bytes.len(),
                self.__len__(py)?
            ),
            Some(e) => {
                format!(
                    "<{} (ID:0x{:02X}), offset {}, size {}>",
                    e.name(),
                    e.id(),
                    e.offset(),
                    e.data().len()
                )
            }
        })
    }
}

/// The element tree of one fragment (the Python sample's `fragment_dom`): the `Element`
/// at the top, whose children are the top-level elements (`EBML`, `Segment`).
#[pyclass(frozen, extends = Element, module = "kvs_consumer._native")]
pub struct Document;

impl Document {
    /// The document over `shared`, to be made into a Python object.
    pub(crate) fn new(shared: Arc<Shared>) -> PyClassInitializer<Self> {
        PyClassInitializer::from(Element { shared, path: Vec::new() }).add_subclass(Document)
    }
}

/// The node a `Document` is.
fn root<'a>(slf: &'a Bound<'_, Document>) -> &'a Element {
    slf.as_super().get()
}

#[pymethods]
impl Document {
    /// Parses the bytes of one fragment (or any EBML data) into a document.
    #[new]
    fn py_new(py: Python<'_>, data: crate::source::Data) -> PyClassInitializer<Self> {
        let shared = Arc::new(Shared::new(data.into_bytes()));
        shared.tree(py);
        Self::new(shared)
    }

    /// The EBML header's DocType (`"matroska"` or `"webm"`), or `None`.
    #[getter]
    fn r#type(slf: &Bound<'_, Self>) -> Option<String> {
        root(slf).shared.tree(slf.py()).path("EBML/DocType").and_then(kvs_mkv::Element::as_string)
    }

    /// The EBML header's values by name, e.g. `{"DocType": "matroska", ...}`.
    #[getter]
    fn info<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        let py = slf.py();
        let dict = PyDict::new(py);
        if let Some(header) = root(slf).shared.tree(py).roots().iter().find(|r| r.id() == ids::EBML) {
            for child in header.children() {
                dict.set_item(child.name(), scalar_to_py(py, child)?)?;
            }
        }
        Ok(dict)
    }

    /// Why parsing stopped early (the bytes were cut short or malformed), or `None`.
    #[getter]
    fn error(slf: &Bound<'_, Self>) -> Option<String> {
        root(slf).shared.tree(slf.py()).error().map(ToString::to_string)
    }

    /// The document's bytes as a `Fragment` (shared, not copied). Raises `MkvError` when
    /// they hold no fragment.
    fn fragment(slf: &Bound<'_, Self>) -> PyResult<crate::fragment::Fragment> {
        let shared = root(slf).shared.clone();
        let bytes = shared.bytes.clone();
        let inner = slf.py().detach(|| kvs_mkv::Fragment::from_bytes(bytes)).map_err(Error::from)?;
        Ok(crate::fragment::Fragment::with_shared(inner, shared))
    }

    /// The SimpleTags of the Segment's `Tags` elements as `{TagName: TagString or
    /// TagBinary}`; a later tag of the same name wins. This is
    /// `KvsFragementProcessor.get_fragment_tags`.
    ///
    /// Raises `KeyError` when the document has no Segment, `MkvError` when a whole `Tags`
    /// element is malformed.
    fn simple_tags<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        let py = slf.py();
        let shared = &root(slf).shared;
        let segment =
            shared.tree(py).roots().iter().find(|r| r.id() == ids::SEGMENT).ok_or_else(|| {
                PyKeyError::new_err("Segment Element required but not found in fragment_doc")
            })?;
        let dict = PyDict::new(py);
        // A Tags element cut short by the end of the bytes is not read, as the splitter
        // does not read it either: these are the tags `Fragment.tags` holds.
        for tags in segment.children().iter().filter(|e| e.id() == ids::TAGS && !e.is_truncated()) {
            let end =
                (tags.offset() as usize + tags.header_len() + tags.data().len()).min(shared.bytes.len());
            let whole = shared.bytes.slice((tags.offset() as usize).min(end)..end);
            for tag in kvs_mkv::parse_tags(&whole).map_err(Error::from)? {
                if tag.name.is_empty() {
                    continue;
                }
                let value = match (tag.value, tag.binary) {
                    (Some(s), _) => s.into_pyobject(py)?.into_any(),
                    (None, Some(b)) => PyBytes::new(py, &b).into_any(),
                    (None, None) => py.None().into_bound(py),
                };
                dict.set_item(tag.name, value)?;
            }
        }
        Ok(dict)
    }

    /// An EBMLite-style listing: one line per element with offset, size, name, id and
    /// value (what `get_fragement_dom_pretty_string` returns).
    fn pretty(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let shared = &root(slf).shared;
        let mut out = String::new();
        out.push_str("Offset Size   Element (ID): Value\n");
        out.push_str("====== ====== =================================\n");
        let doc_type = Self::r#type(slf).unwrap_or_default();
        let size = shared.bytes.len();
        let _ = writeln!(out, "{:>6} {size:>6}  {DOCUMENT_NAME} (Document, type {doc_type})", 0);
        for element in shared.tree(py).roots() {
            pretty_element(py, element, 1, &mut out)?;
        }
        Ok(out)
    }

    fn __str__(slf: &Bound<'_, Self>) -> PyResult<String> {
        Self::pretty(slf)
    }
}

/// The schema type of an element, a document being a master.
fn kind(element: Option<&kvs_mkv::Element>) -> ElementType {
    element.map_or(ElementType::Master, kvs_mkv::Element::kind)
}

/// The value of a non-master element as a Python object.
fn scalar_to_py(py: Python<'_>, e: &kvs_mkv::Element) -> PyResult<Py<PyAny>> {
    Ok(match e.value() {
        Value::Master => py.None(),
        Value::Uint(v) => v.into_pyobject(py)?.into_any().unbind(),
        Value::Int(v) => v.into_pyobject(py)?.into_any().unbind(),
        Value::Float(v) => v.into_pyobject(py)?.into_any().unbind(),
        Value::String(s) => s.into_pyobject(py)?.into_any().unbind(),
        Value::Date(ns) => {
            let datetime = py.import("datetime")?;
            let epoch = datetime.getattr("datetime")?.call1((1970, 1, 1))?;
            let micros = MATROSKA_EPOCH_UNIX_MICROS.saturating_add(ns / 1000);
            let delta = datetime.getattr("timedelta")?.call1((0, 0, micros))?;
            epoch.call_method1("__add__", (delta,))?.unbind()
        }
        Value::Binary(b) | Value::Invalid(b) => PyBytes::new(py, &b).into_any().unbind(),
    })
}

fn dump_elements<'py>(py: Python<'py>, elements: &[kvs_mkv::Element]) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for e in elements {
        let value = if e.kind() == ElementType::Master {
            dump_elements(py, e.children())?.into_any()
        } else {
            scalar_to_py(py, e)?.into_bound(py)
        };
        let repeated = elements.iter().filter(|o| o.id() == e.id()).count() > 1;
        if repeated {
            let list = match dict.get_item(e.name())? {
                Some(existing) => existing.cast_into::<PyList>()?,
                None => {
                    let list = PyList::empty(py);
                    dict.set_item(e.name(), &list)?;
                    list
                }
            };
            list.append(value)?;
        } else {
            dict.set_item(e.name(), value)?;
        }
    }
    Ok(dict)
}

fn pretty_element(py: Python<'_>, e: &kvs_mkv::Element, depth: usize, out: &mut String) -> PyResult<()> {
    let tab = "  ".repeat(depth);
    let _ = write!(out, "{:>6} {:>6} {tab} {} (ID 0x{:X})", e.offset(), e.data().len(), e.name(), e.id());
    match e.kind() {
        ElementType::Master => {
            let _ = writeln!(out, ": (master) {} subelements", e.children().len());
            for child in e.children() {
                pretty_element(py, child, depth + 1, out)?;
            }
        }
        ElementType::Binary => {
            let _ = writeln!(out, ": (bytes) <{} bytes>", e.data().len());
        }
        kind => {
            let type_name = match kind {
                ElementType::Float => "float",
                ElementType::String | ElementType::Utf8 => "str",
                ElementType::Date => "datetime",
                _ => "int",
            };
            let value = scalar_to_py(py, e)?;
            let _ = writeln!(out, ": ({type_name}) {}", value.bind(py).repr()?);
        }
    }
    Ok(())
}
