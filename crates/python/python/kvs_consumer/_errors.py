"""Exceptions raised by kvs_consumer."""

from typing import List, Optional, Tuple

__all__ = ["KvsError", "KvsStreamError", "MediaError", "MkvError"]


class KvsError(Exception):
    """Base class of every error kvs_consumer raises."""


class MkvError(KvsError, ValueError):
    """Bytes that are not a readable MKV fragment."""


class KvsStreamError(KvsError):
    """An error that Kinesis Video Streams sent inside the media stream (HTTP 200) instead
    of a fragment: ``AWS_KINESISVIDEO_ERROR_CODE`` / ``..._EXCEPTION_ERROR_CODE``.

    Attributes:
        code: the error code, e.g. ``"3002"`` or ``"4000"`` (fragment not found).
        error_id: ``AWS_KINESISVIDEO_ERROR_ID``, if sent.
        aws_message: ``AWS_KINESISVIDEO_EXCEPTION_MESSAGE``, if sent.
        tags: every tag of the error fragment, as ``(name, value)`` pairs.
    """

    def __init__(
        self,
        message: str,
        code: Optional[str] = None,
        error_id: Optional[str] = None,
        aws_message: Optional[str] = None,
        tags: Optional[List[Tuple[str, Optional[str]]]] = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.error_id = error_id
        self.aws_message = aws_message
        self.tags = list(tags or [])


class MediaError(KvsError):
    """Frames or audio that cannot be decoded or saved: a codec this build does not
    decode, no video track, bad codec private data, a corrupt frame."""
