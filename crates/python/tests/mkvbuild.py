"""A tiny EBML writer for building test fragments (KVS layout) in Python."""

import struct
from typing import Iterable, List, Sequence, Tuple

EBML = 0x1A45DFA3
SEGMENT = 0x18538067
INFO = 0x1549A966
TIMECODE_SCALE = 0x2AD7B1
TRACKS = 0x1654AE6B
TRACK_ENTRY = 0xAE
TRACK_NUMBER = 0xD7
TRACK_UID = 0x73C5
TRACK_TYPE = 0x83
NAME = 0x536E
CODEC_ID = 0x86
AUDIO = 0xE1
SAMPLING_FREQUENCY = 0xB5
CHANNELS = 0x9F
BIT_DEPTH = 0x6264
TAGS = 0x1254C367
TAG = 0x7373
SIMPLE_TAG = 0x67C8
TAG_NAME = 0x45A3
TAG_STRING = 0x4487
CLUSTER = 0x1F43B675
TIMECODE = 0xE7
SIMPLE_BLOCK = 0xA3

UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"


def _id(element_id: int) -> bytes:
    length = (element_id.bit_length() + 7) // 8
    return element_id.to_bytes(length, "big")


def _size(n: int) -> bytes:
    return (n | (1 << 56)).to_bytes(8, "big")


def element(element_id: int, payload: bytes) -> bytes:
    return _id(element_id) + _size(len(payload)) + payload


def master(element_id: int, *children: bytes) -> bytes:
    return element(element_id, b"".join(children))


def uint(element_id: int, value: int) -> bytes:
    return element(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def string(element_id: int, value: str) -> bytes:
    return element(element_id, value.encode())


def float64(element_id: int, value: float) -> bytes:
    return element(element_id, struct.pack(">d", value))


def ebml_header() -> bytes:
    return master(
        EBML,
        uint(0x4286, 1),
        uint(0x42F7, 1),
        uint(0x42F2, 4),
        uint(0x42F3, 8),
        string(0x4282, "matroska"),
        uint(0x4287, 4),
        uint(0x4285, 2),
    )


def simple_tags(pairs: Iterable[Tuple[str, str]]) -> bytes:
    return master(TAGS, master(TAG, *(master(SIMPLE_TAG, string(TAG_NAME, n), string(TAG_STRING, v)) for n, v in pairs)))


def simple_block(track: int, timecode: int, keyframe: bool, payload: bytes) -> bytes:
    header = bytes([0x80 | track]) + struct.pack(">h", timecode) + bytes([0x80 if keyframe else 0])
    return element(SIMPLE_BLOCK, header + payload)


def pcm_track(number: int, name: str) -> bytes:
    return master(
        TRACK_ENTRY,
        uint(TRACK_NUMBER, number),
        uint(TRACK_UID, number),
        uint(TRACK_TYPE, 2),
        string(NAME, name),
        string(CODEC_ID, "A_PCM/INT/LIT"),
        master(AUDIO, float64(SAMPLING_FREQUENCY, 8000.0), uint(CHANNELS, 1), uint(BIT_DEPTH, 16)),
    )


def fragment(number: str, tracks: bytes, blocks: Sequence[bytes], timecode: int = 1000) -> bytes:
    """A fragment in the KVS layout: unknown-size Segment, tags, one Cluster, trailing tags."""
    return (
        ebml_header()
        + _id(SEGMENT)
        + UNKNOWN_SIZE
        + master(INFO, uint(TIMECODE_SCALE, 1_000_000))
        + tracks
        + simple_tags(
            [
                ("AWS_KINESISVIDEO_FRAGMENT_NUMBER", number),
                ("AWS_KINESISVIDEO_SERVER_TIMESTAMP", "1700000000.123"),
                ("AWS_KINESISVIDEO_PRODUCER_TIMESTAMP", "1700000000.100"),
            ]
        )
        + master(CLUSTER, uint(TIMECODE, timecode), *blocks)
        + simple_tags([("AWS_KINESISVIDEO_MILLIS_BEHIND_NOW", "42"), ("AWS_KINESISVIDEO_CONTINUATION_TOKEN", number)])
    )


def video_track(number: int) -> bytes:
    return master(
        TRACK_ENTRY,
        uint(TRACK_NUMBER, number),
        uint(TRACK_UID, number),
        uint(TRACK_TYPE, 1),
        string(CODEC_ID, "V_MPEG4/ISO/AVC"),
    )


def producer_stream(clusters: int, frames: int = 3, first_timecode: int = 0) -> bytes:
    """What a producer sends to PutMedia: one header, then Clusters of `frames` frames
    100 ms apart (each Cluster becomes one fragment). Timecodes in ms from 0 are relative
    to the upload's start."""
    out = [ebml_header(), _id(SEGMENT), UNKNOWN_SIZE, master(INFO, uint(TIMECODE_SCALE, 1_000_000))]
    out.append(master(TRACKS, video_track(1)))
    for c in range(clusters):
        timecode = first_timecode + c * frames * 100
        blocks = [simple_block(1, f * 100, f == 0, bytes([c, f]) * 16) for f in range(frames)]
        out.append(master(CLUSTER, uint(TIMECODE, timecode), *blocks))
    return b"".join(out)


def error_fragment(code: str, error_id: str) -> bytes:
    """What KVS sends in-band instead of a fragment when something fails."""
    return (
        ebml_header()
        + _id(SEGMENT)
        + UNKNOWN_SIZE
        + simple_tags([("AWS_KINESISVIDEO_ERROR_CODE", code), ("AWS_KINESISVIDEO_ERROR_ID", error_id)])
    )


def connect_fragment(number: str, from_customer: List[bytes], to_customer: List[bytes]) -> bytes:
    """An Amazon Connect-like fragment: two named PCM tracks, blocks interleaved."""
    tracks = master(TRACKS, pcm_track(1, "AUDIO_FROM_CUSTOMER"), pcm_track(2, "AUDIO_TO_CUSTOMER"))
    blocks = []
    for i, (a, b) in enumerate(zip(from_customer, to_customer)):
        blocks.append(simple_block(1, i * 20, True, a))
        blocks.append(simple_block(2, i * 20, True, b))
    return fragment(number, tracks, blocks)
