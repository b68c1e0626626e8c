"""KvsFragementProcessor and the DOM on the real captures and on an Amazon Connect-like
fragment: tags, pretty print, playable MKV, track lookup, WAV output."""

import wave

import mkvbuild
import pytest

from kvs_consumer import Document, Element, Fragment, FragmentReader, KvsFragementProcessor, KvsFragmentProcessor

processor = KvsFragementProcessor()


def first_fragment(samples, name):
    return next(iter(FragmentReader(samples / name)))


def test_alias_is_the_same_class():
    assert KvsFragmentProcessor is KvsFragementProcessor


def test_get_fragment_tags_matches_the_sample(samples):
    fragment = first_fragment(samples, "output_get_media.mkv")
    tags = processor.get_fragment_tags(fragment.dom)
    number = "91343852333181432392682062607743920146159169392"
    assert tags["AWS_KINESISVIDEO_FRAGMENT_NUMBER"] == number
    assert tags["AWS_KINESISVIDEO_CONTINUATION_TOKEN"] == number
    assert tags["AWS_KINESISVIDEO_MILLIS_BEHIND_NOW"] == "15858"
    assert tags["ENCODER"] == "Elemental H.264"
    assert tags == dict(fragment.tags)
    # what the sample's example does with them
    assert float(tags["AWS_KINESISVIDEO_SERVER_TIMESTAMP"]) == pytest.approx(1511852109.126)


def test_get_fragment_tags_without_segment_raises_key_error():
    with pytest.raises(KeyError):
        processor.get_fragment_tags(Document(mkvbuild.ebml_header()))


def test_tags_of_every_sample(samples):
    for path in sorted(samples.glob("*.mkv")):
        for fragment in FragmentReader(path):
            tags = processor.get_fragment_tags(fragment.dom)
            if fragment.number is not None:
                assert tags["AWS_KINESISVIDEO_FRAGMENT_NUMBER"] == fragment.number, path.name


def test_pretty_string_lists_every_element(samples):
    fragment = first_fragment(samples, "output_get_media.mkv")
    text = processor.get_fragement_dom_pretty_string(fragment.dom)
    lines = text.splitlines()
    assert lines[0] == "Offset Size   Element (ID): Value"
    assert lines[2] == f"     0 {len(fragment):>6}  MatroskaDocument (Document, type matroska)"
    assert sum("SimpleBlock (ID 0xA3)" in line for line in lines) == 60
    assert "CodecID (ID 0x86): (str) 'V_MPEG4/ISO/AVC'" in text


def test_dom_walks_like_ebmlite(samples):
    dom = first_fragment(samples, "output_get_media.mkv").dom
    assert [e.name for e in dom] == ["EBML", "Segment"]
    assert len(dom) == 2 and dom[-1].id == 0x18538067
    segment = dom[1]
    assert segment.unknown_size and segment.is_master and segment.dtype is list
    clusters = [e for e in segment if e.id == 0x1F43B675]
    blocks = [e for e in clusters[0] if e.id == 0xA3]
    assert len(blocks) == 60
    assert blocks[0].size == len(blocks[0].value) == len(blocks[0].getRawValue())
    assert blocks[0].getRaw().endswith(blocks[0].getRawValue())
    assert blocks[0].payloadOffset == blocks[0].offset + blocks[0].header_size
    assert dom.path("Segment/Tracks/TrackEntry/CodecID").value == "V_MPEG4/ISO/AVC"
    assert dom.find("PixelWidth").value == 640
    assert len(dom.find_all("SimpleBlock")) == 60
    assert segment.find("Timecode").dtype is int
    assert dom.info["DocType"] == "matroska" and dom.type == "matroska"
    assert dom.dump()["Segment"]["Tracks"]["TrackEntry"]["CodecID"] == "V_MPEG4/ISO/AVC"
    assert repr(blocks[0]).startswith("<SimpleBlock (ID:0xA3), offset ")
    with pytest.raises(IndexError):
        dom[2]


