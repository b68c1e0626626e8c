//! `Document` and `Element`: the fragment "DOM" that the Python sample's users know from
//! EBMLite, over the element tree of `kvs-mkv`.
//!
//! The tree is parsed once (with the GIL released) and shared behind an `Arc`; a Python
//! `Element` is that `Arc` plus the path of child indices that leads to it, so walking the
//! tree copies no payload. Values are converted to Python objects only when asked for.
//!
//! What it owns: iteration, indexing and search over elements, EBMLite-compatible names
//! (`id`, `name`, `value`, `offset`, `size`, `payloadOffset`, `dtype`), the sample's
//! `get_fragment_tags` dictionary, and an EBMLite-style pretty print. Parsing belongs to
//! `kvs-mkv`.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use kvs_mkv::{ElementTree, Value, ids};
use pyo3::exceptions::{PyIndexError, PyKeyError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyType};

/// Microseconds between the Unix epoch and 2001-01-01T00:00:00 UTC, the Matroska epoch.
const MATROSKA_EPOCH_UNIX_MICROS: i64 = 978_307_200_000_000;

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
    pub(crate) fn tree(&self, py: Python<'_>) -> &ElementTree {
        if let Some(tree) = self.tree.get() {
            return tree;
        }
        let bytes = self.bytes.clone();
        let parsed = py.detach(|| ElementTree::parse(bytes));
        self.tree.get_or_init(|| parsed)
    }

    /// The tree, for elements: they are handed out only once it has been parsed.
    fn parsed(&self) -> &ElementTree {
        self.tree.get_or_init(|| ElementTree::parse(self.bytes.clone()))
    }

    fn resolve(&self, path: &[u32]) -> Option<&kvs_mkv::Element> {
        let (first, rest) = path.split_first()?;
        let mut element = self.parsed().roots().get(*first as usize)?;
        for &i in rest {
            element = element.children().get(i as usize)?;
        }
        Some(element)
    }

    /// Paths of the elements named `name` among `elements` and their descendants, depth
    /// first; `prefix` is the path of their parent. Stops after the first when `first_only`.
    fn search(
        elements: &[kvs_mkv::Element],
        prefix: &mut Vec<u32>,
        name: &str,
        first_only: bool,
        out: &mut Vec<Vec<u32>>,
    ) {
        for (i, e) in elements.iter().enumerate() {
            if first_only && !out.is_empty() {
                return;
            }
            prefix.push(i as u32);
            if e.name() == name {
                out.push(prefix.clone());
            }
            Self::search(e.children(), prefix, name, first_only, out);
            prefix.pop();
        }
    }

    /// Path of the element reached from `elements` by a `/`-separated path of names (the
    /// first match at each step).
    fn walk(elements: &[kvs_mkv::Element], mut prefix: Vec<u32>, path: &str) -> Option<Vec<u32>> {
        let mut elements = elements;
        for name in path.split('/') {
            let i = elements.iter().position(|e| e.name() == name)?;
            prefix.push(i as u32);
            elements = elements[i].children();
        }
        Some(prefix)
    }
}

/// The element tree of one fragment, as the Python sample's `fragment_dom`.
///
/// Iterating it yields the top-level elements (`EBML`, `Segment`); each `Element` iterates
/// over its children. `find`, `find_all` and `path` search by Matroska element name.
#[pyclass(frozen, module = "kvs_consumer._native")]
pub struct Document {
    pub(crate) shared: Arc<Shared>,
}

impl Document {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    fn element(&self, path: Vec<u32>) -> Element {
        Element { shared: self.shared.clone(), path }
    }
}

#[pymethods]
impl Document {
    /// Parses the bytes of one fragment (or any EBML data) into a document.
    #[new]
    fn py_new(py: Python<'_>, data: crate::source::Data) -> Self {
        let bytes = data.into_bytes();
        let document = Self::new(Arc::new(Shared::new(bytes)));
        document.shared.tree(py);
        document
    }

