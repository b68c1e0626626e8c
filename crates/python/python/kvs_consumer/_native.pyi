"""Type stubs for kvs_consumer._native, the Rust half of kvs_consumer."""

import builtins
import datetime
import os
import pathlib
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union, overload

BytesLike = Union[bytes, bytearray, memoryview]
StrPath = Union[str, "os.PathLike[str]"]
Value = Union[int, float, str, bytes, datetime.datetime, List["Element"]]

__version__: str

class FragmentReader:
    """Splits a stream into fragments: ``for fragment in FragmentReader(response): ...``.

    ``source`` is a boto3 GetMedia / GetMediaForFragmentList response (or its
    ``Payload``), any object with ``read1(n)`` or ``read(n)``, a path, or bytes. Each
    fragment comes out as soon as it is complete, the last one included; an error sent by
    KVS inside the stream raises ``KvsStreamError``.
    """

    def __init__(self, source: Any, chunk_size: int = 65536) -> None: ...
    def __iter__(self) -> "FragmentReader": ...
    def __next__(self) -> "Fragment": ...
    def stop(self) -> None:
        """Stops before the next read; callable from another thread."""
    @property
    def bytes_read(self) -> int: ...
    @property
    def fragments_read(self) -> int: ...
    @property
    def skipped(self) -> List[Tuple[int, int, str]]:
        """Runs of bytes that were not fragments: ``(offset, length, reason)``."""

class Consumer:
    """Reads a Kinesis video stream, live (resumed across dropped connections) or archived."""

    def __init__(
        self,
        stream_name: str,
        region: Optional[str] = None,
        endpoint_url: Optional[str] = None,
        start: Union[str, Dict[str, Any], None] = None,
        follow: bool = True,
        archive: Optional[Tuple[Any, ...]] = None,
        credentials: Optional[Tuple[str, str, Optional[str]]] = None,
        queue_capacity: int = 4,
        ca_file: Optional[str] = None,
    ) -> None:
        """``ca_file``: a PEM of extra roots to trust (``kvs serve --tls``'s ``cert.pem``);
        default ``AWS_CA_BUNDLE``, then ``SSL_CERT_FILE``."""
    def __iter__(self) -> "Consumer": ...
    def __next__(self) -> "Fragment": ...
    def stop(self) -> None:
        """Stops the read; callable from any thread."""
    @property
    def stats(self) -> Dict[str, Optional[int]]: ...

class Fleet:
    """Reads many streams, each fragment once and in order, with checkpoints.

    Iterating yields ``(stream, fragment)``; a pair is handled (checkpointed, and its
    stream's next fragment handed out) when the next one is asked for or at ``stop()``.
    """

    def __init__(
        self,
        streams: Optional[List[str]] = None,
        prefix: Optional[str] = None,
        all: bool = False,
        endpoint: Optional[str] = None,
        region: Optional[str] = None,
        checkpoints: str = "sqlite:kvs-checkpoints.sqlite",
        worker_id: Optional[str] = None,
        failover: float = 10.0,
        start: Union[str, Dict[str, Any]] = "now",
        checkpoint_every: Optional[float] = None,
        discovery_interval: float = 60.0,
        credentials: Optional[Tuple[str, str, Optional[str]]] = None,
    ) -> None: ...
    def __iter__(self) -> "Fleet": ...
    def __next__(self) -> Tuple[str, "Fragment"]: ...
    def stop(self, handled: bool = True) -> None:
        """Stops cleanly and waits: last checkpoints written, leases released; callable
        from any thread. ``handled=False`` gives the pair being handled back: it comes
        again at the next run, flagged ``redelivered``."""
    def events(self) -> List[Dict[str, Any]]:
        """Lease events and stream errors since the last call, oldest first:
        ``{"type": "lease", "stream", "worker", "event"}`` or
        ``{"type": "error", "stream", "worker", "message", "code"}``."""
    @property
    def worker(self) -> str: ...

