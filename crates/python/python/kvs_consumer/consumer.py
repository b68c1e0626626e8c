"""``Consumer``: read a Kinesis video stream fragment by fragment, with ``for`` or
``async for``, resumed across dropped connections (every fragment once, in order)."""

import asyncio
from typing import Any, Optional

from ._native import Consumer as _NativeConsumer
from ._native import Fragment

__all__ = ["Consumer"]


class Consumer(_NativeConsumer):
    """Reads a stream: ``for fragment in Consumer("my-camera", start="earliest"): ...``.

    Args:
        stream_name: the stream's name (or ARN).
        region: AWS region; by default from the environment (``us-east-1`` for a local
            endpoint).
        endpoint_url: the KVS endpoint (e.g. a local ``kvs serve``); by default AWS, or
            ``AWS_ENDPOINT_URL``.
        start: ``"now"`` (default), ``"earliest"``, ``"after:<fragment number>"``,
            ``"token:<continuation token>"``, ``"server:<RFC 3339>"``,
            ``"producer:<RFC 3339>"``, or a boto3 ``StartSelector`` dict.
        follow: keep reading at the live edge (default); ``False`` ends once caught up.
        archive: ``(start, end)`` or ``(start, end, "producer")``: archived fragments in
            that time range (datetimes or epoch seconds) instead of a live read.
        credentials: ``(access_key_id, secret_access_key, session_token_or_None)``; by
            default the usual AWS chain.
        queue_capacity: fragments read ahead of the application (back-pressure beyond).

    ``async for fragment in consumer`` waits in a worker thread, so the event loop keeps
    running. ``with Consumer(...) as c:`` stops the read on exit.
    """

    def __aiter__(self) -> "Consumer":
        return self

    async def __anext__(self) -> Fragment:
        fragment = await asyncio.get_running_loop().run_in_executor(None, self._next_or_none)
        if fragment is None:
            raise StopAsyncIteration
        return fragment

    def _next_or_none(self) -> Optional[Fragment]:
        return next(self, None)

    def __enter__(self) -> "Consumer":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
