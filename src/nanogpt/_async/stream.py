"""``AsyncStream``: a streamed answer read with ``async for``, and ``ResponseBody``, the
:class:`~nanogpt._core.transport.AsyncStreamBody` it reads (an aiohttp response). Decoding and
the stream's clocks are the core's (``StreamCore``, ``StreamBase``).

A stream may be released from outside its event loop: by the garbage collector in another
thread, or after ``asyncio.run`` has closed the loop. aiohttp's connections and the concurrency
semaphore belong to the loop, so ``ResponseBody.release`` hands the work to the loop when it runs
in another thread, and drops it when the loop is closed (its connections went with it).
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from .._core.stream import StreamBase, StreamCore
from .._core.transport import DRAIN_TIMEOUT, AsyncStreamBody, TransportFailure
from .._core.types import ChatCompletion, ChatCompletionChunk
from .aiohttp_private import take_buffered
from .body import connection_errors, decoding, failure, watch_body

if TYPE_CHECKING:
    import aiohttp

    from .._core.decompress import BoundedDecoder
    from .session import LoopSession

__all__ = ["AsyncStream", "ResponseBody", "body_of"]


def _read_errors() -> tuple[type[BaseException], ...]:
    """What reading a stream may raise: a connection's failures, and RuntimeError (aiohttp's
    "Connection closed." once the session was closed under it)."""
    return (*connection_errors(), RuntimeError)


class ResponseBody:
    """The body of a streamed answer from aiohttp, undecoded (see ``DecodedResponseBody``).

    ``session``: the client's session the answer came on, with the concurrency slot to give
    back; ``owner``: the task that took the slot. The session is held until the release: a
    stream may outlive its client (``return await client...create(stream=True)``), and the
    session's finalizer, when the client is dropped, closes every connection it has."""

    __slots__ = ("_content", "_errors", "_failed", "_loop", "_owner", "_readany", "_resp",
                 "_session", "_slots", "_watch")

    def __init__(self, resp: aiohttp.ClientResponse, session: LoopSession,
                 owner: asyncio.Task[Any] | None) -> None:
        self._resp = resp
        self._session: LoopSession | None = session
        self._loop = session.loop
        self._slots = session.slots
        self._owner = owner
        self._content = resp.content
        self._readany = resp.content.readany
        self._errors = _read_errors()
        self._failed: TransportFailure | None = None
        self._watch = watch_body(resp)

    async def read(self) -> bytes:
        if self._failed is not None:
            raise self._failed
        try:
            return await self._readany()
        except self._errors as exc:
            # aiohttp raises before handing over bytes that arrived just ahead of the failure;
            # take them first, so the partial answer (already paid for) is kept.
            self._failed = failure(exc)
            leftover = take_buffered(self._content)
            if leftover:
                return leftover
            raise self._failed from None

    async def _to_end(self) -> None:
        while await self.read():
            pass

    async def drain(self) -> bool:
        try:
            await asyncio.wait_for(self._to_end(), DRAIN_TIMEOUT)
        except (TransportFailure, asyncio.TimeoutError):
            return False
        return True

    def release(self, reusable: bool) -> None:
        """Give the connection and the slot back, on the loop's thread (see the module
        docstring): at once when called there or while the loop is stopped, else handed to
        the running loop; nothing when the loop is closed."""
        loop = self._loop
        if loop.is_closed():
            self._watch = self._session = None
            return
        if loop.is_running() and _running_loop() is not loop:
            # RuntimeError: the loop closed meanwhile, and its connections went with it
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._release_here, reusable)
            return
        self._release_here(reusable)

    def _release_here(self, reusable: bool) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.content = None
        try:
            if reusable:
                self._resp.release()
            else:
                self._resp.close()
        finally:
            try:
                if self._slots is not None:
                    self._slots.release(self._owner)
            finally:
                self._session = None  # last: it may be the client's last reference


