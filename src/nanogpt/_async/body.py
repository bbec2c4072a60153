"""Reading bodies with aiohttp: whole (bounded in bytes and time, decoded when coded) or as a
stream's pieces, and what a failure of aiohttp means in the core's terms (``failure``:
a :class:`~nanogpt._core.transport.TransportFailure`).

aiohttp's exceptions are never put in our messages by ``repr`` (it shows every request header).
Also here: a gap in aiohttp that a body reader must close itself (``BodyWatch``: a connection
closed under a body's reader, which aiohttp does not tell).
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .._core.deadlines import seconds_until
from .._core.decompress import BoundedDecoder, UndecodableBody, decoder_for
from .._core.proxies import Proxy, tunnel_refused
from .._core.transport import TransportFailure

if TYPE_CHECKING:
    import aiohttp

__all__ = ["BodyWatch", "body_had_started", "connection_errors", "decoding", "error_body",
           "failure", "read_limited", "until", "watch_body"]

_STREAM_PIECE = 65536  # a coded stream is decoded at most this much per read


def _describe(exc: BaseException) -> str:
    """What went wrong, from the exception's type and ``str``, never its ``repr``: aiohttp's
    repr of a response error carries the request headers (keys, proxy tokens)."""
    import aiohttp

    if isinstance(exc, aiohttp.ClientResponseError):
        text = f"{exc.status}, {exc.message}"  # its str() adds the URL, which we name anyway
    else:
        text = str(exc)
    text = " ".join(text.split())[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@functools.cache
def connection_errors() -> tuple[type[BaseException], ...]:
    """What aiohttp and asyncio raise when a connection fails or a wait runs out, sending or
    reading (``failure`` tells them apart). A function, so that aiohttp loads on first use;
    an ``except connection_errors():`` clause calls it only when something was raised."""
    import aiohttp

    return (aiohttp.ClientError, asyncio.TimeoutError, OSError)


def failure(exc: BaseException, proxy: Proxy | None = None, url: str = "") -> TransportFailure:
    """Classify an aiohttp/asyncio error: did the request leave, was it a timeout? Through a
    ``proxy`` (to ``url``), a refused ``CONNECT`` and a failure to reach the proxy name it."""
    import aiohttp

    if proxy is not None:
        if isinstance(exc, aiohttp.ClientHttpProxyError):
            return tunnel_refused(proxy, _authority(url), exc.status, str(exc.message))
        if isinstance(exc, aiohttp.ClientProxyConnectionError):
            return TransportFailure(f"connecting through the proxy {proxy.shown} failed: "
                                    f"{_describe(exc)}", sent=False)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return TransportFailure(f"connect timed out: {_describe(exc)}", sent=False,
                                timeout=True)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return TransportFailure(f"could not connect: {_describe(exc)}", sent=False)
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return TransportFailure("timed out waiting for the server", sent=True, timeout=True)
    return TransportFailure(f"connection broken: {_describe(exc)}", sent=True)


def _authority(url: str) -> str:
    """The ``host:port`` a refused tunnel was asked for (the API host, not the proxy)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 443}"


# llhttp's words for a malformed chunk: the head had been parsed, the body had begun
_BODY_PARSE_ERROR = re.compile(r"chunk (size|ext|data)|after chunk", re.IGNORECASE)


def body_had_started(exc: BaseException) -> bool:
    """aiohttp parses a head and the start of its body together; when the body is malformed
    it drops the head and fails the request as if no answer had come. What is left says
    whether the parser was already in the body: the error class with aiohttp's Python parser
    (a payload error among the causes), the message with its C parser (a bare BadHttpMessage
    about a chunk)."""
    import aiohttp
    from aiohttp.http_exceptions import PayloadEncodingError

    if not isinstance(exc, aiohttp.ClientResponseError):
        return False
    cause = exc.__cause__
    for _ in range(3):  # aiohttp's wrapper, then the parser's own error
        if cause is None:
            break
        if isinstance(cause, PayloadEncodingError):
            return True
        cause = cause.__cause__
    return bool(_BODY_PARSE_ERROR.search(str(exc.message)))


