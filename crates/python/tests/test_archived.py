"""`kvs_consumer.images`, `clip`, `hls_url` and `dash_url` against the local KVS server
(`kvs serve`) holding 6 s of the synthetic camera (`kvs put --camera 160x120@10 --frames
60`: three 2 s fragments of 20 frames): one answer per instant with NO_MEDIA past the
media, an MP4 of every frame, session URLs whose playlists answer."""

import json
import re
import subprocess
import urllib.request

import pytest

from conftest import kvs_binary
from kvs_consumer import Image, KvsError, clip, dash_url, hls_url, images

CREDENTIALS = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None)


def service(server):
    return dict(region="us-east-1", endpoint_url=server.endpoint, credentials=CREDENTIALS)


@pytest.fixture
def camera(serve):
    """A server whose stream `cam` holds the camera; (server, first producer timestamp)."""
    server = serve("--idle-timeout", "0.5")
    subprocess.run(
        [str(kvs_binary()), "put", "--endpoint", server.endpoint, "--stream", "cam", "--create",
         "--camera", "160x120@10", "--frames", "60"],
        check=True, stdin=subprocess.DEVNULL, capture_output=True,
    )
    request = urllib.request.Request(
        server.endpoint + "/listFragments",
        data=json.dumps({"StreamName": "cam", "MaxResults": 1000}).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        fragments = json.load(response)["Fragments"]
    starts = sorted(round(f["ProducerTimestamp"] * 1000) for f in fragments)
    assert [s - starts[0] for s in starts] == [0, 2000, 4000]
    return server, starts[0] / 1000


def png_size(data: bytes):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def mp4_samples(data: bytes) -> int:
    """The sample count of the (only) track's sample size table."""
    assert data[4:8] == b"ftyp"
    at = data.index(b"stsz")
    assert data.count(b"stsz") == 1
    return int.from_bytes(data[at + 12:at + 16], "big")


def test_images_one_answer_per_instant(camera):
    server, p0 = camera
    got = list(images("cam", p0, p0 + 8, every=1.0, producer_time=True, **service(server)))
    assert len(got) == 8
    assert all(isinstance(i, Image) for i in got)
    assert [round(i.timestamp - p0, 3) for i in got] == [float(k) for k in range(8)]
    assert [i.error for i in got] == [None] * 6 + ["NO_MEDIA"] * 2
    for image in got[:6]:
        assert image.content[:2] == b"\xff\xd8"
        assert re.fullmatch(r"\d{8}T\d{6}\.\d{3}Z\.jpg", image.file_name())
    assert got[6].content == b""
    assert len({i.file_name("png") for i in got}) == 8

    # PNG at half height: the width keeps the aspect ratio; pages of 25 over 30 instants.
    pngs = list(images("cam", p0, p0 + 6, every=0.2, format="png", height=60, producer_time=True,
                       **service(server)))
    assert len(pngs) == 30 and all(i.error is None for i in pngs)
    assert {png_size(i.content) for i in pngs} == {(80, 60)}


def test_images_refusals(camera):
    server, p0 = camera
    with pytest.raises(KvsError, match="stream not found"):
        list(images("nope", p0, p0 + 1, **service(server)))
    with pytest.raises(ValueError, match="every"):
        images("cam", p0, p0 + 1, every=0.1, **service(server))
    with pytest.raises(ValueError, match="width needs height"):
        images("cam", p0, p0 + 1, width=100, **service(server))
    with pytest.raises(ValueError, match="ends before"):
        images("cam", p0 + 1, p0, **service(server))


def test_clip_holds_every_frame(camera, tmp_path):
    server, p0 = camera
    data = clip("cam", p0, p0 + 5.999, producer_time=True, **service(server))
    assert mp4_samples(data) == 60
    path = tmp_path / "clip.mp4"
    written = clip("cam", p0, p0 + 5.999, str(path), producer_time=True, **service(server))
    assert written == path.stat().st_size == len(data)
    missing = tmp_path / "none.mp4"
    with pytest.raises(KvsError):
        clip("cam", 10, 20, str(missing), **service(server))
    assert not missing.exists()


def test_session_urls_answer(camera):
    server, p0 = camera
    url = hls_url("cam", mode="on_demand", start=p0, end=p0 + 5.999, producer_time=True,
                  **service(server))
    assert url.startswith(server.endpoint + "/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=")
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read().startswith(b"#EXTM3U")
    live = hls_url("cam", container="ts", expires=600, **service(server))
    assert "getHLSMasterPlaylist.m3u8?SessionToken=" in live
    manifest = dash_url("cam", mode="replay", start=p0, producer_time=True, **service(server))
    assert "getDASHManifest.mpd?SessionToken=" in manifest
    with urllib.request.urlopen(manifest, timeout=10) as response:
        assert b"<MPD" in response.read()
    with pytest.raises(ValueError, match="mode"):
        hls_url("cam", mode="later", **service(server))
    with pytest.raises(ValueError, match="needs start"):
        dash_url("cam", mode="on_demand", **service(server))
