"""Every use of an aiohttp private attribute, in one place, each with the reason it is needed.

aiohttp offers no public way to do these four things. Each is one small function here, so that
a new aiohttp release that renames or removes an attribute breaks one named place, and
``tests/client/test_aiohttp_contract.py`` checks every attribute on real aiohttp objects and
fails naming the attribute and the aiohttp version. ``pyproject.toml`` pins the aiohttp
releases this was tested with; raise its upper bound only after that test passes.

``PRIVATE_ATTRIBUTES`` lists them for that test: (the aiohttp class, the attribute, why).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiohttp

__all__ = ["PRIVATE_ATTRIBUTES", "close_connections_now", "mark_closed", "take_buffered",
           "turn_off_retry"]

PRIVATE_ATTRIBUTES: tuple[tuple[str, str, str], ...] = (
    ("aiohttp.ClientSession", "_retry_connection",
     "a bool: aiohttp re-sends an idempotent request once on a dropped keep-alive connection"),
    ("aiohttp.BaseConnector", "_close",
     "a method closing every connection at once, without awaiting, on any loop state"),
    ("aiohttp.BaseConnector", "_closed",
     "a bool its __del__ reads: True makes it leave the connections alone"),
    ("aiohttp.StreamReader", "_buffer",
     "a deque of the received bytes not yet handed over"),
)


def turn_off_retry(session: aiohttp.ClientSession) -> None:
    """Stop aiohttp from re-sending a GET once, on its own, when a pooled keep-alive connection
    turns out to be dropped (``ClientSession._retry_connection``). Our retry plan owns every
    retry and counts it against ``max_retries``; a hidden second send would break that count
    (and the promise that nothing is sent twice behind the plan's back)."""
    if hasattr(session, "_retry_connection"):
        session._retry_connection = False


def close_connections_now(connector: aiohttp.BaseConnector) -> None:
    """Close every connection of ``connector`` at once, without awaiting
    (``BaseConnector._close``). The public ``close()`` must be awaited on the connector's own
    event loop, which is not there when we need this: the loop has ended (``asyncio.run``
    called again), or a finalizer runs, outside any coroutine, for a client nobody closed.
    Once its loop is closed it only marks the connector closed; the sockets are then closed
    by their transports' own finalizers (or the end of the process)."""
    connector._close()


def mark_closed(connector: aiohttp.BaseConnector) -> None:
    """Mark ``connector`` closed without touching its connections (``BaseConnector._closed``),
    so its ``__del__`` leaves them alone. For a forked child, whose copies of the parent's
    sockets and epoll set must never be closed or unregistered from here."""
    connector._closed = True


def take_buffered(content: aiohttp.StreamReader) -> bytes:
    """The bytes a body's reader has received but not handed over (``StreamReader._buffer``),
    taken out of it. aiohttp raises a connection error before handing over bytes that arrived
    just ahead of the failure; a stream's partial answer, already paid for, would be lost."""
    buffer = getattr(content, "_buffer", None)
    if not buffer:
        return b""
    data = b"".join(buffer)
    buffer.clear()
    return data