class Fragment:
    """One fragment: a complete MKV "file" with its tags."""

    @classmethod
    def from_bytes(cls, data: BytesLike) -> "Fragment": ...
    @property
    def number(self) -> Optional[str]: ...
    @property
    def continuation_token(self) -> Optional[str]: ...
    @property
    def server_timestamp(self) -> Optional[float]:
        """Seconds since the Unix epoch."""
    @property
    def producer_timestamp(self) -> Optional[float]:
        """Seconds since the Unix epoch."""
    @property
    def millis_behind_now(self) -> Optional[int]: ...
    @property
    def tags(self) -> List[Tuple[str, Union[str, builtins.bytes, None]]]:
        """Every SimpleTag in order, repeats kept."""
    @property
    def bytes(self) -> builtins.bytes: ...
    @property
    def redelivered(self) -> bool:
        """True when a ``Fleet`` may have handed this fragment out before a crash."""
    @property
    def index(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def complete(self) -> bool: ...
    @property
    def dom(self) -> "Document": ...
    @property
    def tracks(self) -> List[Dict[str, Any]]: ...
    def frame_count(self, track: Optional[int] = None) -> int: ...
    def track_payload(self, track: int) -> builtins.bytes: ...
    def save_wav(self, track: int, path: StrPath) -> pathlib.Path: ...
    def save_mkv(self, path: StrPath) -> pathlib.Path: ...
    def frames(
        self,
        every: int = 1,
        keyframes: bool = False,
        track: Optional[int] = None,
        with_info: bool = False,
        strict: bool = False,
    ) -> List[Any]:
        """RGB frames as ``(height, width, 3)`` uint8 numpy arrays (or ``(info, array)``
        pairs with ``with_info=True``)."""
    def save_jpegs(
        self, directory: StrPath, every: int = 1, keyframes: bool = False, format: str = "jpeg", quality: int = 90
    ) -> List["pathlib.Path"]:
        """Saves frames as ``<fragment number>-<frame index>.jpg`` in ``directory``."""
    def save_frames(
        self, base_path: str, every: int = 1, keyframes: bool = False, format: str = "jpeg", quality: int = 90
    ) -> List[str]:
        """Saves frames as ``<base_path>-0.jpg``, ``-1.jpg``..."""
    def playable_mkv(self) -> builtins.bytes: ...
    def __len__(self) -> int: ...

class Element:
    """One element of a Document, with EBMLite's attribute names. A Document is the
    Element at the top of its tree."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def offset(self) -> int: ...
    @property
    def size(self) -> int:
        """Size of the data (header excluded); a document's size in bytes."""
    @property
    def header_size(self) -> int: ...
    @property
    def payloadOffset(self) -> int: ...
    @property
    def unknown_size(self) -> bool: ...
    @property
    def truncated(self) -> bool: ...
    @property
    def is_master(self) -> bool: ...
    @property
    def dtype(self) -> type: ...
    @property
    def value(self) -> Value: ...
    @property
    def children(self) -> List["Element"]: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator["Element"]: ...
    def __getitem__(self, index: int) -> "Element": ...
    def find(self, name: str) -> Optional["Element"]: ...
    def find_all(self, name: str) -> List["Element"]: ...
    def path(self, path: str) -> Optional["Element"]: ...
    def getRaw(self) -> bytes: ...
    def getRawValue(self) -> bytes: ...
    def dump(self) -> Any: ...

class Document(Element):
    """The element tree of a fragment (the sample's ``fragment_dom``): the Element at the
    top, whose children are the top-level elements."""

    def __init__(self, data: BytesLike) -> None: ...
    @property
    def id(self) -> None: ...  # type: ignore[override]
    @property
    def type(self) -> Optional[str]: ...
    @property
    def info(self) -> Dict[str, Any]: ...
    @property
    def error(self) -> Optional[str]: ...
    @property
    def value(self) -> List["Element"]: ...
    def fragment(self) -> Fragment: ...
    def simple_tags(self) -> Dict[str, Union[str, bytes, None]]: ...
    def dump(self) -> Dict[str, Any]: ...
    def pretty(self) -> str: ...

Time = Union[float, int, datetime.datetime]
Credentials = Tuple[str, str, Optional[str]]

class Image:
    """One instant of GetImages: a picture, or the reason there is none."""

    @property
    def timestamp(self) -> float:
        """Seconds since the epoch (server or producer time, as asked)."""
    @property
    def error(self) -> Optional[str]:
        """``"NO_MEDIA"``, ``"MEDIA_ERROR"``, or ``None`` when there is a picture."""
    @property
    def content(self) -> builtins.bytes:
        """The JPEG or PNG bytes; empty with an error."""
    def file_name(self, ext: str = "jpg") -> str:
        """A name from the timestamp: ``20261204T050102.345Z.jpg``."""

class Images:
    """The images of a range, fetched a page at a time as iteration goes."""

    def __iter__(self) -> "Images": ...
    def __next__(self) -> Image: ...

def images(
    stream_name: str,
    start: Time,
    end: Time,
    *,
    every: float = 1.0,
    format: str = "jpeg",
    quality: int = 80,
    width: Optional[int] = None,
    height: Optional[int] = None,
    producer_time: bool = False,
    region: Optional[str] = None,
    endpoint_url: Optional[str] = None,
    credentials: Optional[Credentials] = None,
    ca_file: Optional[StrPath] = None,
) -> Images:
    """GetImages over ``start``..``end`` (any length, asked for in 300 s windows), one
    instant every ``every`` seconds (at least 0.2); ``format`` ``"jpeg"`` or ``"png"``."""

@overload
def clip(
    stream_name: str,
    start: Time,
    end: Time,
    path: None = None,
    *,
    producer_time: bool = False,
    region: Optional[str] = None,
    endpoint_url: Optional[str] = None,
    credentials: Optional[Credentials] = None,
    ca_file: Optional[StrPath] = None,
) -> builtins.bytes: ...
@overload
def clip(
    stream_name: str,
    start: Time,
    end: Time,
    path: StrPath,
    *,
    producer_time: bool = False,
    region: Optional[str] = None,
    endpoint_url: Optional[str] = None,
    credentials: Optional[Credentials] = None,
    ca_file: Optional[StrPath] = None,
) -> int:
    """GetClip: the MP4 bytes, or with ``path`` the bytes written there."""

def hls_url(
    stream_name: str,
    *,
    mode: str = "live",
    start: Optional[Time] = None,
    end: Optional[Time] = None,
    producer_time: bool = False,
    container: str = "fmp4",
    expires: Optional[int] = None,
    max_fragments: Optional[int] = None,
    display_timestamps: bool = False,
    region: Optional[str] = None,
    endpoint_url: Optional[str] = None,
    credentials: Optional[Credentials] = None,
    ca_file: Optional[StrPath] = None,
) -> str:
    """GetHLSStreamingSessionURL; ``mode`` ``"live"``, ``"replay"`` or ``"on_demand"``."""

def dash_url(
    stream_name: str,
    *,
    mode: str = "live",
    start: Optional[Time] = None,
    end: Optional[Time] = None,
    producer_time: bool = False,
    expires: Optional[int] = None,
    max_fragments: Optional[int] = None,
    display_timestamps: bool = False,
    region: Optional[str] = None,
    endpoint_url: Optional[str] = None,
    credentials: Optional[Credentials] = None,
    ca_file: Optional[StrPath] = None,
) -> str:
    """GetDASHStreamingSessionURL; the same modes as ``hls_url``."""

def _rust_split(data: BytesLike, chunk_size: int = 65536) -> Tuple[int, int]:
    """Benchmark baseline: (fragments, frames) split in Rust only."""

def _rust_frames(data: BytesLike, every: int = 1) -> Tuple[int, int]:
    """Benchmark baseline: (fragments, frames converted) decoded in Rust only."""

def _rust_frame_checksums(data: BytesLike, every: int = 1) -> List[Tuple[int, int, int, int, int, int, int]]:
    """Test helper: per-frame checksums of the first fragment, computed in Rust."""
