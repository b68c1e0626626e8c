"""`kvs_consumer.put` into the local KVS server (`kvs serve`), read back with `Consumer`:
every frame of a plain MKV file once, in fragments that start at keyframes; bad input
raises MkvError and stores nothing."""

import pytest

from kvs_consumer import Consumer, MkvError, put

CREDENTIALS = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None)


def read_back(server, stream):
    consumer = Consumer(
        stream, region="us-east-1", endpoint_url=server.endpoint, start="earliest", follow=False,
        credentials=CREDENTIALS,
    )
    return list(consumer)


def test_put_a_file_then_read_every_frame(serve, samples):
    server = serve("--idle-timeout", "0.5")
    path = samples / "clusters.mkv"
    done = put(
        "file", str(path), region="us-east-1", endpoint_url=server.endpoint, credentials=CREDENTIALS,
        create=True, tags=[("site", "door")],
    )
    assert done["fragments_persisted"] == done["fragments_sent"] > 0
    assert done["fragments_resent"] == 0
    fragments = read_back(server, "file")
    assert len(fragments) == done["fragments_persisted"]
    assert sum(f.frame_count() for f in fragments) == 444
    # The same bytes given in memory go to a second stream the same way.
    again = put("bytes", path.read_bytes(), region="us-east-1", endpoint_url=server.endpoint,
                credentials=CREDENTIALS, create=True)
    assert again["fragments_persisted"] == done["fragments_persisted"]


def test_bad_input_raises_and_stores_nothing(serve):
    server = serve("--idle-timeout", "0.5")
    with pytest.raises(MkvError, match="not Matroska"):
        put("text", b"this is not a video", region="us-east-1", endpoint_url=server.endpoint,
            credentials=CREDENTIALS, create=True)
    assert read_back(server, "text") == []
    with pytest.raises(ValueError, match="fragment_duration"):
        put("text", b"", endpoint_url=server.endpoint, fragment_duration=11)


def test_put_and_read_over_https(serve, samples, tmp_path):
    # `kvs serve --tls` keeps its self-signed certificate in the data directory; both
    # directions trust it through `ca_file`, with SigV4 checked as on AWS.
    key_id, secret, _ = CREDENTIALS
    server = serve("--tls", "--data-dir", str(tmp_path), "--credentials", f"{key_id}:{secret}",
                   "--idle-timeout", "0.5")
    assert server.endpoint.startswith("https://127.0.0.1:")
    ca_file = str(tmp_path / "cert.pem")
    done = put("tls", str(samples / "clusters.mkv"), region="us-east-1", endpoint_url=server.endpoint,
               credentials=CREDENTIALS, create=True, ca_file=ca_file)
    assert done["fragments_persisted"] == done["fragments_sent"] > 0
    consumer = Consumer("tls", region="us-east-1", endpoint_url=server.endpoint, start="earliest",
                        follow=False, credentials=CREDENTIALS, ca_file=ca_file)
    assert sum(f.frame_count() for f in consumer) == 444
