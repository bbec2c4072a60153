"""The aiohttp session of an ``AsyncNanoGPT``: made per event loop, and how it ends.

A session, its connection pool and the concurrency slots belong to one event loop
(:class:`LoopSession`); ``loop_session`` gives the client the one for the running loop,
making a new one when the loop is new (``asyncio.run`` called again) or the process is a
forked child. It ends in one of these ways:

- ``await client.close()`` / ``async with``: closed on its loop, as aiohttp wants.
- its loop has ended (a new ``asyncio.run``): its connections are dropped at once, since
  nothing can be awaited on a closed loop (``abandon``).
- in a forked child: the parent's, never touched (``disown``): its sockets and its loop's epoll
  set are shared with the parent.
- nobody closed it: the client was dropped (and its last open stream released: a stream's
  body holds the session it reads from), or the program is ending. A finalizer, which
  ``weakref.finalize`` also runs at interpreter exit before modules are torn down, drops the
  connections (on the session's loop when that still runs in another thread) and says so with
  a ``ResourceWarning``, as an unclosed file does: hidden by default, shown by
  ``-W default`` / ``-X dev`` / pytest's settings, an error under ``-W error``. aiohttp's own
  "Unclosed client session" / "Unclosed connector" messages never come: they go to stderr
  through the loop's exception handler whatever the warning filters say, so a program that
  used a client once in ``asyncio.run`` without closing it would print them on every run.

Closing at exit cannot be done as ``close()`` does it: ``asyncio.run`` closes its loop before
``atexit`` handlers run, and a session cannot be closed on another loop.

A pooled connection on which the server wrote while it was idle is closed, not reused (aiohttp
would hand those bytes to the next call as its answer): ``_connector_class``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import warnings
import weakref
from typing import TYPE_CHECKING

from .._slots import TaskSlots, fork_generation
from .._sockets import readable
from .aiohttp_private import close_connections_now, mark_closed, turn_off_retry

if TYPE_CHECKING:
    import aiohttp

__all__ = ["UNCLOSED", "LoopSession", "loop_session"]

UNCLOSED = ("unclosed AsyncNanoGPT: its connections were dropped when it was garbage-collected "
            "or the program ended. Use `async with AsyncNanoGPT() as client:` or "
            "`await client.close()`")


class LoopSession:
    """One event loop's aiohttp session and concurrency slots, with the fork generation it
    was made in. Dropped unclosed, it is released by ``_release_unclosed``."""

    __slots__ = ("__weakref__", "generation", "loop", "session", "slots")

    def __init__(self, loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession,
                 slots: TaskSlots | None) -> None:
        self.loop = loop
        self.session = session
        self.slots = slots
        self.generation = fork_generation()
        weakref.finalize(self, _release_unclosed, session, loop, self.generation)

    async def close(self) -> None:
        """Close the pooled connections (leaving a forked parent's alone)."""
        if self.generation != fork_generation():
            disown(self.session)  # the parent's (we are a forked child): not ours to close
        elif not self.session.closed:
            await self.session.close()


def loop_session(current: LoopSession | None, max_concurrency: int | None) -> LoopSession:
    """The session for the running loop: ``current`` when it belongs to it, else a new one.

    Refuses (``RuntimeError``) while ``current``'s loop still runs in another thread: two
    live loops would each get their own ``max_concurrency``, and together exceed it."""
    loop = asyncio.get_running_loop()
    if current is not None and current.generation != fork_generation():
        disown(current.session)  # made before a fork: the parent's, leave it alone
        current = None
    if current is not None and current.loop is loop and not current.session.closed:
        return current
    if current is not None and current.loop is not loop:
        if current.loop.is_running():
            raise RuntimeError(
                "this AsyncNanoGPT is in use on another running event loop; create one "
                "client per event loop (or per thread)")
        abandon(current.session)  # its loop has ended (asyncio.run called again)
    slots = TaskSlots(max_concurrency) if max_concurrency else None
    return LoopSession(loop, _new_session(), slots)


def _new_session() -> aiohttp.ClientSession:
    import aiohttp

    connector = _connector_class()(limit=0, ttl_dns_cache=300)
    # bodies come undecoded and are decoded by the client, bounded (aiohttp would decompress
    # a whole small gzip body into memory before any size check); identity is asked for
    session = aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                    headers={"Accept-Encoding": "identity"},
                                    skip_auto_headers=("User-Agent",))
    turn_off_retry(session)  # our plan owns every retry (and counts it)
    return session