def decoding(read_raw: Callable[[], Awaitable[bytes]],
              decoder: BoundedDecoder) -> Callable[[], Awaitable[bytes]]:
    """A coded stream's ``read``: at most ``_STREAM_PIECE`` decoded bytes per call, and a turn
    of the event loop for each. A few hundred KiB of gzip already received can decode to
    hundreds of MiB (of keep-alive comments, say) without any read having to wait: without
    the turn, every other task of the program would stand still meanwhile."""

    async def read() -> bytes:
        try:
            while True:
                out = decoder.read(_STREAM_PIECE)
                if out:
                    await asyncio.sleep(0)
                    return out
                raw = await read_raw()
                if not raw:
                    decoder.finish()
                    return b""
                decoder.feed(raw)
        except UndecodableBody as e:
            raise TransportFailure(str(e), sent=True) from None

    return read


def until(deadline: float | None) -> float | None:
    """Seconds from now to ``deadline`` (a ``CallPlan.attempt_deadline``), for
    ``asyncio.wait_for``: see ``deadlines.seconds_until``."""
    return seconds_until(deadline, time.monotonic())


async def error_body(resp: aiohttp.ClientResponse, limit: int, left: float | None) -> bytes:
    """The body of an error answer, at most ``limit`` bytes and ``left`` seconds; ``b""``
    when it cannot be had (the status says enough)."""
    watch = watch_body(resp)
    try:
        reading = read_limited(resp, limit)
        return (await (asyncio.wait_for(reading, left) if left is not None
                       else reading))[:limit]
    except connection_errors():
        return b""
    except UndecodableBody:
        return b""
    finally:
        if watch is not None:
            watch.content = None
        resp.release()


class BodyWatch:
    """Fails a body's reader when its connection closes before the body ended.

    aiohttp, on a malformed chunk after the head was handed over, closes the connection but
    never tells the body's reader, and stops the read timer: a stream would then wait for
    ever (``idle`` included), a whole body until ``read``. One watch per connection, set to
    the body being read; the callback also takes the future's exception, which nobody else
    may ask for (asyncio would log it)."""

    __slots__ = ("content",)

    def __init__(self) -> None:
        self.content: aiohttp.StreamReader | None = None

    def __call__(self, closed: asyncio.Future[None]) -> None:
        if not closed.cancelled():
            closed.exception()
        content, self.content = self.content, None
        if content is not None and not content.is_eof() and content.exception() is None:
            import aiohttp

            content.set_exception(aiohttp.ClientPayloadError(
                "the connection closed before the body ended (malformed body?)"))


_BODY_WATCHES: weakref.WeakKeyDictionary[object, BodyWatch] = weakref.WeakKeyDictionary()


def watch_body(resp: aiohttp.ClientResponse) -> BodyWatch | None:
    """Watch the connection of ``resp`` while its body is read (see ``BodyWatch``); the
    caller sets ``.content`` back to None when done."""
    connection = resp.connection
    protocol = connection.protocol if connection is not None else None
    if protocol is None:
        return None  # the body is already complete, or the connection gone: nothing to wait
    watch = _BODY_WATCHES.get(protocol)
    if watch is None:
        closed = protocol.closed
        if closed is None:
            return None
        watch = _BODY_WATCHES[protocol] = BodyWatch()
        closed.add_done_callback(watch)
    watch.content = resp.content
    return watch


async def read_limited(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The (decoded) body, or its first ``limit + 1`` bytes when it is longer. Raises
    ``UndecodableBody`` for a content coding that cannot be decoded."""
    coding = resp.headers.get("Content-Encoding")
    if coding is not None:
        decoder = decoder_for(coding)
        if decoder is not None:
            return await _read_decoded(resp, decoder, limit)
    length = resp.content_length
    if length is not None and length <= limit:
        return await resp.read()  # the common case, and the cheapest
    data = bytearray()
    async for piece in resp.content.iter_any():
        data += piece
        if len(data) > limit:
            break
    return bytes(data)


async def _read_decoded(resp: aiohttp.ClientResponse, decoder: BoundedDecoder,
                        limit: int) -> bytes:
    """Decode while reading, never asking the decoder for more than ``limit + 1`` bytes."""
    data = bytearray()
    async for piece in resp.content.iter_any():
        decoder.feed(piece)
        data += decoder.read(limit + 1 - len(data))
        if len(data) > limit:
            return bytes(data)
    decoder.finish()
    return bytes(data)
