"""Streams without I/O: ``StreamCore`` turns bytes into typed chunks, ``Accumulator`` joins them
into the whole answer, and ``StreamBase`` is what the two shells' stream objects share
(``nanogpt._sync.stream.Stream``, ``nanogpt._async.stream.AsyncStream``): the assembled result,
and every step of reading that does not wait. The waiting (``read``, ``drain``) is the shells';
the body they read is a :class:`~nanogpt._core.transport.StreamBody`.

Per chunk the hot path is: split lines (``sse``), one msgspec decode straight into
``ChatCompletionChunk``, a few appends in the accumulator. No dicts are rebuilt.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .deadlines import StreamClocks
from .errors import StreamError, StreamTimeoutError
from .redact import scrub
from .sse import SSEDecoder, SSEError
from .transport import TransportFailure
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
    decoder,
)

__all__ = ["Accumulator", "StreamBase", "StreamCore", "tool_call_slot"]

_decode_chunk = decoder(ChatCompletionChunk)
_DONE = b"[DONE]"


class _ToolCallParts:
    __slots__ = ("args", "id", "index", "name", "type")

    def __init__(self, index: int) -> None:
        self.index = index
        self.id: str | None = None
        self.type: str | None = None
        self.name: str | None = None
        self.args: list[str] = []


def tool_call_slot(call: ToolCall, position: int) -> int:
    """Which tool call of its choice a streamed tool-call delta continues: its ``index``, or,
    from a server that leaves the index out, its place in the delta's list."""
    return call.index if call.index is not None else position


class Accumulator:
    """Joins chunks into the whole answer: text, reasoning, refusal and tool calls per choice.
    ``kept`` counts the characters it holds (what a stream's memory grows with)."""

    __slots__ = ("_reasoning", "_refusal", "_text", "_tools", "created", "finish_reasons", "id",
                 "kept", "model", "pricing_raw", "usage_raw")

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.created: int | float = 0
        self._text: dict[int, list[str]] = {}
        self._reasoning: dict[int, list[str]] = {}
        self._refusal: dict[int, list[str]] = {}
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
            if d.refusal:
                self.kept += len(d.refusal)
                self._refusal.setdefault(c.index, []).append(d.refusal)
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
            i = tool_call_slot(tc, pos)
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
                         | set(self._refusal) | set(self.finish_reasons)) or [0]
        choices = [
            Choice(index=i, finish_reason=self.finish_reasons.get(i),
                   message=Message(content=self.text_of(i) if i in self._text else None,
                                   reasoning=self.reasoning_of(i) or None,
                                   refusal="".join(self._refusal.get(i, ())) or None,
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

    __slots__ = ("_clock", "_clocks", "_first_event", "_max_kept", "_stream_total", "acc",
                 "deadline", "done", "error", "request_id", "sse")

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
        timed = first_event is not None or stream_total is not None
        self._clocks = StreamClocks(first_event, stream_total, clock() if timed else 0.0)
        self.deadline = self._clocks.deadline

    def check_deadline(self, got_chunk: bool) -> None:
        """After a read (while ``deadline`` is set): raises ``StreamTimeoutError``, with the
        partial answer, once the stream has run past ``first_event`` without a chunk or past
        ``stream_total``."""
        clocks = self._clocks
        if got_chunk and clocks.first_by is not None:
            clocks.first_chunk_came()
            self.deadline = clocks.deadline
            if self.deadline is None:
                return
        if self.finished or self.deadline is None:
            return
        expired = clocks.expired(self._clock())
        if expired is None:
            return
        if expired == "first_event":
            what = (f"no chunk within first_event={self._first_event:g}s of the stream's start "
                    f"(only keep-alive comments or nothing)")
        else:
            what = f"the stream ran longer than stream_total={self._stream_total:g}s"
        self.error = self.stream_error(f"{what}; the answer is incomplete", timeout=True)
        raise self.error

    @property
    def finished(self) -> bool:
        return self.done or self.error is not None

    def stream_error(self, message: str, *, code: Any = None, status: int | None = None,
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
            self.error = self.stream_error(f"stream broken: {e}")
            return []
        out: list[ChatCompletionChunk] = []
        acc = self.acc
        for ev in events:
            raw = ev.data
            if raw == _DONE:
                self.done = True
                break
            try:
                chunk = _decode_chunk(raw)
            except DECODE_ERRORS as e:
                snippet = raw[:200].decode("utf-8", "replace")
                self.error = self.stream_error(f"malformed chunk in stream ({e}): {snippet!r}")
                break
            chunk.__dict__["_raw_json"] = raw  # for .raw and undeclared fields
            if chunk.error is not None or ev.event == "error":
                self.error = self._error_frame(chunk.error)
                break
            if acc.add(chunk):
                self.error = self._error_frame(None)
                break
            if self._max_kept is not None and acc.kept > self._max_kept:
                self.error = self.stream_error(
                    f"the streamed answer is larger than max_response_bytes={self._max_kept} "
                    f"(characters of text, reasoning and tool arguments)")
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
        return self.stream_error(scrub(message), code=code, status=status)

    def end_of_body(self) -> None:
        """The body ended: fine after ``[DONE]``, an error otherwise."""
        self.sse.close()
        if self.error is not None:
            raise self.error
        if not self.done:
            self.error = self.stream_error(
                "the stream ended before [DONE]: the answer is incomplete")
            raise self.error

    def final(self) -> ChatCompletion:
        """The assembled answer; raises if the stream failed or was closed before ``[DONE]``."""
        if self.error is not None:
            raise self.error
        if not self.done:
            raise self.stream_error(
                "the stream was closed before it finished: the answer is incomplete")
        completion = self.acc.completion()
        completion.__dict__["_request_id"] = self.request_id  # see KeepsRaw.request_id
        return completion

    def interrupted(self, failure: TransportFailure) -> StreamError:
        """The connection failed mid-stream. Never retried: the answer had started."""
        self.error = self.stream_error(f"the stream was cut: {failure}", timeout=failure.timeout)
        return self.error


class StreamBase:
    """What both shells' stream objects share: the assembled result, and every step of reading
    that does not wait (the shells differ only in whether ``read`` and ``drain`` are awaited).

    ``_release`` is the body's :meth:`~nanogpt._core.transport.StreamBody.release`; it is
    called once, by :meth:`_give_back`, with ``_reusable``: True once the body was read to its
    end (the connection may then serve another request).
    """

    def __init__(self, release: Callable[[bool], None], core: StreamCore,
                 headers: dict[str, str]) -> None:
        self._release = release
        self._core = core
        self.response_headers = headers
        self._closed = False
        self._reusable = False
        self._buf: list[ChatCompletionChunk] = []
        self._pos = 0

    def _take(self, data: bytes) -> ChatCompletionChunk | None:
        """Feed what was read; the first new chunk (the rest are buffered), or None."""
        if not data:
            self._reusable = True  # the body was read to its end
            self._give_back()
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
        self._give_back()
        if self._core.error is not None:
            raise self._core.error

    def _give_back(self) -> None:
        """Release the connection and the concurrency slot, once; does not wait."""
        if not self._closed:
            self._closed = True
            self._buf, self._pos = [], 0
            self._release(self._reusable)

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self._give_back()

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
