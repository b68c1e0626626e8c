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

Archived media from the service: pictures, an MP4 clip, a player URL::

    from kvs_consumer import clip, hls_url, images
    for image in images("my-camera", start, end, every=1.0):
        if image.error is None:
            pathlib.Path(image.file_name("jpg")).write_bytes(image.content)
    clip("my-camera", start, end, "clip.mp4")
    print(hls_url("my-camera", mode="live"))
"""

from ._errors import KvsError, KvsStreamError, MediaError, MkvError
from ._native import (
    Document,
    Element,
    Fragment,
    FragmentReader,
    Image,
    Images,
    __version__,
    clip,
    dash_url,
    hls_url,
    images,
    put,
)
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
    "Image",
    "Images",
    "KvsConsumerLibrary",
    "KvsError",
    "KvsFragementProcessor",
    "KvsFragmentProcessor",
    "KvsStreamError",
    "MediaError",
    "MkvError",
    "__version__",
    "clip",
    "dash_url",
    "hls_url",
    "images",
    "put",
]