    /// Always `"MatroskaDocument"` (the name EBMLite gives a document read from memory).
    #[getter]
    fn name(&self) -> &'static str {
        "MatroskaDocument"
    }

    /// The EBML header's DocType (`"matroska"` or `"webm"`), or `None`.
    #[getter]
    fn r#type(&self, py: Python<'_>) -> Option<String> {
        self.shared.tree(py).path("EBML/DocType").and_then(|e| e.as_string())
    }

    /// Documents have no element id.
    #[getter]
    fn id(&self) -> Option<u32> {
        None
    }

    /// Always 0.
    #[getter]
    fn offset(&self) -> u64 {
        0
    }

    /// Size of the parsed bytes.
    #[getter]
    fn size(&self) -> usize {
        self.shared.bytes.len()
    }

    /// The EBML header's values by name, e.g. `{"DocType": "matroska", ...}`.
    #[getter]
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        if let Some(header) = self.shared.tree(py).roots().iter().find(|r| r.id() == ids::EBML) {
            for child in header.children() {
                dict.set_item(child.name(), scalar_to_py(py, child)?)?;
            }
        }
        Ok(dict)
    }

    /// The document's bytes as a `Fragment` (shared, not copied). Raises `MkvError` when
    /// they hold no fragment.
    fn fragment(&self, py: Python<'_>) -> PyResult<crate::fragment::Fragment> {
        let bytes = self.shared.bytes.clone();
        let inner = py.detach(|| kvs_mkv::Fragment::from_bytes(bytes)).map_err(crate::error::Error::from)?;
        Ok(crate::fragment::Fragment::with_shared(inner, self.shared.clone()))
    }

    /// Why parsing stopped early (the bytes were cut short or malformed), or `None`.
    #[getter]
    fn error(&self, py: Python<'_>) -> Option<String> {
        self.shared.tree(py).error().map(ToString::to_string)
    }

    /// The top-level elements, as a list.
    #[getter]
    fn value(&self, py: Python<'_>) -> Vec<Element> {
        self.children(py)
    }

    /// The top-level elements, as a list.
    #[getter]
    fn children(&self, py: Python<'_>) -> Vec<Element> {
        (0..self.shared.tree(py).roots().len() as u32).map(|i| self.element(vec![i])).collect()
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.shared.tree(py).roots().len()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        PyList::new(py, self.children(py))?.try_iter().map(Bound::into_any)
    }

    fn __getitem__(&self, py: Python<'_>, index: isize) -> PyResult<Element> {
        let i = normalize_index(index, self.__len__(py))?;
        Ok(self.element(vec![i]))
    }

    /// The first element with this name, depth first, or `None`.
    fn find(&self, py: Python<'_>, name: &str) -> Option<Element> {
        let mut out = Vec::new();
        Shared::search(self.shared.tree(py).roots(), &mut Vec::new(), name, true, &mut out);
        out.pop().map(|p| self.element(p))
    }

    /// Every element with this name, depth first.
    fn find_all(&self, py: Python<'_>, name: &str) -> Vec<Element> {
        let mut out = Vec::new();
        Shared::search(self.shared.tree(py).roots(), &mut Vec::new(), name, false, &mut out);
        out.into_iter().map(|p| self.element(p)).collect()
    }

    /// The element at a `/`-separated path of names from the top, e.g.
    /// `"Segment/Tracks/TrackEntry/CodecID"` (first match at each step), or `None`.
    fn path(&self, py: Python<'_>, path: &str) -> Option<Element> {
        Shared::walk(self.shared.tree(py).roots(), Vec::new(), path).map(|p| self.element(p))
    }

    /// The SimpleTags of the Segment's `Tags > Tag > SimpleTag` elements as
    /// `{TagName: TagString or TagBinary}`; a later tag of the same name wins. This is
    /// `KvsFragementProcessor.get_fragment_tags`.
    ///
    /// Raises `KeyError` when the document has no Segment.
    fn simple_tags<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let segment =
            self.shared.tree(py).roots().iter().find(|r| r.id() == ids::SEGMENT).ok_or_else(|| {
                PyKeyError::new_err("Segment Element required but not found in fragment_doc")
            })?;
        let dict = PyDict::new(py);
        let simple_tags = segment
            .children()
            .iter()
            .filter(|e| e.id() == ids::TAGS)
            .flat_map(|tags| tags.children().iter().filter(|e| e.id() == ids::TAG))
            .flat_map(|tag| tag.children().iter().filter(|e| e.id() == ids::SIMPLE_TAG));
        for simple in simple_tags {
            let mut name = None;
            let mut value = py.None();
            for child in simple.children() {
                match child.id() {
                    ids::TAG_NAME => name = child.as_string(),
                    ids::TAG_STRING | ids::TAG_BINARY => value = scalar_to_py(py, child)?,
                    _ => {}
                }
            }
            if let Some(name) = name.filter(|n| !n.is_empty()) {
                dict.set_item(name, value)?;
            }
        }
        Ok(dict)
    }

    /// The document as nested dictionaries keyed by element name (EBMLite's `dump()`);
    /// repeated elements become lists.
    fn dump<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        dump_elements(py, self.shared.tree(py).roots())
    }

    /// An EBMLite-style listing: one line per element with offset, size, name, id and
    /// value (what `get_fragement_dom_pretty_string` returns).
    fn pretty(&self, py: Python<'_>) -> PyResult<String> {
        let mut out = String::new();
        out.push_str("Offset Size   Element (ID): Value\n");
        out.push_str("====== ====== =================================\n");
        let doc_type = self.r#type(py).unwrap_or_default();
        let _ = writeln!(out, "{:>6} {:>6}  {} (Document, type {doc_type})", 0, self.size(), self.name());
        for root in self.shared.tree(py).roots() {
            pretty_element(py, root, 1, &mut out)?;
        }
        Ok(out)
    }

    fn __str__(&self, py: Python<'_>) -> PyResult<String> {
        self.pretty(py)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!("<MatroskaDocument: {} bytes, {} top-level elements>", self.size(), self.__len__(py))
    }
}

