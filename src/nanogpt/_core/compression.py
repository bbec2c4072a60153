"""Compressed request bodies: whether to compress, compressing, and the 415 that refuses it.
No I/O.

NanoGPT accepts ``Content-Encoding: gzip`` (also deflate and br) on its chat endpoints and
answers 415 to an encoding it does not take (docs/nanogpt-api.md, "Compressed request bodies").
A chat request resends the whole conversation every turn, so its body grows with the
conversation; JSON compresses about 3 to 5 times. The upload must finish before the model
starts, so on a real network a smaller body is a sooner first token.

The setting is one number, ``compress_requests``: the size in bytes from which a body is
compressed (``None`` or ``False``: never; ``0``: always; ``True``: the default). Below the
default, ``DEFAULT_THRESHOLD`` (16 KiB), a body fits in the first flight of a fresh TCP
connection (an initial window of 10 segments is about 14 KiB): compressing it saves no round
trip, only CPU. ``benchmarks/compression.py`` measures the effect on a 1 MB conversation.

gzip level 1: on the benchmark's conversation it gets 3.0:1 in about a quarter of the CPU time
level 6 needs for 3.6:1; the extra bytes level 6 saves take less time to send than it costs
to save them on any uplink faster than about 17 Mbit/s.

A 415 answer to a compressed body means the body was not processed (not billed): the call sends
the same request uncompressed at once, and that is not a retry (``CallPlan``, which drives it,
does not count it and it happens with ``max_retries=0``). The client then remembers that this
host refuses compressed bodies (``RequestCompression.refused``) and sends it plain bodies from
then on, so only the first call pays the 415.
"""

from __future__ import annotations

import zlib
from typing import Any
from urllib.parse import urlsplit

from .errors import InvalidParameterError

__all__ = ["DEFAULT_THRESHOLD", "ENCODING", "RequestCompression", "compress_threshold",
           "gzip_body"]

DEFAULT_THRESHOLD = 16 * 1024
ENCODING = "gzip"
GZIP_LEVEL = 1
REFUSED_STATUS = 415
MAX_REMEMBERED_HOSTS = 256  # hosts that refused: base URLs and redirect targets, so few


def compress_threshold(value: Any) -> int | None:
    """The ``compress_requests`` setting, checked: a size in bytes, or ``None`` (never).
    ``True`` is the default size and ``False`` is ``None``, as a reader of
    ``compress_requests=False`` expects."""
    if value is None or value is False:
        return None
    if value is True:
        return DEFAULT_THRESHOLD
    if not isinstance(value, int) or value < 0:
        raise InvalidParameterError(
            "compress_requests", "must be a size in bytes >= 0 (bodies at least that large "
                                 "are sent gzip-compressed), True (the default size) or "
                                 "None/False (never compress)")
    return value


def gzip_body(body: bytes) -> bytes:
    """``body`` as one gzip member, without a timestamp (the same body, the same bytes)."""
    z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return z.compress(body) + z.flush()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}"


class RequestCompression:
    """One client's rule for compressing request bodies, and its memory of the hosts that
    refused them (shared by the client's threads or tasks; for the client's lifetime)."""

    def __init__(self, threshold: int | None) -> None:
        self.threshold = threshold
        # one set add or lookup at a time is atomic, as for ``HostPool``'s record: no lock
        self._refused: set[str] = set()

    def wanted(self, body: bytes | None, url: str) -> bool:
        """Should ``body``, on its way to ``url``, go compressed?"""
        return (self.threshold is not None and body is not None and len(body) > 0
                and len(body) >= self.threshold and _origin(url) not in self._refused)

    def compressed(self, body: bytes) -> bytes | None:
        """``body`` gzip-compressed, or ``None`` when that is not smaller (already compressed
        data, such as base64 of an image in some formats, can grow)."""
        packed = gzip_body(body)
        return packed if len(packed) < len(body) else None

    def refused(self, url: str) -> None:
        """The host of ``url`` answered 415 to a compressed body: send it plain bodies."""
        if len(self._refused) < MAX_REMEMBERED_HOSTS:
            self._refused.add(_origin(url))

    def __repr__(self) -> str:
        return f"RequestCompression(threshold={self.threshold!r})"
