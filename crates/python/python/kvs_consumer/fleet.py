"""``Fleet``: read many Kinesis video streams in one process, each fragment once and in
order, with checkpoints that survive a restart (an SQLite file, or a DynamoDB lease table
that several workers share)."""

import asyncio
from typing import Any, Optional, Tuple

from ._native import Fleet as _NativeFleet
from ._native import Fragment

__all__ = ["Fleet"]


class Fleet(_NativeFleet):
    """Reads many streams: ``for stream, fragment in Fleet(prefix="door-"): ...``.

    Args:
        streams: these stream names; or
        prefix: every active stream whose name starts with this; or
        all: every active stream of the account and region (or of the endpoint).
            Streams are listed again every ``discovery_interval`` seconds: new ones are
            read, deleted ones dropped.
        endpoint: the KVS endpoint (e.g. a local ``kvs serve``); by default AWS, or
            ``AWS_ENDPOINT_URL``.
        region: AWS region; by default from the environment.
        checkpoints: ``"sqlite:PATH"`` (one machine; the file is taken by this process) or
            ``"dynamodb:TABLE"`` (workers on many machines share the streams through
            leases in that table, created if missing; DynamoDB is reached through
            ``AWS_ENDPOINT_URL_DYNAMODB``, then ``AWS_ENDPOINT_URL``, then AWS).
        worker_id: this worker's name, its lease owner in a DynamoDB table and a label of
            its metrics (default: host name and process id on DynamoDB, else ``"local"``).
        failover: seconds without renewal after which another worker takes a lease.
        start: where a stream without a checkpoint begins: ``"now"`` (default),
            ``"earliest"``, ``"server:<RFC 3339>"``, ``"producer:<RFC 3339>"``.
        checkpoint_every: write checkpoints at most every this many seconds instead of
            after every fragment (fewer writes; after a crash up to that much comes again,
            flagged ``fragment.redelivered``).
        discovery_interval: seconds between two listings of the streams.
        credentials: ``(access_key_id, secret_access_key, session_token_or_None)``; by
            default the usual AWS chain.

    A pair is handled when the loop asks for the next one (or at ``stop()``): only then is
    its checkpoint written and its stream's next fragment handed out, so a restart goes on
    right after the last pair whose loop body returned. ``fragment.redelivered`` is True
    for a fragment that may have been handed out before a crash: handle it idempotently.
    Lease changes and per-stream errors are not raised; ``events()`` returns them.

    ``with Fleet(...) as fleet:`` stops cleanly on exit: the pair being handled counts as
    handled, unless the body raised (then it comes again at the next run, flagged). ``async for stream, fragment in fleet`` waits in
    a worker thread, so the event loop keeps running.
    """

    def __aiter__(self) -> "Fleet":
        return self

    async def __anext__(self) -> Tuple[str, Fragment]:
        pair = await asyncio.get_running_loop().run_in_executor(None, self._next_or_none)
        if pair is None:
            raise StopAsyncIteration
        return pair

    def _next_or_none(self) -> Optional[Tuple[str, Fragment]]:
        return next(self, None)

    def __enter__(self) -> "Fleet":
        return self

    def __exit__(self, exc_type: Any, *exc_info: Any) -> None:
        # A body that raised did not handle its pair: it comes again at the next run.
        self.stop(handled=exc_type is None)
