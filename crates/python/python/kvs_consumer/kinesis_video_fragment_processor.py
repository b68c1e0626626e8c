"""``KvsFragementProcessor``: the AWS sample's post-processing functions for one fragment,
on the Rust engine.

Drop-in for ``amazon_kinesis_video_consumer_library.kinesis_video_fragment_processor``
(the sample's spelling is kept; ``KvsFragmentProcessor`` is an alias). ``fragment_dom`` is
the :class:`~kvs_consumer.Document` that ``KvsConsumerLibrary`` delivers (or
``Document(fragment_bytes)``); ``fragment_bytes`` is ``bytes`` or ``bytearray``.
Frames are decoded in Rust (H.264 by openh264, built in), not by PyAV.
Differences from the sample: ``save_fragment_as_local_mkv`` writes a file with real element
sizes that players seek in; audio tracks are read whatever their track number size or
lacing, and the WAV header uses the track's own sampling frequency, channels and bit depth
(Amazon Connect's 8000 Hz, mono, 16 bits when the track does not say).
"""

import io
import wave
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Union

from ._native import Document, Fragment

if TYPE_CHECKING:
    import numpy

__all__ = ["KvsFragementProcessor", "KvsFragmentProcessor"]

BytesLike = Union[bytes, bytearray, memoryview]


def _document(fragment_dom: Any) -> Document:
    if isinstance(fragment_dom, Document):
        return fragment_dom
    if isinstance(fragment_dom, (bytes, bytearray, memoryview)):
        return Document(fragment_dom)
    raise TypeError(f"expected a kvs_consumer.Document, got {type(fragment_dom).__name__}")


class KvsFragementProcessor:
    """Functions over one fragment: tags, pretty print, save as MKV, frames as numpy
    arrays and JPEG files, Amazon Connect audio tracks as WAV."""

    def get_fragment_tags(self, fragment_dom: Any) -> Dict[str, Union[str, bytes, None]]:
        """Every SimpleTag of the fragment as ``{TagName: TagString or TagBinary}`` (a
        later tag of the same name wins). Raises ``KeyError`` if there is no Segment."""
        return _document(fragment_dom).simple_tags()

    def get_fragement_dom_pretty_string(self, fragment_dom: Any) -> str:
        """An EBMLite-style listing of every element: offset, size, name, id, value."""
        return _document(fragment_dom).pretty()

    def save_fragment_as_local_mkv(self, fragment_bytes: BytesLike, file_name_path: str) -> None:
        """Writes the fragment as a standalone ``.mkv`` that ordinary players play and
        seek in (unknown element sizes replaced by real ones)."""
        Fragment.from_bytes(fragment_bytes).save_mkv(file_name_path)

    def get_frames_as_ndarray(self, fragment_bytes: BytesLike, one_in_frames_ratio: int) -> List["numpy.ndarray"]:
        """Every ``one_in_frames_ratio``-th frame of the fragment (from the first, in
        presentation order) as ``(height, width, 3)`` uint8 RGB arrays. Frames not chosen
        are decoded (the codec needs them) but never converted. Raises ``MediaError`` for
        a codec this build cannot decode."""
        return Fragment.from_bytes(fragment_bytes).frames(every=one_in_frames_ratio)

    def save_frames_as_jpeg(self, fragment_bytes: BytesLike, one_in_frames_ratio: int, jpg_file_base_path: str) -> List[str]:
        """Saves the frames ``get_frames_as_ndarray`` would return as
        ``<jpg_file_base_path>-0.jpg``, ``-1.jpg``...; returns the paths."""
        return Fragment.from_bytes(fragment_bytes).save_frames(jpg_file_base_path, every=one_in_frames_ratio)

    def get_track_number_by_name(self, fragment_dom: Any, track_name: str) -> Optional[int]:
        """The TrackNumber of the TrackEntry whose Name is ``track_name`` (e.g.
        ``"AUDIO_FROM_CUSTOMER"``), or ``None``."""
        tracks = _document(fragment_dom).path("Segment/Tracks")
        if tracks is None:
            return None
        for entry in tracks:
            if entry.name != "TrackEntry":
                continue
            name = entry.path("Name")
            number = entry.path("TrackNumber")
            if name is not None and number is not None and name.value == track_name:
                value = number.value
                return value if isinstance(value, int) else None
        return None

    def get_track_bytearray(self, mkv_dom: Any, track_nr: int) -> bytearray:
        """The payloads of every frame of one track, joined: the raw PCM of an Amazon
        Connect audio track."""
        return bytearray(_document(mkv_dom).fragment().track_payload(track_nr))

    def convert_track_to_wav(self, track_bytearray: BytesLike) -> io.BytesIO:
        """Wraps raw 16-bit mono 8000 Hz PCM (Amazon Connect's format) in a WAV file in
        memory, as the sample does."""
        file_wav = io.BytesIO()
        with wave.open(file_wav, "wb") as f:
            f.setnchannels(1)
            f.setframerate(8000)
            f.setsampwidth(2)
            f.writeframes(bytes(track_bytearray))
        return file_wav

    def save_connect_fragment_audio_track_as_wav(self, fragment_dom: Any, track_nr: int, file_name_path: str) -> None:
        """Writes one audio track of the fragment as a WAV file."""
        _document(fragment_dom).fragment().save_wav(track_nr, file_name_path)

    def save_connect_fragment_audio_track_from_customer_as_wav(self, fragment_dom: Any, file_name_path_part: str) -> None:
        """Writes the ``AUDIO_FROM_CUSTOMER`` track to ``<file_name_path_part>-AUDIO_FROM_CUSTOMER.wav``
        if the fragment has one."""
        self._save_named_track(fragment_dom, "AUDIO_FROM_CUSTOMER", file_name_path_part)

    def save_connect_fragment_audio_track_to_customer_as_wav(self, fragment_dom: Any, file_name_path_part: str) -> None:
        """Writes the ``AUDIO_TO_CUSTOMER`` track to ``<file_name_path_part>-AUDIO_TO_CUSTOMER.wav``
        if the fragment has one."""
        self._save_named_track(fragment_dom, "AUDIO_TO_CUSTOMER", file_name_path_part)

    def _save_named_track(self, fragment_dom: Any, track_name: str, file_name_path_part: str) -> None:
        track_number = self.get_track_number_by_name(fragment_dom, track_name)
        if track_number:
            file_name_path = f"{file_name_path_part}-{track_name}.wav"
            self.save_connect_fragment_audio_track_as_wav(fragment_dom, track_number, file_name_path)


KvsFragmentProcessor = KvsFragementProcessor
