"""The transport boundary: what a shell's HTTP library hands the core, and how it fails.

Everything on this side of the line decides; everything on the other side moves bytes. A shell
(``nanogpt._sync`` on ``http.client``, ``nanogpt._async`` on aiohttp) turns its library's
answers and errors into these shapes, and nothing else from the library crosses over:

* :class:`TransportFailure`: the library failed. ``sent`` says whether the request may have
  left (the retry plan retries a request that may be billed only when it certainly did not),
  ``timeout`` whether a clock ran out, ``proxy_status`` the proxy's answer to ``CONNECT``
  when it would not open a tunnel (``nanogpt._core.proxies.tunnel_refused``).
* the status and headers of an answer, passed as plain values (``status``, a mapping with
  case-insensitive or lower-case names): that is all the retry plan and the decoders read.
* :class:`StreamBody` and :class:`AsyncStreamBody`: the body of a 2xx answer to a stream
  request, as a stream reads it: ``read`` what has arrived, ``drain`` to the end after
  ``[DONE]`` (so the connection may be reused), and ``release`` the connection and its
  concurrency slot, saying whether it may be reused. Both shells' stream bodies satisfy these
  (``_sync/stream.py``, ``_async/stream.py``), and so does a scripted one in a test.

A connection "may be reused" (``reusable``) when its answer was read to its end and nothing
cut it; it is the one flag that travels from a stream's end to the connection pool.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["DRAIN_TIMEOUT", "AsyncStreamBody", "StreamBody", "TransportFailure"]

DRAIN_TIMEOUT = 0.5  # after [DONE]: how long the end of the body is awaited, for reuse


class TransportFailure(Exception):
    """What a shell reports when the HTTP library fails. ``sent``: the request may have left;
    ``timeout``: a clock ran out (not the peer refusing or cutting); ``proxy_status``: the
    status a proxy answered ``CONNECT`` with, when it would not open the tunnel."""

    def __init__(self, message: str, *, sent: bool, timeout: bool = False,
                 proxy_status: int | None = None) -> None:
        super().__init__(message)
        self.sent = sent
        self.timeout = timeout
        self.proxy_status = proxy_status


class StreamBody(Protocol):
    """The body of a streamed answer, read by a blocking :class:`~nanogpt.Stream`."""

    def read(self) -> bytes:
        """What has arrived (waiting for at least one byte): ``b""`` at the end of the body.
        Raises :class:`TransportFailure` when the connection fails or a wait runs out."""
        ...

    def drain(self) -> bool:
        """Read to the end of the body within ``DRAIN_TIMEOUT``; True if the end came (the
        connection is then reusable). Never raises for the connection's sake."""
        ...

    def release(self, reusable: bool) -> None:
        """Give the connection back (to the pool if ``reusable``, else closed) and the
        concurrency slot. Called once; from any thread, a finalizer included."""
        ...


class AsyncStreamBody(Protocol):
    """The body of a streamed answer, read by an :class:`~nanogpt.AsyncStream`. ``release``
    does not wait, so that a finalizer or a task's done-callback may call it."""

    async def read(self) -> bytes:
        """As :meth:`StreamBody.read`."""
        ...

    async def drain(self) -> bool:
        """As :meth:`StreamBody.drain`."""
        ...

    def release(self, reusable: bool) -> None:
        """As :meth:`StreamBody.release`; from a thread other than the event loop's, or after
        the loop closed, too (then the work is handed to the loop, or dropped with it)."""
        ...
