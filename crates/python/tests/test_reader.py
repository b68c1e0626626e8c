"""FragmentReader and Fragment on the real captures and on built streams: fragment and
frame counts, byte-exact splitting at every chunk size, delivery as soon as complete, the
last fragment, in-band errors, garbage."""

import io

import mkvbuild
import pytest

from kvs_consumer import Fragment, FragmentReader, KvsStreamError, MkvError

# file -> frames per fragment (kvs-samples/README.md)
SAMPLES = {
    "output_get_media.mkv": [60] * 5,
    "kinesis_video_renderer_example_output.mkv": [59] * 7 + [31],
    "test_mixed_tags.mkv": [10] * 10,
    "empty-mkv-with-tags.mkv": [0],
    "output-get-media-equal-timecode.mkv": [120, 119],
    # plain MKV files: one fragment per Cluster
    "clusters.mkv": [59] * 7 + [31],
    "vogels_330.mkv": [166, 384, 203, 384, 180, 384, 222, 292, 119],
}


PLAIN = {"clusters.mkv", "vogels_330.mkv"}


class ReadOnly:
    """A stream with only read(n), like a botocore StreamingBody, serving fixed chunks."""

    def __init__(self, data: bytes, chunk: int) -> None:
        self.data, self.pos, self.chunk = data, 0, chunk

    def read(self, n: int = -1) -> bytes:
        n = min(n, self.chunk)
        out = self.data[self.pos : self.pos + n]
        self.pos += len(out)
        return out


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_sample_splits_into_its_fragments_and_frames(samples, name):
    fragments = list(FragmentReader(samples / name))
    assert [f.frame_count() for f in fragments] == SAMPLES[name]
    assert [f.index for f in fragments] == list(range(len(SAMPLES[name])))
    data = (samples / name).read_bytes()
    # Every byte in one fragment, in order. In a plain file, the fragments after the first
    # are a copy of the Segment's header followed by their own bytes.
    assert fragments[0].offset == 0
    ends = [f.offset for f in fragments[1:]] + [len(data)]
    for f, end in zip(fragments, ends):
        own = data[f.offset : end]
        assert f.bytes == own or (name in PLAIN and f.index > 0 and f.bytes.endswith(own))


@pytest.mark.parametrize("chunk", [1, 7, 1000, 4096, 65536, 1 << 22])
def test_any_chunking_gives_the_same_fragments(samples, chunk):
    data = (samples / "kinesis_video_renderer_example_output.mkv").read_bytes()
    whole = [f.bytes for f in FragmentReader(data)]
    chunked = [f.bytes for f in FragmentReader(ReadOnly(data, chunk), chunk_size=chunk)]
    assert chunked == whole
    assert len(whole) == 8


def test_tags_of_a_real_getmedia_fragment(samples):
    first = next(iter(FragmentReader(samples / "output_get_media.mkv")))
    number = "91343852333181432392682062607743920146159169392"
    assert first.number == number
    assert first.continuation_token == number
    assert first.millis_behind_now == 15858
    assert first.server_timestamp == pytest.approx(1511852109.126)
    assert first.complete
    names = [name for name, _ in first.tags]
    assert "ENCODER" in names and "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP" in names
    assert dict(first.tags)["AWS_KINESISVIDEO_MILLIS_BEHIND_NOW"] == "15858"
    assert first.tracks[0]["codec_id"] == "V_MPEG4/ISO/AVC"
    assert (first.tracks[0]["width"], first.tracks[0]["height"]) == (640, 360)


def test_user_tags_are_kept_in_order(samples):
    fragments = list(FragmentReader(samples / "test_mixed_tags.mkv"))
    user = [name for name, _ in fragments[0].tags if name.startswith("testTag_")]
    # The producer's tags come before the Cluster and again after it, as recorded.
    assert user == [f"testTag_{i}" for i in range(5)] * 2


def test_last_fragment_is_delivered_even_when_cut(samples):
    fragments = list(FragmentReader(samples / "output-get-media-equal-timecode.mkv"))
    assert len(fragments) == 2
    assert fragments[0].complete and not fragments[1].complete
    assert fragments[1].frame_count() == 119

    last = list(FragmentReader(samples / "kinesis_video_renderer_example_output.mkv"))[-1]
    assert last.number == "91343852333181432427344383709766881962776549716"
    assert last.complete