def abandon(session: aiohttp.ClientSession) -> None:
    """Let go of a session whose event loop is gone, without awaiting on that loop."""
    connector = session.connector
    session.detach()
    if connector is not None:
        with contextlib.suppress(Exception):
            close_connections_now(connector)


def disown(session: aiohttp.ClientSession) -> None:
    """In a forked child, forget a session made in the parent without touching it. Its
    connections are the parent's sockets, and its event loop's epoll set is shared with the
    parent: closing anything here (now, or from a finalizer later) could cut the parent's
    connections or unregister them from the parent's loop. The connector is marked closed so
    that its finalizer does nothing; the child's copies of the descriptors close with it."""
    connector = session.connector
    session.detach()
    if connector is not None:
        mark_closed(connector)


def _release_unclosed(session: aiohttp.ClientSession, loop: asyncio.AbstractEventLoop,
                      generation: int) -> None:
    """The finalizer of a :class:`LoopSession`: nothing to do when it was closed; else drop
    its connections and warn, as an unclosed file does. The warning comes last, so that
    ``-W error::ResourceWarning`` (which makes it raise) still leaves nothing open."""
    if session.closed:
        return
    if generation != fork_generation():
        disown(session)
        return
    connector = session.connector
    session.detach()  # aiohttp's own __del__ then finds it closed, and prints nothing
    if connector is not None:
        _close_on_its_loop(connector, loop)
    warnings.warn(UNCLOSED, ResourceWarning, stacklevel=3)  # where it was dropped


def _close_on_its_loop(connector: aiohttp.BaseConnector,
                       loop: asyncio.AbstractEventLoop) -> None:
    """Close the connections from the loop's own thread: a garbage collection can run the
    finalizer in any thread, and a transport may only be closed from its loop's."""
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop or not loop.is_running():
        with contextlib.suppress(Exception):
            close_connections_now(connector)
    else:
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(_close_quietly, connector)


def _close_quietly(connector: aiohttp.BaseConnector) -> None:
    with contextlib.suppress(Exception):
        close_connections_now(connector)


_MAX_STALE = 64  # idle connections found spoken on, dropped before one call makes a new one


@functools.lru_cache(maxsize=1)
def _connector_class() -> type[aiohttp.TCPConnector]:
    """aiohttp's connector, but an idle keep-alive connection that the server wrote to (an
    answer nobody asked for: a duplicate, a late one, the end of a body longer than its
    length) is closed instead of reused. aiohttp checks only that it is still connected, and
    would hand those bytes to the next call as its answer. Like the blocking pool's check."""
    import aiohttp

    class FreshConnector(aiohttp.TCPConnector):
        async def connect(self, req: aiohttp.ClientRequest, traces: list[aiohttp.tracing.Trace],
                          timeout: aiohttp.ClientTimeout) -> aiohttp.connector.Connection:
            for _ in range(_MAX_STALE):
                conn = await super().connect(req, traces, timeout)
                if not _spoken_on_while_idle(conn):
                    return conn
                conn.close()  # released with should_close: aiohttp closes it
            return await super().connect(req, traces, timeout)

    return FreshConnector


# the protocols (connections) already handed to a call: only those can come back from the pool
_USED: weakref.WeakSet[object] = weakref.WeakSet()


def _spoken_on_while_idle(conn: aiohttp.connector.Connection) -> bool:
    """A pooled connection that has bytes waiting (in aiohttp's parser, or still on the
    socket) before this call sent anything. A new connection is never judged: what a server
    says before being asked belongs to no other call."""
    protocol = conn.protocol
    if protocol is None:
        return False
    if protocol not in _USED:
        _USED.add(protocol)
        return False
    if protocol.should_close:
        return True
    transport = protocol.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    return sock is not None and readable(sock)
