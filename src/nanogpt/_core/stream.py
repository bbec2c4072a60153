"""Streams: the sans-I/O core that turns bytes into typed chunks, the accumulator, and the two
thin stream objects (blocking and asyncio) that feed it.

Per chunk the hot path is: split lines (``_sse``), one msgspec decode straight into
``ChatCompletionChunk``, a few appends in the accumulator. No dicts are rebuilt.
"""

from __future__ import annotations

import sys
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec

from .config import earliest
from .errors import StreamError, StreamTimeoutError
from .plan import TransportFailure
from .redact import scrub
from .sse import SSEDecoder, SSEError
from .types import (
    DECODE_ERRORS,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    FunctionCall,
    Message,
    Pricing,
    ToolCall,
    Usage,
    salvage,
)

if TYPE_CHECKING:
    import asyncio

__all__ = ["Accumulator", "AsyncStream", "Stream", "StreamCore"]

_decode_chunk = msgspec.json.Decoder(ChatCompletionChunk, strict=False).decode
_DONE = b"[DONE]"
DRAIN_TIMEOUT = 0.5  # after [DONE]: how long the end of the body is awaited, for reuse


class _ToolCallParts:
    __slots__ = ("args", "id", "index", "name", "type")

    def __init__(self, index: int) -> None:
        self.index = index
        self.id: str | None = None
        self.type: str | None = None
        self.name: str | None = None
        self.args: list[str] = []


class Accumulator:
    """Joins chunks into the whole answer: text, reasoning and tool calls per choice.
    ``kept`` counts the characters it holds (what a stream's memory grows with)."""

    __slots__ = ("_reasoning", "_text", "_tools", "created", "finish_reasons", "id", "kept",
                 "model", "pricing_raw", "usage_raw")

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.created: int | float = 0
        self._text: dict[int, list[str]] = {}
        self._reasoning: dict[int, list[str]] = {}
        self._tools: dict[int, dict[int, _ToolCallParts]] = {}
        self.finish_reasons: dict[int, str] = {}
        self.usage_raw: dict[str, Any] | None = None
        self.pricing_raw: dict[str, Any] | None = None
        self.kept = 0

    def add(self, chunk: ChatCompletionChunk) -> bool:
        """Take one chunk; returns True when a choice finished with ``finish_reason: "error"``."""
        failed = False
        for c in chunk.choices:
            d = c.delta
            if d.content:
                self.kept += len(d.content)
                try:
                    self._text[c.index].append(d.content)
                except KeyError:
                    self._text[c.index] = [d.content]
            if d.reasoning:
                self.kept += len(d.reasoning)
                self._reasoning.setdefault(c.index, []).append(d.reasoning)
            if d.tool_calls:
                self._add_tools(c.index, d.tool_calls)
            if c.finish_reason is not None:
                self.finish_reasons[c.index] = c.finish_reason
                if c.finish_reason == "error":
                    failed = True
        if isinstance(chunk._usage, dict):
            self.usage_raw = chunk._usage
        if isinstance(chunk._pricing, dict):
            self.pricing_raw = chunk._pricing
        if not self.id:
            self.id, self.model, self.created = chunk.id, chunk.model, chunk.created
        return failed

    def _add_tools(self, choice: int, calls: list[ToolCall]) -> None:
        parts = self._tools.setdefault(choice, {})
        for pos, tc in enumerate(calls):
            i = tc.index if tc.index is not None else pos
            p = parts.get(i)
            if p is None:
                p = parts[i] = _ToolCallParts(i)
            if tc.id:
                p.id = tc.id
            if tc.type:
                p.type = tc.type
            f = tc.function
            if f is not None:
                if f.name and not p.name:
                    p.name = f.name
                if f.arguments:
                    self.kept += len(f.arguments)
                    p.args.append(f.arguments)

    def text_of(self, choice: int = 0) -> str:
        return "".join(self._text.get(choice, ()))

    def reasoning_of(self, choice: int = 0) -> str:
        return "".join(self._reasoning.get(choice, ()))

    def tool_calls_of(self, choice: int = 0) -> list[ToolCall]:
        parts = self._tools.get(choice, {})
        return [ToolCall(id=p.id, type=p.type or "function", index=p.index,
                         function=FunctionCall(name=p.name, arguments="".join(p.args)))
                for _, p in sorted(parts.items())]

    def completion(self) -> ChatCompletion:
        indexes = sorted(set(self._text) | set(self._reasoning) | set(self._tools)
                         | set(self.finish_reasons)) or [0]
        choices = [
            Choice(index=i, finish_reason=self.finish_reasons.get(i),
                   message=Message(content=self.text_of(i) if i in self._text else None,
                                   reasoning=self.reasoning_of(i) or None,
                                   tool_calls=self.tool_calls_of(i) or None))
            for i in indexes
        ]
        return ChatCompletion(id=self.id, model=self.model, created=self.created,
                              choices=choices, _usage=self.usage_raw, _pricing=self.pricing_raw)