class Gate:
    """Serves bytes up to `limit` only; reading beyond it before `open()` is a test failure."""

    def __init__(self, data: bytes, limit: int) -> None:
        self.data, self.limit, self.pos, self.opened = data, limit, 0, False

    def read(self, n: int) -> bytes:
        end = len(self.data) if self.opened else self.limit
        if self.pos >= end and not self.opened:
            raise AssertionError("read past the end of a complete fragment before delivering it")
        out = self.data[self.pos : min(self.pos + n, end)]
        self.pos += len(out)
        return out


def test_fragment_is_delivered_as_soon_as_complete_not_when_the_next_starts():
    first = mkvbuild.fragment("1001", b"", [mkvbuild.simple_block(1, 0, True, b"a")])
    second = mkvbuild.fragment("1002", b"", [mkvbuild.simple_block(1, 0, True, b"b")])
    gate = Gate(first + second, len(first))
    reader = FragmentReader(gate, chunk_size=10)
    assert next(reader).number == "1001"
    assert gate.pos == len(first)
    gate.opened = True
    assert [f.number for f in reader] == ["1002"]


def test_in_band_error_is_raised_not_delivered():
    good = mkvbuild.fragment("1001", b"", [mkvbuild.simple_block(1, 0, True, b"a")])
    reader = FragmentReader(io.BytesIO(good + mkvbuild.error_fragment("3002", "17")))
    assert next(reader).number == "1001"
    with pytest.raises(KvsStreamError) as raised:
        next(reader)
    assert (raised.value.code, raised.value.error_id) == ("3002", "17")
    assert ("AWS_KINESISVIDEO_ERROR_CODE", "3002") in raised.value.tags


def test_garbage_between_fragments_is_skipped_and_reported():
    a = mkvbuild.fragment("1001", b"", [mkvbuild.simple_block(1, 0, True, b"a")])
    b = mkvbuild.fragment("1002", b"", [mkvbuild.simple_block(1, 0, True, b"b")])
    reader = FragmentReader(b"junk" + a + b"\x00" * 10 + b)
    assert [(f.number, f.bytes) for f in reader] == [("1001", a), ("1002", b)]
    assert [(offset, length) for offset, length, _ in reader.skipped] == [(0, 4), (4 + len(a), 10)]
    assert reader.bytes_read == 4 + len(a) + 10 + len(b)


def test_boto3_shaped_response_dict_and_stop():
    data = b"".join(mkvbuild.fragment(str(n), b"", [mkvbuild.simple_block(1, 0, True, b"x")]) for n in range(1, 4))
    reader = FragmentReader({"Payload": ReadOnly(data, 50)}, chunk_size=50)
    assert next(reader).number == "1"
    reader.stop()
    assert list(reader) == []
    assert reader.fragments_read == 1


def test_from_bytes_and_errors():
    data = mkvbuild.fragment("7", b"", [mkvbuild.simple_block(1, 5, True, b"abc")])
    fragment = Fragment.from_bytes(bytearray(data))
    assert (fragment.number, fragment.frame_count(), len(fragment)) == ("7", 1, len(data))
    assert Fragment.from_bytes(memoryview(data)).bytes == data
    with pytest.raises(MkvError):
        Fragment.from_bytes(b"not a fragment")
    with pytest.raises(TypeError):
        FragmentReader(12345)
    with pytest.raises(FileNotFoundError):
        FragmentReader("/nonexistent/file.mkv")


class StreamingBodyLike:
    """Shaped like botocore's StreamingBody: read(n) waits for n bytes (too late for a live
    stream), while its urllib3 stream has read1(n), which returns what has arrived."""

    def __init__(self, data: bytes) -> None:
        self._raw_stream = io.BytesIO(data)

    def read(self, amt=None):
        raise AssertionError("read(n) waits for n bytes: read1 of the raw stream must be used")


def test_streaming_body_is_read_with_read1_of_its_urllib3_stream():
    data = mkvbuild.fragment("1", b"", [mkvbuild.simple_block(1, 0, True, b"x")])
    assert [f.number for f in FragmentReader({"Payload": StreamingBodyLike(data)})] == ["1"]


def test_dom_is_parsed_only_when_used_and_survives_its_fragment():
    data = mkvbuild.fragment("9", b"", [mkvbuild.simple_block(1, 0, True, b"x")])
    dom = next(iter(FragmentReader(data))).dom
    assert dom.find("SimpleBlock").value[4:] == b"x"
