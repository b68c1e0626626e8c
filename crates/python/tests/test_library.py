"""KvsConsumerLibrary without a server: the callbacks' arguments, the last fragment, an
in-band error, stop_thread, a failing callback."""

import io

import mkvbuild

from kvs_consumer import Document, KvsConsumerLibrary, KvsStreamError


def stream(*numbers):
    return b"".join(mkvbuild.fragment(n, b"", [mkvbuild.simple_block(1, 0, True, n.encode())]) for n in numbers)


class Recorder:
    def __init__(self, stop_after=None):
        self.events, self.stop_after, self.library = [], stop_after, None

    def on_fragment_arrived(self, stream_name, fragment_bytes, fragment_dom, fragment_receive_duration):
        assert isinstance(fragment_bytes, bytes) and isinstance(fragment_dom, Document)
        assert fragment_receive_duration >= 0
        tags = fragment_dom.simple_tags()
        self.events.append(("fragment", stream_name, tags["AWS_KINESISVIDEO_FRAGMENT_NUMBER"], len(fragment_bytes)))
        if self.stop_after and len(self.events) == self.stop_after:
            self.library.stop_thread()

    def on_read_stream_complete(self, stream_name):
        self.events.append(("complete", stream_name))

    def on_read_stream_exception(self, stream_name, error):
        self.events.append(("exception", stream_name, error))

    def run(self, response):
        self.library = KvsConsumerLibrary(
            "s", response, self.on_fragment_arrived, self.on_read_stream_complete, self.on_read_stream_exception
        )
        self.library.start()
        self.library.join()
        return self.events


def test_every_fragment_then_complete():
    data = stream("1", "2", "3")
    sizes = len(data) // 3
    events = Recorder().run({"Payload": io.BytesIO(data)})
    assert events == [("fragment", "s", n, sizes) for n in ("1", "2", "3")] + [("complete", "s")]


def test_in_band_error_goes_to_the_exception_callback():
    events = Recorder().run({"Payload": io.BytesIO(stream("1") + mkvbuild.error_fragment("4500", "4500"))})
    assert events[0][:3] == ("fragment", "s", "1")
    assert events[1][:2] == ("exception", "s") and isinstance(events[1][2], KvsStreamError)
    assert events[1][2].code == "4500" and len(events) == 2


def test_stop_thread_ends_the_read():
    recorder = Recorder(stop_after=2)
    events = recorder.run({"Payload": io.BytesIO(stream("1", "2", "3", "4"))})
    assert [e[0] for e in events] == ["fragment", "fragment", "complete"]


def test_a_failing_callback_is_reported_like_in_the_sample():
    def boom(*args):
        raise ValueError("callback failed")

    errors = []
    library = KvsConsumerLibrary("s", io.BytesIO(stream("1")), boom, lambda s: None, lambda s, e: errors.append(e))
    library.start()
    library.join()
    assert [str(e) for e in errors] == ["callback failed"]