/// One element of a [`Document`]: EBMLite's element interface over the Rust tree.
#[pyclass(frozen, module = "kvs_consumer._native")]
pub struct Element {
    shared: Arc<Shared>,
    path: Vec<u32>,
}

impl Element {
    fn get(&self) -> PyResult<&kvs_mkv::Element> {
        self.shared.resolve(&self.path).ok_or_else(|| PyRuntimeError::new_err("element path out of its tree"))
    }

    fn child(&self, i: u32) -> Element {
        let mut path = self.path.clone();
        path.push(i);
        Element { shared: self.shared.clone(), path }
    }

    fn at(&self, path: Vec<u32>) -> Element {
        Element { shared: self.shared.clone(), path }
    }
}

#[pymethods]
impl Element {
    /// The element id, e.g. `0x1A45DFA3` for the EBML header.
    #[getter]
    fn id(&self) -> PyResult<u32> {
        Ok(self.get()?.id())
    }

    /// The Matroska name, e.g. `"SimpleBlock"`, or `"Unknown"`.
    #[getter]
    fn name(&self) -> PyResult<&'static str> {
        Ok(self.get()?.name())
    }

    /// Offset of the element's header within the fragment.
    #[getter]
    fn offset(&self) -> PyResult<u64> {
        Ok(self.get()?.offset())
    }

    /// Size of the element's data (its payload, header excluded), as in EBMLite. For an
    /// element of unknown size, the size it turned out to have.
    #[getter]
    fn size(&self) -> PyResult<usize> {
        Ok(self.get()?.data().len())
    }

    /// Bytes taken by the element's header (id and size).
    #[getter]
    fn header_size(&self) -> PyResult<usize> {
        Ok(self.get()?.header_len())
    }

    /// Offset of the element's data within the fragment.
    #[getter]
    #[allow(non_snake_case)]
    fn payloadOffset(&self) -> PyResult<u64> {
        let e = self.get()?;
        Ok(e.offset() + e.header_len() as u64)
    }

    /// Whether the header declared an unknown size (`0x01FFFFFFFFFFFFFF`).
    #[getter]
    fn unknown_size(&self) -> PyResult<bool> {
        Ok(self.get()?.declared_size().is_none())
    }

    /// Whether the data ran past the end of the fragment (what is there is kept).
    #[getter]
    fn truncated(&self) -> PyResult<bool> {
        Ok(self.get()?.is_truncated())
    }

    /// Whether this element contains other elements.
    #[getter]
    fn is_master(&self) -> PyResult<bool> {
        Ok(self.get()?.kind() == kvs_mkv::ElementType::Master)
    }

    /// The Python type of `value`: `list` (master), `int`, `float`, `str`, `bytes` or
    /// `datetime.datetime`.
    #[getter]
    fn dtype<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyType>> {
        let builtins = py.import("builtins")?;
        let name = match self.get()?.kind() {
            kvs_mkv::ElementType::Master => "list",
            kvs_mkv::ElementType::Uint | kvs_mkv::ElementType::Int => "int",
            kvs_mkv::ElementType::Float => "float",
            kvs_mkv::ElementType::String | kvs_mkv::ElementType::Utf8 => "str",
            kvs_mkv::ElementType::Binary => "bytes",
            kvs_mkv::ElementType::Date => {
                return Ok(py.import("datetime")?.getattr("datetime")?.cast_into()?);
            }
        };
        Ok(builtins.getattr(name)?.cast_into()?)
    }

    /// The decoded value: a list of child elements for a master, else `int`, `float`,
    /// `str`, `bytes` (binary data, copied on access) or `datetime.datetime` (UTC, naive).
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let e = self.get()?;
        if e.kind() == kvs_mkv::ElementType::Master {
            return Ok(PyList::new(py, self.children()?)?.into_any());
        }
        Ok(scalar_to_py(py, e)?.into_bound(py))
    }

    /// The child elements, as a list (empty for non-masters).
    #[getter]
    fn children(&self) -> PyResult<Vec<Element>> {
        Ok((0..self.get()?.children().len() as u32).map(|i| self.child(i)).collect())
    }

    fn __len__(&self) -> PyResult<usize> {
        Ok(self.get()?.children().len())
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        PyList::new(py, self.children()?)?.try_iter().map(Bound::into_any)
    }

    fn __getitem__(&self, index: isize) -> PyResult<Element> {
        let i = normalize_index(index, self.__len__()?)?;
        Ok(self.child(i))
    }

    /// The first descendant with this name, depth first, or `None`.
    fn find(&self, name: &str) -> PyResult<Option<Element>> {
        let mut out = Vec::new();
        Shared::search(self.get()?.children(), &mut self.path.clone(), name, true, &mut out);
        Ok(out.pop().map(|p| self.at(p)))
    }

    /// Every descendant with this name, depth first.
    fn find_all(&self, name: &str) -> PyResult<Vec<Element>> {
        let mut out = Vec::new();
        Shared::search(self.get()?.children(), &mut self.path.clone(), name, false, &mut out);
        Ok(out.into_iter().map(|p| self.at(p)).collect())
    }

    /// The descendant at a `/`-separated path of names, e.g. `"TrackEntry/CodecID"`.
    fn path(&self, path: &str) -> PyResult<Option<Element>> {
        Ok(Shared::walk(self.get()?.children(), self.path.clone(), path).map(|p| self.at(p)))
    }

    /// The element's bytes, header included (EBMLite's `getRaw()`).
    #[allow(non_snake_case)]
    fn getRaw<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let e = self.get()?;
        let start = e.offset() as usize;
        let end = (start + e.header_len() + e.data().len()).min(self.shared.bytes.len());
        Ok(PyBytes::new(py, self.shared.bytes.get(start..end).unwrap_or_default()))
    }

    /// The element's data bytes, header excluded (EBMLite's `getRawValue()`).
    #[allow(non_snake_case)]
    fn getRawValue<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, self.get()?.data()))
    }

    /// The value as nested dictionaries for a master (EBMLite's `dump()`), else the value.
    fn dump<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let e = self.get()?;
        if e.kind() == kvs_mkv::ElementType::Master {
            return Ok(dump_elements(py, e.children())?.into_any());
        }
        Ok(scalar_to_py(py, e)?.into_bound(py))
    }

    fn __repr__(&self) -> PyResult<String> {
        let e = self.get()?;
        Ok(format!("<{} (ID:0x{:02X}), offset {}, size {}>", e.name(), e.id(), e.offset(), e.data().len()))
    }
}

fn normalize_index(index: isize, len: usize) -> PyResult<u32> {
    let i = if index < 0 { index + len as isize } else { index };
    if i < 0 || i as usize >= len {
        return Err(PyIndexError::new_err("element index out of range"));
    }
    Ok(i as u32)
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
        let value = if e.kind() == kvs_mkv::ElementType::Master {
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
        kvs_mkv::ElementType::Master => {
            let _ = writeln!(out, ": (master) {} subelements", e.children().len());
            for child in e.children() {
                pretty_element(py, child, depth + 1, out)?;
            }
        }
        kvs_mkv::ElementType::Binary => {
            let _ = writeln!(out, ": (bytes) <{} bytes>", e.data().len());
        }
        kind => {
            let type_name = match kind {
                kvs_mkv::ElementType::Float => "float",
                kvs_mkv::ElementType::String | kvs_mkv::ElementType::Utf8 => "str",
                kvs_mkv::ElementType::Date => "datetime",
                _ => "int",
            };
            let value = scalar_to_py(py, e)?;
            let _ = writeln!(out, ": ({type_name}) {}", value.bind(py).repr()?);
        }
    }
    Ok(())
}
