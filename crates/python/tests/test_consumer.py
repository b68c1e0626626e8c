"""The native Consumer (kvs-consumer) against `kvs serve`: a live read to the live edge,
resume across connections that the server ends, archive ranges, async iteration, stop.

A read with follow=False ends after a response that brings nothing new, so the servers
here end idle responses after 0.3 s (AWS: a few seconds)."""

import asyncio
import threading

import pytest

from kvs_consumer import Consumer, KvsError

CREDENTIALS = ("local", "local", None)


def consumer(server, stream, **kwargs):
    return Consumer(stream, region="us-east-1", endpoint_url=server.endpoint, credentials=CREDENTIALS, **kwargs)


def test_reads_an_ingested_capture_to_the_live_edge(serve, samples):
    server = serve("--ingest", f"cap={samples / 'output_get_media.mkv'}", "--idle-timeout", "0.3")
    fragments = list(consumer(server, "cap", start="earliest", follow=False))
    assert [f.frame_count() for f in fragments] == [60] * 5
    assert [f.number for f in fragments] == server.fragment_numbers("cap")


def test_boto3_start_selector_after_a_fragment(serve, samples):
    server = serve("--ingest", f"cap={samples / 'output_get_media.mkv'}", "--idle-timeout", "0.3")
    numbers = server.fragment_numbers("cap")
    start = {"StartSelectorType": "FRAGMENT_NUMBER", "AfterFragmentNumber": numbers[1]}
    assert [f.number for f in consumer(server, "cap", start=start, follow=False)] == numbers[2:]


def test_resumes_across_connections_without_gaps_or_duplicates(serve):
    # The server ends each GetMedia response after 0.3 s without a new fragment; the
    # camera sends one per second, so nearly every fragment comes on a new connection.
    server = serve("--camera", "cam:64x48@10", "--idle-timeout", "0.3")
    read = consumer(server, "cam", start="now")
    fragments = []
    for fragment in read:
        fragments.append(fragment)
        if len(fragments) == 4:
            read.stop()
    assert len(fragments) == 4
    assert read.stats["requests"] >= 3
    numbers = [f.number for f in fragments]
    listed = server.fragment_numbers("cam")
    first = listed.index(numbers[0])
    assert numbers == listed[first : first + 4]
    assert all(f.complete and f.frame_count() == 10 for f in fragments)


def test_archive_range(serve, samples):
    server = serve("--ingest", f"r={samples / 'kinesis_video_renderer_example_output.mkv'}")
    fragments = list(consumer(server, "r", archive=(0, 4102444800)))
    assert [f.number for f in fragments] == server.fragment_numbers("r")
    assert [f.frame_count() for f in fragments] == [59] * 7 + [31]


def test_async_for(serve, samples):
    server = serve("--ingest", f"cap={samples / 'output_get_media.mkv'}", "--idle-timeout", "0.3")

    async def read():
        return [f.number async for f in consumer(server, "cap", start="earliest", follow=False)]

    assert asyncio.run(read()) == server.fragment_numbers("cap")


def test_stop_from_another_thread_ends_a_waiting_read(serve):
    server = serve("--camera", "cam:64x48@10")
    read = consumer(server, "cam", start="now")
    first = next(read)
    stopper = threading.Thread(target=read.stop)
    with read:
        stopper.start()
        rest = list(read)
    stopper.join()
    assert first.number is not None and len(rest) <= 1


def test_unknown_stream_and_bad_arguments(serve):
    server = serve()
    with pytest.raises(KvsError, match="not found"):
        next(consumer(server, "nope", start="earliest"))
    with pytest.raises(ValueError):
        consumer(server, "s", start={"StartSelectorType": "SOMETIME"})
    with pytest.raises(ValueError):
        consumer(server, "s", start="now", archive=(0, 1))
    with pytest.raises(KvsError):
        consumer(server, "s", start="after:12x")
