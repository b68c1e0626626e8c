"""``KvsConsumerLibrary``: the AWS sample's threaded, callback-based GetMedia reader, on the
Rust fragment splitter.

Drop-in for ``amazon_kinesis_video_consumer_library.kinesis_video_streams_parser``: same
class, constructor, callbacks and ``stop_thread()``. Unlike the sample, each fragment is
delivered as soon as its last byte has arrived (not when the next one starts), the last
fragment of the stream is delivered, the stream is read once rather than re-parsed for
every chunk, and an error that KVS sends inside the stream reaches
``on_read_stream_exception`` as a :class:`~kvs_consumer.KvsStreamError` instead of being
delivered as a fragment.
"""

import logging
import timeit
from threading import Thread
from typing import Any, Callable, Optional

from ._native import FragmentReader

__all__ = ["KvsConsumerLibrary"]

log = logging.getLogger(__name__)


class KvsConsumerLibrary(Thread):
    """Reads a GetMedia or GetMediaForFragmentList response on its own thread and calls
    back for each fragment.

    Args:
        stream_name: passed back to every callback, to tell streams apart.
        get_media_response_object: the boto3 response (a dict with ``'Payload'``), or any
            object with ``read(n)``.
        on_fragment_arrived: ``(stream_name, fragment_bytes, fragment_dom,
            fragment_receive_duration)``; ``fragment_bytes`` is ``bytes``,
            ``fragment_dom`` a :class:`~kvs_consumer.Document`, the duration in seconds
            since the previous fragment (or the start).
        on_read_stream_complete: ``(stream_name)``, once the stream has ended.
        on_read_stream_exception: ``(stream_name, error)``, when reading fails; the thread
            then ends.
        chunk_size: the most bytes read from the response at a time.
    """

    def __init__(
        self,
        stream_name: str,
        get_media_response_object: Any,
        on_fragment_arrived: Callable[[str, bytes, Any, float], Any],
        on_read_stream_complete: Callable[[str], Any],
        on_read_stream_exception: Callable[[str, BaseException], Any],
        chunk_size: int = 65536,
    ) -> None:
        Thread.__init__(self)
        self._stop_get_media = False
        self._reader: Optional[FragmentReader] = None
        self._chunk_size = chunk_size
        self.stream_name = stream_name
        self.get_media_response_object = get_media_response_object
        self.on_fragment_arrived_callback = on_fragment_arrived
        self.on_read_stream_complete_callback = on_read_stream_complete
        self.on_read_stream_exception = on_read_stream_exception

    def stop_thread(self) -> None:
        """Asks the thread to stop before its next read; a read already waiting on the
        network finishes first. ``on_read_stream_complete`` is then called."""
        self._stop_get_media = True
        reader = self._reader
        if reader is not None:
            reader.stop()

    def run(self) -> None:
        """Reads the response to its end, calling back for each fragment."""
        try:
            reader = FragmentReader(self.get_media_response_object, self._chunk_size)
            self._reader = reader
            if self._stop_get_media:
                reader.stop()
            skipped_seen = 0
            fragment_read_start_time = timeit.default_timer()
            for fragment in reader:
                skipped_seen = _log_skipped(reader, skipped_seen)
                if self._stop_get_media:
                    break
                fragment_receive_duration = timeit.default_timer() - fragment_read_start_time
                self.on_fragment_arrived_callback(
                    self.stream_name, fragment.bytes, fragment.dom, fragment_receive_duration
                )
                fragment_read_start_time = timeit.default_timer()
            _log_skipped(reader, skipped_seen)
            self.on_read_stream_complete_callback(self.stream_name)
        except Exception as err:  # the sample's contract: every failure goes to the callback
            self.on_read_stream_exception(self.stream_name, err)


def _log_skipped(reader: FragmentReader, seen: int) -> int:
    skipped = reader.skipped
    for offset, length, reason in skipped[seen:]:
        log.warning("skipped %d bytes at offset %d that are not a fragment: %s", length, offset, reason)
    return len(skipped)