class StreamCore:
    """Bytes in, chunks out; remembers whether ``[DONE]`` came and what failed. No I/O.

    It also holds the stream's clocks (``Timeout.first_event`` and ``stream_total``, from when
    the core is made): ``deadline`` is the nearest one, or None, and a shell's stream calls
    :meth:`check_deadline` after each read while it is set, keep-alive reads included. That is
    one clock read per read, and none once the first chunk came when ``stream_total`` is off.

    What the stream keeps (text, reasoning, tool arguments: ``Accumulator.kept``) is bounded by
    ``max_kept`` (the client's ``max_response_bytes``, counted in characters): a server, or a
    small compressed body, could otherwise grow it without end while each event stays small.
    """

    __slots__ = ("_clock", "_end_by", "_first_by", "_first_event", "_max_kept", "_stream_total",
                 "acc", "deadline", "done", "error", "request_id", "sse")

    def __init__(self, request_id: str | None = None, *, first_event: float | None = None,
                 stream_total: float | None = None, max_kept: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._max_kept = max_kept
        self.sse = SSEDecoder()
        self.acc = Accumulator()
        self.done = False
        self.error: StreamError | None = None
        self.request_id = request_id
        self._clock = clock
        self._first_event = first_event
        self._stream_total = stream_total
        now = clock() if first_event is not None or stream_total is not None else 0.0
        self._first_by = None if first_event is None else now + first_event
        self._end_by = None if stream_total is None else now + stream_total
        self.deadline = self._nearest()

    def _nearest(self) -> float | None:
        return earliest(self._first_by, self._end_by)

    def check_deadline(self, got_chunk: bool) -> None:
        """After a read (while ``deadline`` is set): raises ``StreamTimeoutError``, with the
        partial answer, once the stream has run past ``first_event`` without a chunk or past
        ``stream_total``."""
        if got_chunk and self._first_by is not None:
            self._first_by = None  # the first chunk came: that clock is done
            self.deadline = self._nearest()
            if self.deadline is None:
                return
        if self.finished or self.deadline is None or self._clock() < self.deadline:
            return
        if self._first_by is not None and self._first_by <= self.deadline:
            what = (f"no chunk within first_event={self._first_event:g}s of the stream's start "
                    f"(only keep-alive comments or nothing)")
        else:
            what = f"the stream ran longer than stream_total={self._stream_total:g}s"
        self.error = self.fail(f"{what}; the answer is incomplete", timeout=True)
        raise self.error

    @property
    def finished(self) -> bool:
        return self.done or self.error is not None

    def fail(self, message: str, *, code: Any = None, status: int | None = None,
             timeout: bool = False) -> StreamError:
        cls = StreamTimeoutError if timeout else StreamError
        return cls(message, partial_text=self.acc.text_of(),
                   partial_reasoning=self.acc.reasoning_of(), code=code, status=status,
                   request_id=self.request_id)

    def feed(self, data: bytes) -> list[ChatCompletionChunk]:
        """The chunks completed by ``data``. After an error or ``[DONE]`` nothing more is taken."""
        if self.done or self.error is not None:
            return []
        try:
            events = self.sse.feed(data)
        except SSEError as e:
            self.error = self.fail(f"stream broken: {e}")
            return []
        out: list[ChatCompletionChunk] = []
        acc = self.acc
        for ev in events:
            raw = ev.data
            if raw == _DONE:
                self.done = True
                break
            try:
                try:
                    chunk = _decode_chunk(raw)
                except DECODE_ERRORS as e:
                    chunk = salvage(raw, ChatCompletionChunk, e)
            except DECODE_ERRORS as e:
                snippet = raw[:200].decode("utf-8", "replace")
                self.error = self.fail(f"malformed chunk in stream ({e}): {snippet!r}")
                break
            chunk.__dict__["_raw_json"] = raw  # for .raw and undeclared fields
            if chunk.error is not None or ev.event == "error":
                self.error = self._error_frame(chunk.error)
                break
            if acc.add(chunk):
                self.error = self._error_frame(None)
                break
            if self._max_kept is not None and acc.kept > self._max_kept:
                self.error = self.fail(f"the streamed answer is larger than max_response_bytes="
                                       f"{self._max_kept} (characters of text, reasoning and "
                                       f"tool arguments)")
                break
            out.append(chunk)
        return out

    def _error_frame(self, err: Any) -> StreamError:
        message, code, status = "the stream reported an error", None, None
        if isinstance(err, dict):
            message = str(err.get("message") or message)
            code = err.get("code")
            st = err.get("status")
            status = st if isinstance(st, int) else None
        elif isinstance(err, str):
            message = err
        return self.fail(scrub(message), code=code, status=status)

    def end_of_body(self) -> None:
        """The body ended: fine after ``[DONE]``, an error otherwise."""
        self.sse.close()
        if self.error is not None:
            raise self.error
        if not self.done:
            self.error = self.fail("the stream ended before [DONE]: the answer is incomplete")
            raise self.error

    def final(self) -> ChatCompletion:
        """The assembled answer; raises if the stream failed or was closed before ``[DONE]``."""
        if self.error is not None:
            raise self.error
        if not self.done:
            raise self.fail("the stream was closed before it finished: the answer is incomplete")
        return self.acc.completion()

    def interrupted(self, failure: TransportFailure) -> StreamError:
        """The connection failed mid-stream. Never retried: the answer had started."""
        self.error = self.fail(f"the stream was cut: {failure}", timeout=failure.timeout)
        return self.error


class _StreamBase:
    """What both stream classes share: the assembled result, and every step of reading that
    does not wait (the shells differ only in whether ``read`` and ``drain`` are awaited)."""

    def __init__(self, release: Callable[[bool], None], core: StreamCore,
                 headers: dict[str, str]) -> None:
        self._release = release
        self._core = core
        self.response_headers = headers
        self._closed = False
        self._eof = False
        self._buf: list[ChatCompletionChunk] = []
        self._pos = 0

    def _take(self, data: bytes) -> ChatCompletionChunk | None:
        """Feed what was read; the first new chunk (the rest are buffered), or None."""
        if not data:
            self._eof = True
            self._close_sync()
            self._core.end_of_body()  # raises unless [DONE] came
            return None
        core = self._core
        chunks = core.feed(data)
        if core.deadline is not None:
            core.check_deadline(bool(chunks))  # raises once first_event or stream_total passed
        if not chunks:
            return None
        self._buf, self._pos = chunks, 1
        return chunks[0]

    def _end(self) -> None:
        """The core has finished: give the connection back, and raise what failed."""
        self._close_sync()
        if self._core.error is not None:
            raise self._core.error

    def _close_sync(self) -> None:
        if not self._closed:
            self._closed = True
            self._buf, self._pos = [], 0
            self._release(self._eof)

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self._close_sync()

    # the assembled result

    @property
    def request_id(self) -> str | None:
        return self._core.request_id
    @property
    def text(self) -> str:
        return self._core.acc.text_of()

    @property
    def reasoning(self) -> str:
        return self._core.acc.reasoning_of()

    @property
    def tool_calls(self) -> list[ToolCall]:
        return self._core.acc.tool_calls_of()

    @property
    def finish_reason(self) -> str | None:
        return self._core.acc.finish_reasons.get(0)

    @property
    def usage(self) -> Usage | None:
        raw = self._core.acc.usage_raw
        return Usage(raw) if raw is not None else None

    @property
    def pricing(self) -> Pricing | None:
        raw = self._core.acc.pricing_raw
        return Pricing(raw) if raw is not None else None

    @property
    def cost(self) -> Decimal | None:
        p = self.pricing
        return p.cost if p is not None else None

    @property
    def completed(self) -> bool:
        """True once ``[DONE]`` arrived."""
        return self._core.done


class Stream(_StreamBase):
    """A streamed chat completion: iterate for chunks; then ``.text``, ``.usage``, ``.cost``...

    Use it as a context manager (``with client.chat.completions.create(..., stream=True) as
    s:``), or call ``close()``, to give the connection and its concurrency slot back early. A
    stream dropped without closing is released when it is garbage-collected (it holds no
    reference cycle, so in CPython that is at once), but a stream still bound to a name is not
    dropped: ``s = create(stream=True)`` in a loop that breaks out of ``for chunk in s`` keeps
    the previous stream's slot while the next ``create`` waits. When that thread holds every
    slot, the wait is refused with ``ConcurrencyDeadlockError``.
    """

    def __init__(self, read: Callable[[], bytes], drain: Callable[[], bool],
                 close: Callable[[bool], None], core: StreamCore,
                 headers: dict[str, str]) -> None:
        super().__init__(close, core, headers)
        self._read = read
        self._drain = drain

    def __iter__(self) -> Iterator[ChatCompletionChunk]:
        return self

    def __next__(self) -> ChatCompletionChunk:
        pos = self._pos
        if pos < len(self._buf):
            self._pos = pos + 1
            return self._buf[pos]
        core = self._core
        while not self._closed:
            try:
                if core.finished:
                    if core.error is None:  # [DONE]: briefly wait for the end, to reuse
                        self._eof = self._drain()
                    self._end()
                    break
                chunk = self._take(self._read())
            except TransportFailure as f:
                self._close_sync()
                raise core.interrupted(f) from None
            except BaseException:  # StreamError, KeyboardInterrupt, anything: give back
                self._close_sync()
                raise
            if chunk is not None:
                return chunk
        raise StopIteration

    def get_final_completion(self) -> ChatCompletion:
        """Read what is left and return the whole answer as one ``ChatCompletion``.

        Raises ``StreamError`` if the stream failed or was closed before it finished."""
        for _ in self:
            pass
        return self._core.final()

    def close(self) -> None:
        """Give the connection back (closing it if the body was not read to its end)."""
        self._close_sync()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncStream(_StreamBase):
    """The asyncio twin of :class:`Stream`: ``async for chunk in stream``.

    Use it as an async context manager (``async with await create(..., stream=True) as s``),
    or call ``await s.close()``, to give the connection back early; its concurrency slot counts
    against the task that opened it. Unmanaged, it is given back when dropped, and also when
    the task running ``async for`` over it ends by cancellation or an error while it is open:
    that task's traceback keeps the stream alive (for as long as anything holds the task), so
    garbage collection alone would keep its concurrency slot.
    """

    def __init__(self, read: Callable[[], Awaitable[bytes]],
                 drain: Callable[[], Awaitable[bool]], close: Callable[[bool], None],
                 core: StreamCore, headers: dict[str, str]) -> None:
        super().__init__(close, core, headers)
        self._read = read
        self._drain = drain
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
        task = sys.modules["asyncio"].current_task()
        if task is None or task is self._task:
            return
        self._unwatch()
        ref = weakref.ref(self)

        def on_task_done(task: asyncio.Task[Any]) -> None:
            stream = ref()
            if stream is not None and not stream._closed and _ended_badly(task):
                stream._close_sync()

        task.add_done_callback(on_task_done)
        self._task, self._on_task_done = task, on_task_done

    def _unwatch(self) -> None:
        task, callback = getattr(self, "_task", None), getattr(self, "_on_task_done", None)
        if task is not None and callback is not None:
            self._task = self._on_task_done = None
            task.remove_done_callback(callback)

    def _close_sync(self) -> None:
        try:
            super()._close_sync()
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
                        self._eof = await self._drain()
                    self._end()
                    break
                chunk = self._take(await self._read())
            except TransportFailure as f:
                self._close_sync()
                raise core.interrupted(f) from None
            except BaseException:  # StreamError, cancellation, anything: give back
                self._close_sync()
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
        self._close_sync()

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _ended_badly(task: asyncio.Task[Any]) -> bool:
    """Cancelled, or failed; read without marking the task's exception as retrieved (asyncio
    would then no longer log an exception nobody awaited)."""
    return task.cancelled() or getattr(task, "_exception", None) is not None
