"""The native Fleet (kvs-fleet) against `kvs serve`: several streams read at once, every
fragment once and in its stream's order, checkpoints in an SQLite file that a second
fleet resumes from, a pair handled only when the loop moves on, stop from another thread,
per-stream errors kept as events, Ctrl-C while waiting, and leases on DynamoDB (moto's
server, when `moto_server` is installed).

Fragments are uploaded with PutMedia (`Server.put_media`), which reports their numbers;
they are checked against ListFragments."""

import asyncio
import gc
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import mkvbuild
import pytest

from kvs_consumer import Fleet, KvsError

pytest.importorskip("boto3")

CREDENTIALS = ("local", "local", None)


def fleet(server, checkpoints, **kwargs):
    kwargs.setdefault("start", "earliest")
    if not str(checkpoints).startswith("dynamodb:"):
        checkpoints = f"sqlite:{checkpoints}"
    return Fleet(
        endpoint=server.endpoint,
        region="us-east-1",
        credentials=CREDENTIALS,
        checkpoints=checkpoints,
        discovery_interval=0.3,
        **kwargs,
    )


def take(fleet, n, timeout=30.0):
    """(stream, fragment number, redelivered) of the next `n` pairs. The last pair is
    left in the fleet's hands, unhandled until the next call or stop()."""
    watchdog = threading.Timer(timeout, fleet.stop)
    watchdog.start()
    got = []
    try:
        for stream, fragment in fleet:
            got.append((stream, fragment.number, fragment.redelivered))
            if len(got) == n:
                break
    finally:
        watchdog.cancel()
    assert len(got) == n, f"only {len(got)} of {n} pairs within {timeout} s: {got}, events {fleet.events()}"
    return got


def rest(fleet, seconds):
    """Every pair that comes within `seconds`, then stop() from another thread."""
    stopper = threading.Timer(seconds, fleet.stop)
    stopper.start()
    got = [(stream, fragment.number) for stream, fragment in fleet]
    stopper.join()
    return got


def by_stream(got):
    streams = {}
    for stream, number, _ in got:
        streams.setdefault(stream, []).append(number)
    return streams


def ingest(server, streams, fragments):
    """Creates `streams` and uploads `fragments` fragments to each; their numbers."""
    numbers = {}
    for stream in streams:
        server.create_stream(stream)
        numbers[stream] = server.put_media(stream, mkvbuild.producer_stream(fragments))
        assert len(numbers[stream]) == fragments
        assert numbers[stream] == server.fragment_numbers(stream)
    return numbers


def test_every_fragment_of_every_stream_once_in_order_and_a_restart_repeats_nothing(serve, tmp_path):
    server = serve("--idle-timeout", "0.3")
    db = tmp_path / "checkpoints.sqlite"
    ingested = ingest(server, ["cam-a", "cam-b", "cam-c"], 4)
    ingest(server, ["other"], 2)

    first = fleet(server, db, prefix="cam-")
    assert first.worker == "local"
    got = take(first, 12)
    assert by_stream(got) == ingested, "each fragment of each cam- stream, in its stream's order"
    assert not any(redelivered for _, _, redelivered in got)
    first.stop()
    assert next(first, None) is None
    assert [e for e in first.events() if e["type"] == "error"] == []

    added = {}
    for stream, numbers in ingested.items():
        added[stream] = server.put_media(stream, mkvbuild.producer_stream(2))
        assert server.fragment_numbers(stream) == numbers + added[stream]
    with fleet(server, db, prefix="cam-") as second:
        got = take(second, 6)
        assert by_stream(got) == added, "after the restart, only the new fragments"
        assert not any(redelivered for _, _, redelivered in got)
        # Nothing more arrives: no repeat hides behind the six.
        assert rest(second, 1.0) == []
        assert [e for e in second.events() if e["type"] == "error"] == []


