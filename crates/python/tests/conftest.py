"""Shared fixtures: the real KVS captures, and the local KVS server (`kvs serve`)."""

import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE))


def samples_dir() -> pathlib.Path:
    env = os.environ.get("KVS_SAMPLES")
    return pathlib.Path(env) if env else REPO_ROOT.parent / "shared" / "kvs-samples"


@pytest.fixture(scope="session")
def samples() -> pathlib.Path:
    """The kvs-samples folder ($KVS_SAMPLES or ../shared/kvs-samples); skips when absent."""
    path = samples_dir()
    if not (path / "output_get_media.mkv").is_file():
        pytest.skip(f"kvs-samples not found at {path}: set KVS_SAMPLES to run this test")
    return path


def kvs_binary() -> pathlib.Path:
    """The `kvs` binary: $KVS_BIN, else target/debug/kvs of this checkout."""
    env = os.environ.get("KVS_BIN")
    return pathlib.Path(env) if env else REPO_ROOT / "target" / "debug" / "kvs"


class Server:
    """A `kvs serve` process on a free loopback port."""

    def __init__(self, *args: str) -> None:
        binary = kvs_binary()
        if not binary.is_file():
            pytest.skip(f"{binary} not found: run `cargo build -p kvs-cli` (or set KVS_BIN)")
        # stderr goes to a file: a pipe nobody reads could fill up and stall the server.
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [str(binary), "serve", "--addr", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.endpoint = None
        for line in self.process.stdout:
            if line.startswith("export AWS_ENDPOINT_URL="):
                self.endpoint = line.strip().split("=", 1)[1]
                break
        if self.endpoint is None:
            self.log.seek(0)
            message = self.log.read()
            self.stop()
            raise RuntimeError(f"kvs serve did not start: {message}")
        # Drain stdout so that the server never blocks on a full pipe.
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def env(self) -> dict:
        """The environment a boto3 program needs to talk to this server, dummy credentials."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_EC2_METADATA_DISABLED="true",
        )
        return env

    def client(self, service: str, **kwargs):
        import boto3

        return boto3.client(
            service,
            region_name="us-east-1",
            endpoint_url=kwargs.pop("endpoint_url", self.endpoint),
            aws_access_key_id="local",
            aws_secret_access_key="local",
            **kwargs,
        )

    def archived_media(self, stream: str, api: str):
        """A kinesis-video-archived-media client on the data endpoint for `api`."""
        kvs = self.client("kinesisvideo")
        endpoint = kvs.get_data_endpoint(StreamName=stream, APIName=api)["DataEndpoint"]
        return self.client("kinesis-video-archived-media", endpoint_url=endpoint)

    def fragment_numbers(self, stream: str) -> list:
        """Every fragment number of `stream` by ListFragments, sorted numerically."""
        listed = self.archived_media(stream, "LIST_FRAGMENTS").list_fragments(
            StreamName=stream,
            FragmentSelector={
                "FragmentSelectorType": "SERVER_TIMESTAMP",
                "TimestampRange": {"StartTimestamp": 0, "EndTimestamp": 4102444800},
            },
        )["Fragments"]
        return sorted((f["FragmentNumber"] for f in listed), key=int)

    def create_stream(self, stream: str) -> None:
        self.client("kinesisvideo").create_stream(StreamName=stream, DataRetentionInHours=24)

    def put_media(self, stream: str, mkv: bytes) -> list:
        """Uploads a producer MKV stream (see `mkvbuild.producer_stream`) to `stream` with
        PutMedia; the fragment numbers the server acknowledged as PERSISTED, in order."""
        import json
        import time
        import urllib.request

        kvs = self.client("kinesisvideo")
        endpoint = kvs.get_data_endpoint(StreamName=stream, APIName="PUT_MEDIA")["DataEndpoint"]
        request = urllib.request.Request(
            endpoint.rstrip("/") + "/putMedia",
            data=mkv,
            method="POST",
            headers={
                "x-amzn-stream-name": stream,
                "x-amzn-fragment-timecode-type": "RELATIVE",
                "x-amzn-producer-start-timestamp": f"{time.time():.3f}",
                "content-type": "application/octet-stream",
            },
        )
        numbers = []
        with urllib.request.urlopen(request, timeout=30) as response:
            for line in response:
                if line.strip():
                    ack = json.loads(line)
                    assert ack["EventType"] != "ERROR", ack
                    if ack["EventType"] == "PERSISTED":
                        numbers.append(ack["FragmentNumber"])
        return numbers

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture
def serve():
    """Starts `kvs serve` with the given arguments; every server is stopped afterwards."""
    servers = []

    def start(*args: str) -> Server:
        server = Server(*args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
