"""Amazon Kinesis Video Streams consumer on a Rust engine.

Drop-in for the AWS sample "Amazon Kinesis Video Streams Consumer Library for Python":
change ``amazon_kinesis_video_consumer_library`` to ``kvs_consumer`` in the imports::

    from kvs_consumer.kinesis_video_streams_parser import KvsConsumerLibrary
    from kvs_consumer.kinesis_video_fragment_processor import KvsFragementProcessor

New code can iterate fragments directly, from a stream (resumed across dropped
connections) or from any GetMedia response, file or bytes::

    from kvs_consumer import Consumer, FragmentReader
    for fragment in Consumer("my-camera", start="earliest"):
        print(fragment.number, fragment.server_timestamp, len(fragment))
    for fragment in FragmentReader(get_media_response):
        frames = fragment.frames(every=10)

Many streams in one process, with checkpoints that survive a restart::

    from kvs_consumer import Fleet
    with Fleet(prefix="door-", checkpoints="sqlite:doors.sqlite") as fleet:
        for stream, fragment in fleet:
            print(stream, fragment.number, fragment.redelivered)

Sending video (a Matroska file or bytes), every fragment persisted before it returns::

    from kvs_consumer import put
    put("my-camera", "clip.mkv", create=True, tags=[("site", "door")])
"""

from ._errors import KvsError, KvsStreamError, MediaError, MkvError
from ._native import Document, Element, Fragment, FragmentReader, __version__, put
from .consumer import Consumer
from .fleet import Fleet
from .kinesis_video_fragment_processor import KvsFragementProcessor, KvsFragmentProcessor
from .kinesis_video_streams_parser import KvsConsumerLibrary

__all__ = [
    "Consumer",
    "Document",
    "Element",
    "Fleet",
    "Fragment",
    "FragmentReader",
    "KvsConsumerLibrary",
    "KvsError",
    "KvsFragementProcessor",
    "KvsFragmentProcessor",
    "KvsStreamError",
    "MediaError",
    "MkvError",
    "__version__",
    "put",
]