def test_stop_in_the_loop_body_counts_that_pair_as_handled(serve, tmp_path):
    server = serve("--idle-timeout", "0.3")
    db = tmp_path / "checkpoints.sqlite"
    numbers = ingest(server, ["door"], 4)["door"]
    seen = []
    with fleet(server, db, streams=["door"]) as first:
        for stream, fragment in first:
            seen.append(fragment.number)
            if len(seen) == 2:
                first.stop()
    assert seen == numbers[:2]
    with fleet(server, db, streams=["door"]) as second:
        assert take(second, 2) == [("door", n, False) for n in numbers[2:]]


def test_a_body_that_raises_gives_its_pair_back(serve, tmp_path):
    server = serve("--idle-timeout", "0.3")
    db = tmp_path / "checkpoints.sqlite"
    numbers = ingest(server, ["door"], 3)["door"]
    seen = []
    with pytest.raises(RuntimeError, match="handler failed"):
        with fleet(server, db, streams=["door"]) as first:
            for stream, fragment in first:
                seen.append(fragment.number)
                if len(seen) == 2:
                    raise RuntimeError("handler failed")
    assert seen == numbers[:2]
    with fleet(server, db, streams=["door"]) as second:
        # The second pair again, flagged: its body never finished.
        assert take(second, 2) == [("door", numbers[1], True), ("door", numbers[2], False)]


def test_a_fleet_dropped_without_stop_still_stops_cleanly(serve, tmp_path):
    server = serve("--idle-timeout", "0.3")
    db = tmp_path / "checkpoints.sqlite"
    numbers = ingest(server, ["door"], 4)["door"]
    first = fleet(server, db, streams=["door"])
    assert take(first, 2) == [("door", n, False) for n in numbers[:2]]
    del first
    gc.collect()
    with fleet(server, db, streams=["door"]) as second:
        assert take(second, 2) == [("door", n, False) for n in numbers[2:]]


CRASH = """
import os, sys
from kvs_consumer import Fleet
endpoint, db = sys.argv[1:]
fleet = Fleet(streams=["door"], endpoint=endpoint, region="us-east-1", credentials=("local", "local", None),
              checkpoints="sqlite:" + db, start="earliest")
for count, (stream, fragment) in enumerate(fleet, 1):
    print(fragment.number, flush=True)
    if count == 2:
        os._exit(3)  # the process dies in the loop body of the second pair
"""


def test_a_crash_in_the_loop_body_repeats_only_that_pair_flagged(serve, tmp_path):
    server = serve("--idle-timeout", "0.3")
    db = tmp_path / "checkpoints.sqlite"
    numbers = ingest(server, ["door"], 4)["door"]
    crashed = subprocess.run(
        [sys.executable, "-c", CRASH, server.endpoint, str(db)], capture_output=True, text=True, timeout=60
    )
    assert crashed.returncode == 3, crashed.stderr
    assert crashed.stdout.split() == numbers[:2]
    with fleet(server, db, streams=["door"]) as again:
        got = take(again, 3)
    assert got == [("door", numbers[1], True), ("door", numbers[2], False), ("door", numbers[3], False)]


def test_a_missing_stream_is_an_event_and_the_others_go_on(serve, tmp_path):
    server = serve("--idle-timeout", "0.3")
    numbers = ingest(server, ["door"], 2)["door"]
    reader = fleet(server, tmp_path / "c.sqlite", streams=["door", "missing"], worker_id="w7")
    assert reader.worker == "w7"
    assert take(reader, 2) == [("door", n, False) for n in numbers]
    assert rest(reader, 1.0) == []
    errors = [e for e in reader.events() if e["type"] == "error"]
    assert errors, "the missing stream is reported"
    for error in errors:
        assert error["stream"] == "missing" and error["worker"] == "w7" and error["code"] is None
        assert "not found" in error["message"]
    assert reader.events() == [], "events() drains"


def test_stop_from_another_thread_ends_a_waiting_iteration(serve, tmp_path):
    server = serve()
    reader = fleet(server, tmp_path / "c.sqlite", prefix="nothing-")
    started = time.monotonic()
    assert rest(reader, 0.5) == []
    assert time.monotonic() - started < 5
    reader.stop()  # again: nothing to do


