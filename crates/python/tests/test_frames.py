"""Frames as numpy arrays and JPEG files: counts, selection, shapes, byte-exact equality
with what the Rust crate decodes, unsupported codecs."""

import numpy as np
import pytest

from kvs_consumer import Fragment, FragmentReader, KvsFragementProcessor, MediaError, _native

processor = KvsFragementProcessor()


@pytest.fixture(scope="module")
def fragment(samples):
    return next(iter(FragmentReader(samples / "output_get_media.mkv")))


def checksums(array, index):
    flat = array.reshape(-1).astype(np.uint64)
    weights = np.arange(flat.size, dtype=np.uint64)
    sums = [int(array[:, :, c].sum(dtype=np.uint64)) for c in range(3)]
    weighted = int(np.sum(flat * weights, dtype=np.uint64))
    return (index, array.shape[0], array.shape[1], *sums, weighted)


def test_get_frames_as_ndarray_matches_the_sample_contract(fragment):
    frames = processor.get_frames_as_ndarray(fragment.bytes, 5)
    assert len(frames) == 12  # 60 frames, one in five from the first
    assert all(f.shape == (360, 640, 3) and f.dtype == np.uint8 for f in frames)
    every = processor.get_frames_as_ndarray(fragment.bytes, 1)
    assert len(every) == 60
    for chosen, reference in zip(frames, every[::5]):
        assert np.array_equal(chosen, reference)


def test_numpy_frames_are_exactly_the_rust_crates_frames(fragment):
    with_info = fragment.frames(every=7, with_info=True)
    ours = [checksums(array, info["index"]) for info, array in with_info]
    assert ours == _native._rust_frame_checksums(fragment.bytes, 7)
    assert [info["index"] for info, _ in with_info] == list(range(0, 60, 7))
    assert with_info[0][0]["keyframe"] and with_info[0][1].base is not None  # owns no copy


def test_keyframes_only(fragment):
    keyframes = fragment.frames(keyframes=True, with_info=True)
    assert [info["index"] for info, _ in keyframes] == [0]
    assert np.array_equal(keyframes[0][1], fragment.frames(every=60)[0])


def test_save_frames_as_jpeg(fragment, tmp_path):
    base = str(tmp_path / fragment.number)
    paths = processor.save_frames_as_jpeg(fragment.bytes, 20, base)
    assert paths == [f"{base}-{i}.jpg" for i in range(3)]
    for path in paths:
        data = open(path, "rb").read()
        assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    named = fragment.save_jpegs(tmp_path / "by-number", every=30)
    assert [p.name for p in named] == [f"{fragment.number}-0.jpg", f"{fragment.number}-30.jpg"]


def test_every_h264_sample_decodes_its_frames(samples):
    for name, frames in [("kinesis_video_renderer_example_output.mkv", 59), ("clusters.mkv", 59)]:
        first = next(iter(FragmentReader(samples / name)))
        assert len(first.frames(every=frames)) == 1, name


def test_unsupported_codec_is_a_media_error_not_a_crash(samples):
    first = next(iter(FragmentReader(samples / "test_mixed_tags.mkv")))
    with pytest.raises(MediaError, match="V_MS/VFW/FOURCC"):
        processor.get_frames_as_ndarray(first.bytes, 1)


def test_bad_ratio(fragment):
    with pytest.raises(ValueError):
        fragment.frames(every=0)
    with pytest.raises(ValueError):
        fragment.save_jpegs("/tmp", format="gif")


def test_fragment_without_frames_has_none(samples):
    empty = Fragment.from_bytes((samples / "empty-mkv-with-tags.mkv").read_bytes())
    assert empty.frame_count() == 0 and empty.frames() == []


def test_renderer_capture_decodes_every_frame_despite_its_frame_num_gaps(samples):
    # This capture's H.264 skips frame_num values after each keyframe, which plain openh264
    # refuses; kvs-media lets the decoder accept the gaps, so strict decoding succeeds.
    first = next(iter(FragmentReader(samples / "kinesis_video_renderer_example_output.mkv")))
    frames = first.frames(with_info=True, strict=True)
    assert [info["index"] for info, _ in frames] == list(range(59))