def test_the_document_is_the_element_at_the_top(samples):
    fragment = first_fragment(samples, "output_get_media.mkv")
    dom = fragment.dom
    assert isinstance(dom, Element) and dom.name == "MatroskaDocument" and dom.id is None
    assert (dom.offset, dom.size, dom.header_size, dom.payloadOffset) == (0, len(fragment), 0, 0)
    assert dom.is_master and dom.dtype is list and not dom.unknown_size
    assert dom.getRaw() == dom.getRawValue() == fragment.bytes
    assert [e.name for e in dom.value] == [e.name for e in dom.children] == ["EBML", "Segment"]
    assert repr(dom) == f"<MatroskaDocument: {len(fragment)} bytes, 2 top-level elements>"
    # What a search finds is the element a walk reaches, from the document or an element.
    cluster = [e for e in dom[1] if e.name == "Cluster"][0]
    walked = [e for e in cluster if e.name == "SimpleBlock"]
    found = dom.find_all("SimpleBlock")
    assert [(b.offset, b.getRaw()) for b in found] == [(b.offset, b.getRaw()) for b in walked]
    assert cluster.find("SimpleBlock").offset == walked[0].offset
    assert dom[1].path("Tracks/TrackEntry/CodecID").value == "V_MPEG4/ISO/AVC"
    assert dom.path("Segment/Nothing") is None and cluster.find("Nothing") is None


def test_tags_cut_short_are_left_out_and_the_rest_kept():
    whole = mkvbuild.fragment("12345", mkvbuild.master(mkvbuild.TRACKS, mkvbuild.pcm_track(1, "a")), [])
    cut = Document(whole[:-5])
    tags = processor.get_fragment_tags(cut)
    assert tags["AWS_KINESISVIDEO_FRAGMENT_NUMBER"] == "12345"
    assert "AWS_KINESISVIDEO_CONTINUATION_TOKEN" not in tags
    assert processor.get_fragment_tags(Document(whole))["AWS_KINESISVIDEO_CONTINUATION_TOKEN"] == "12345"


def test_save_fragment_as_local_mkv_is_playable_and_keeps_every_frame(samples, tmp_path):
    fragment = first_fragment(samples, "output_get_media.mkv")
    path = tmp_path / "fragment.mkv"
    processor.save_fragment_as_local_mkv(fragment.bytes, str(path))
    saved = Document(path.read_bytes())
    assert not saved.path("Segment").unknown_size
    assert saved.path("Segment").size + saved.path("Segment").payloadOffset == path.stat().st_size
    assert all(not c.unknown_size for c in saved.find_all("Cluster"))
    original = [b.value for b in fragment.dom.find_all("SimpleBlock")]
    assert [b.value for b in saved.find_all("SimpleBlock")] == original
    assert processor.get_fragment_tags(saved) == processor.get_fragment_tags(fragment.dom)


def test_saved_cut_fragment_holds_its_whole_frames(samples, tmp_path):
    cut = list(FragmentReader(samples / "output-get-media-equal-timecode.mkv"))[1]
    path = cut.save_mkv(tmp_path / "cut.mkv")
    saved = Fragment.from_bytes(open(path, "rb").read())
    assert saved.complete and saved.frame_count() == 119


def pcm(n, seed):
    return bytes((seed + i) % 256 for i in range(n))


def test_connect_audio_tracks_as_wav(tmp_path):
    from_customer = [pcm(320, 1), pcm(320, 2), pcm(320, 3)]
    to_customer = [pcm(320, 101), pcm(320, 102), pcm(320, 103)]
    data = mkvbuild.connect_fragment("5", from_customer, to_customer)
    dom = Document(data)
    assert processor.get_track_number_by_name(dom, "AUDIO_FROM_CUSTOMER") == 1
    assert processor.get_track_number_by_name(dom, "AUDIO_TO_CUSTOMER") == 2
    assert processor.get_track_number_by_name(dom, "VIDEO") is None
    assert processor.get_track_bytearray(dom, 2) == bytearray(b"".join(to_customer))

    base = str(tmp_path / "call")
    processor.save_connect_fragment_audio_track_from_customer_as_wav(dom, base)
    processor.save_connect_fragment_audio_track_to_customer_as_wav(dom, base)
    for name, chunks in [("AUDIO_FROM_CUSTOMER", from_customer), ("AUDIO_TO_CUSTOMER", to_customer)]:
        with wave.open(f"{base}-{name}.wav", "rb") as w:
            assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (1, 8000, 2)
            assert w.readframes(w.getnframes()) == b"".join(chunks)

    in_memory = processor.convert_track_to_wav(processor.get_track_bytearray(dom, 1))
    with open(f"{base}-AUDIO_FROM_CUSTOMER.wav", "rb") as f:
        assert in_memory.getvalue() == f.read()


def test_fragment_without_connect_tracks_writes_nothing(samples, tmp_path):
    dom = first_fragment(samples, "output_get_media.mkv").dom
    processor.save_connect_fragment_audio_track_from_customer_as_wav(dom, str(tmp_path / "x"))
    assert list(tmp_path.iterdir()) == []
