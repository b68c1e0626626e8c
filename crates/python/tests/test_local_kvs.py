"""Against the local KVS server (`kvs serve`) with boto3 from PyPI and dummy credentials:
the sample's example program shape unchanged apart from its imports, the last fragment
of a response, GetMediaForFragmentList and its in-band error 4000 (fragment not found)."""

import json
import pathlib
import subprocess
import sys
import threading

import pytest

from kvs_consumer import Fragment, KvsConsumerLibrary, KvsStreamError

pytest.importorskip("boto3")

EXAMPLE = pathlib.Path(__file__).resolve().parent / "example_program.py"


def run_example(server, tmp_path, **env):
    environment = server.env()
    environment.update(KVS_OUT=str(tmp_path), **env)
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)], env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_example_program_consumes_a_live_camera(serve, tmp_path):
    server = serve("--camera", "cam:64x48@15")
    events = run_example(server, tmp_path, KVS_STREAM="cam", KVS_START="NOW", KVS_MAX_FRAGMENTS="3")
    kinds = [e["event"] for e in events]
    assert "callback_error" not in kinds and "exception" not in kinds, events
    assert kinds[-1] == "complete"
    fragments = [e for e in events if e["event"] == "fragment"]
    assert len(fragments) >= 3
    numbers = [f["number"] for f in fragments]
    assert all(len(n) == 48 and n.isdigit() for n in numbers)
    assert [int(n) for n in numbers] == sorted(int(n) for n in numbers) and len(set(numbers)) == len(numbers)
    for f in fragments:
        assert f["stream"] == "cam" and f["behind"] >= 0 and f["pretty_lines"] > 15
        saved = Fragment.from_bytes(pathlib.Path(f["mkv"]).read_bytes())
        assert saved.number == f["number"] and saved.frame_count() == 15
        if f["shapes"]:  # frames: every 5th of 15
            assert f["shapes"] == [[48, 64, 3]] * 3
            assert [pathlib.Path(j).name for j in f["jpegs"]] == [f"{f['number']}-{i}.jpg" for i in range(3)]
            assert all(pathlib.Path(j).read_bytes()[:2] == b"\xff\xd8" for j in f["jpegs"])


def test_example_program_gets_every_fragment_of_an_ingested_capture_including_the_last(serve, samples, tmp_path):
    server = serve("--ingest", f"cap={samples / 'output_get_media.mkv'}", "--idle-timeout", "1")
    events = run_example(server, tmp_path, KVS_STREAM="cap", KVS_START="EARLIEST")
    kinds = [e["event"] for e in events]
    assert kinds == ["fragment"] * 5 + ["complete"], events
    frames = [Fragment.from_bytes(pathlib.Path(e["mkv"]).read_bytes()).frame_count() for e in events[:5]]
    assert frames == [60] * 5
    assert events[-1]["last"]["AWS_KINESISVIDEO_FRAGMENT_NUMBER"] == events[4]["number"]


class Collect:
    """The three KvsConsumerLibrary callbacks, recording what they get."""

    def __init__(self):
        self.fragments, self.errors, self.done = [], [], threading.Event()

    def on_fragment(self, stream_name, fragment_bytes, fragment_dom, duration):
        self.fragments.append(Fragment.from_bytes(fragment_bytes))

    def on_complete(self, stream_name):
        self.done.set()

    def on_exception(self, stream_name, error):
        self.errors.append(error)
        self.done.set()

    def run(self, name, response):
        thread = KvsConsumerLibrary(name, response, self.on_fragment, self.on_complete, self.on_exception)
        thread.start()
        thread.join(timeout=60)
        assert not thread.is_alive()


def test_get_media_for_fragment_list_in_the_order_asked(serve, samples):
    server = serve("--ingest", f"r={samples / 'kinesis_video_renderer_example_output.mkv'}")
    numbers = server.fragment_numbers("r")
    assert len(numbers) == 8
    wanted = [numbers[7], numbers[0], numbers[3]]
    client = server.archived_media("r", "GET_MEDIA_FOR_FRAGMENT_LIST")
    collect = Collect()
    collect.run("r", client.get_media_for_fragment_list(StreamName="r", Fragments=wanted))
    assert collect.errors == []
    assert [f.number for f in collect.fragments] == wanted
    assert [f.frame_count() for f in collect.fragments] == [31, 59, 59]


def test_missing_fragment_is_a_typed_exception_not_a_fragment(serve, samples):
    server = serve("--ingest", f"r={samples / 'kinesis_video_renderer_example_output.mkv'}")
    numbers = server.fragment_numbers("r")
    client = server.archived_media("r", "GET_MEDIA_FOR_FRAGMENT_LIST")
    collect = Collect()
    missing = str(int(numbers[-1]) + 10**20)
    collect.run("r", client.get_media_for_fragment_list(StreamName="r", Fragments=[numbers[0], missing]))
    assert [f.number for f in collect.fragments] == [numbers[0]]
    assert len(collect.errors) == 1 and isinstance(collect.errors[0], KvsStreamError)
    # GetMediaForFragmentList names the error with its number, as AWS documents it.
    assert collect.errors[0].code == "4000"
