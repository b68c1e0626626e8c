"""A consumer program in the shape of the AWS sample's kvs_consumer_library_example.py, as
its users write it: boto3 clients from a Session, GetDataEndpoint, GetMedia, a
KvsConsumerLibrary thread with the three callbacks, and KvsFragementProcessor calls in
on_fragment_arrived. Only the imports name kvs_consumer.

Where the sample has placeholders, this program reads the environment: KVS_STREAM,
KVS_START (a StartSelectorType), KVS_OUT (directory for .mkv and .jpg files), KVS_MAX_FRAGMENTS
(stop after this many; 0 = read to the end of the stream). boto3 finds the endpoint in
AWS_ENDPOINT_URL and the credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
It prints one JSON line per event on stdout for the test to check.
"""

import json
import logging
import os
import sys
import time

import boto3

from kvs_consumer.kinesis_video_fragment_processor import KvsFragementProcessor
from kvs_consumer.kinesis_video_streams_parser import KvsConsumerLibrary

log = logging.getLogger(__name__)
logging.basicConfig(stream=sys.stderr, level=logging.INFO)

REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
STREAM = os.environ["KVS_STREAM"]
START = os.environ.get("KVS_START", "NOW")
OUT = os.environ["KVS_OUT"]
MAX_FRAGMENTS = int(os.environ.get("KVS_MAX_FRAGMENTS", "0"))


def emit(**event):
    print(json.dumps(event), flush=True)


class ExampleConsumer:
    def __init__(self):
        self.processor = KvsFragementProcessor()
        self.last_good_fragment_tags = None
        self.fragments = 0
        self.finished = False
        self.session = boto3.Session(region_name=REGION)
        self.kvs_client = self.session.client("kinesisvideo")

    def service_loop(self):
        endpoint = self.kvs_client.get_data_endpoint(StreamName=STREAM, APIName="GET_MEDIA")["DataEndpoint"]
        media_client = self.session.client("kinesis-video-media", endpoint_url=endpoint)
        response = media_client.get_media(StreamName=STREAM, StartSelector={"StartSelectorType": START})
        consumer = KvsConsumerLibrary(
            STREAM, response, self.on_fragment_arrived, self.on_stream_read_complete, self.on_stream_read_exception
        )
        consumer.start()
        # The main application loop, as in the sample; this one ends after enough fragments.
        while consumer.is_alive():
            if MAX_FRAGMENTS and self.fragments >= MAX_FRAGMENTS:
                consumer.stop_thread()
            time.sleep(0.05)
        consumer.join()

    def on_fragment_arrived(self, stream_name, fragment_bytes, fragment_dom, fragment_receive_duration):
        try:
            self.last_good_fragment_tags = self.processor.get_fragment_tags(fragment_dom)
            tags = self.last_good_fragment_tags
            behind = float(tags["AWS_KINESISVIDEO_MILLIS_BEHIND_NOW"])
            producer = float(tags["AWS_KINESISVIDEO_PRODUCER_TIMESTAMP"])
            server = float(tags["AWS_KINESISVIDEO_SERVER_TIMESTAMP"])
            pretty = self.processor.get_fragement_dom_pretty_string(fragment_dom)

            number = tags["AWS_KINESISVIDEO_FRAGMENT_NUMBER"]
            mkv_path = os.path.join(OUT, number + ".mkv")
            self.processor.save_fragment_as_local_mkv(fragment_bytes, mkv_path)

            shapes = []
            jpegs = []
            if hasattr(self.processor, "get_frames_as_ndarray"):
                frames = self.processor.get_frames_as_ndarray(fragment_bytes, 5)
                shapes = [list(frame.shape) for frame in frames]
                jpegs = self.processor.save_frames_as_jpeg(fragment_bytes, 5, os.path.join(OUT, number))
            self.fragments += 1
            emit(
                event="fragment",
                stream=stream_name,
                number=number,
                behind=behind,
                producer=producer,
                server=server,
                duration=fragment_receive_duration,
                bytes=len(fragment_bytes),
                pretty_lines=len(pretty.splitlines()),
                mkv=mkv_path,
                shapes=shapes,
                jpegs=jpegs,
            )
        except Exception as err:
            emit(event="callback_error", error=repr(err))

    def on_stream_read_complete(self, stream_name):
        emit(event="complete", stream=stream_name, last=self.last_good_fragment_tags)

    def on_stream_read_exception(self, stream_name, error):
        emit(event="exception", stream=stream_name, type=type(error).__name__, error=str(error))


if __name__ == "__main__":
    ExampleConsumer().service_loop()