def test_ctrl_c_interrupts_a_waiting_fleet(serve, tmp_path):
    server = serve()
    reader = fleet(server, tmp_path / "c.sqlite", prefix="nothing-")
    interrupt = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    interrupt.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            next(reader)
    finally:
        interrupt.join()
        reader.stop()


def test_async_for(serve, tmp_path):
    server = serve("--idle-timeout", "0.3")
    numbers = ingest(server, ["door"], 3)["door"]

    async def read(reader):
        got = []
        async for stream, fragment in reader:
            got.append((stream, fragment.number))
            if len(got) == 3:
                break
        return got

    with fleet(server, tmp_path / "c.sqlite", streams=["door"]) as reader:
        watchdog = threading.Timer(30, reader.stop)
        watchdog.start()
        try:
            assert asyncio.run(read(reader)) == [("door", n) for n in numbers]
        finally:
            watchdog.cancel()


def test_one_checkpoint_file_is_read_by_one_fleet_at_a_time(serve, tmp_path):
    server = serve()
    db = tmp_path / "c.sqlite"
    with fleet(server, db, prefix="cam-"):
        with pytest.raises(KvsError, match="in use|locked"):
            fleet(server, db, prefix="cam-")
    fleet(server, db, prefix="cam-").stop()  # free again once stopped


def test_single_stream_fragments_are_never_redelivered(serve, tmp_path):
    server = serve("--idle-timeout", "0.3")
    ingest(server, ["door"], 1)
    from kvs_consumer import Consumer

    fragments = list(
        Consumer(
            "door", region="us-east-1", endpoint_url=server.endpoint, credentials=CREDENTIALS,
            start="earliest", follow=False,
        )
    )
    assert [f.redelivered for f in fragments] == [False]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"streams": ["a"], "prefix": "a"},
        {"prefix": "a", "all": True},
        {"streams": []},
        {"prefix": "a", "checkpoints": "postgres:x"},
        {"prefix": "a", "checkpoints": "sqlite:"},
        {"prefix": "a", "start": "after:1234"},
        {"prefix": "a", "discovery_interval": 0},
        {"prefix": "a", "failover": float("nan")},
        {"prefix": "a", "checkpoint_every": -1},
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        Fleet(**kwargs)


class Moto:
    """moto's DynamoDB server on a free loopback port."""

    def __init__(self):
        executable = os.environ.get("MOTO_SERVER") or shutil.which("moto_server")
        if not executable:
            pytest.skip('moto_server not found (pip install "moto[server]")')
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.process = subprocess.Popen(
            [executable, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    pytest.skip("moto_server did not start")
                time.sleep(0.05)

    def stop(self):
        self.process.kill()
        self.process.wait()


def test_leases_and_checkpoints_on_dynamodb(serve, tmp_path, monkeypatch):
    moto = Moto()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", moto.url)
        server = serve("--idle-timeout", "0.3")
        ingested = ingest(server, ["cam-a", "cam-b"], 3)
        table = "dynamodb:kvs-leases"

        first = fleet(server, table, prefix="cam-", worker_id="w1", failover=3.0)
        assert first.worker == "w1"
        got = take(first, 6)
        assert by_stream(got) == ingested
        assert not any(redelivered for _, _, redelivered in got)
        first.stop()
        leases = [e for e in first.events() if e["type"] == "lease"]
        acquired = sorted(e["stream"] for e in leases if e["event"] == "acquired")
        assert acquired == ["cam-a", "cam-b"], leases
        assert all(e["worker"] == "w1" for e in leases)

        added = {stream: server.put_media(stream, mkvbuild.producer_stream(2)) for stream in ingested}
        with fleet(server, table, prefix="cam-", worker_id="w2", failover=3.0) as second:
            got = take(second, 4)
            assert by_stream(got) == added, "the released leases resume after the checkpoints"
            assert not any(redelivered for _, _, redelivered in got)
    finally:
        moto.stop()