class DecodedResponseBody(ResponseBody):
    """The body of a coded (gzip, deflate) streamed answer: ``read`` returns decoded bytes,
    at most a piece at a time (see ``body.decoding``)."""

    __slots__ = ("_decoded_read",)

    def __init__(self, resp: aiohttp.ClientResponse, session: LoopSession,
                 owner: asyncio.Task[Any] | None, decoder: BoundedDecoder) -> None:
        super().__init__(resp, session, owner)
        self._decoded_read = decoding(super().read, decoder)

    async def read(self) -> bytes:
        return await self._decoded_read()


def body_of(resp: aiohttp.ClientResponse, decoder: BoundedDecoder | None,
            session: LoopSession, owner: asyncio.Task[Any] | None) -> ResponseBody:
    """The stream body of ``resp``, decoded with ``decoder`` when it is coded."""
    if decoder is None:
        return ResponseBody(resp, session, owner)
    return DecodedResponseBody(resp, session, owner, decoder)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class AsyncStream(StreamBase):
    """The asyncio twin of :class:`~nanogpt.Stream`: ``async for chunk in stream``.

    Use it as an async context manager (``async with await create(..., stream=True) as s``),
    or call ``await s.close()``, to give the connection back early; its concurrency slot counts
    against the task that opened it. Unmanaged, it is given back when dropped, and also when
    the task running ``async for`` over it ends by cancellation or an error while it is open:
    that task's traceback keeps the stream alive (for as long as anything holds the task), so
    garbage collection alone would keep its concurrency slot.
    """

    def __init__(self, body: AsyncStreamBody, core: StreamCore,
                 headers: dict[str, str]) -> None:
        super().__init__(body.release, core, headers)
        self._read = body.read
        self._drain = body.drain
        self._task: asyncio.Task[Any] | None = None
        self._on_task_done: Callable[[asyncio.Task[Any]], None] | None = None

    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        if not self._closed:
            self._watch_current_task()
        return self

    def _watch_current_task(self) -> None:
        """Release this stream when the task iterating it fails or is cancelled. The callback
        holds the stream only weakly, and is removed when the stream closes, so a long-lived
        task that reads many streams gathers no callbacks."""
        task = asyncio.current_task()
        if task is None or task is self._task:
            return
        self._unwatch()
        ref = weakref.ref(self)

        def on_task_done(task: asyncio.Task[Any]) -> None:
            stream = ref()
            if stream is not None and not stream._closed and _ended_badly(task):
                stream._give_back()

        task.add_done_callback(on_task_done)
        self._task, self._on_task_done = task, on_task_done

    def _unwatch(self) -> None:
        task, callback = getattr(self, "_task", None), getattr(self, "_on_task_done", None)
        if task is not None and callback is not None:
            self._task = self._on_task_done = None
            task.remove_done_callback(callback)

    def _give_back(self) -> None:
        try:
            super()._give_back()
        finally:
            self._unwatch()

    async def __anext__(self) -> ChatCompletionChunk:
        pos = self._pos
        if pos < len(self._buf):
            self._pos = pos + 1
            return self._buf[pos]
        core = self._core
        while not self._closed:
            try:
                if core.finished:
                    if core.error is None:
                        self._reusable = await self._drain()
                    self._end()
                    break
                chunk = self._take(await self._read())
            except TransportFailure as f:
                self._give_back()
                raise core.interrupted(f) from None
            except BaseException:  # StreamError, cancellation, anything: give back
                self._give_back()
                raise
            if chunk is not None:
                return chunk
        raise StopAsyncIteration

    async def get_final_completion(self) -> ChatCompletion:
        """Read what is left and return the whole answer as one ``ChatCompletion``.

        Raises ``StreamError`` if the stream failed or was closed before it finished."""
        async for _ in self:
            pass
        return self._core.final()

    async def close(self) -> None:
        """Give the connection back (closing it if the body was not read to its end)."""
        self._give_back()

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _ended_badly(task: asyncio.Task[Any]) -> bool:
    """Cancelled, or failed; read without marking the task's exception as retrieved (asyncio
    would then no longer log an exception nobody awaited)."""
    return task.cancelled() or getattr(task, "_exception", None) is not None
