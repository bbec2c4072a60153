"""Faults: what to do wrong with a request, how they are queued, and what a client may ask for.

A fault comes either from Python (``emu.inject(Fault(...))``, trusted: any value goes) or from
the client itself in an ``X-Emulator-Fault`` header holding the fault as JSON. Any local process
can send that header, so header faults are checked against ``LIMITS`` (delays, counts, sizes)
and a request asking for more is answered 400 instead of freezing or exhausting the emulator.
The same goes for the ``X-Emulator-Tokens`` header (``MAX_FORCED_TOKENS``).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["FAULT_HEADER", "LIMITS", "MAX_FORCED_TOKENS", "TOKENS_HEADER", "Fault",
           "FaultError", "FaultQueue", "forced_tokens"]

FAULT_HEADER = "X-Emulator-Fault"
TOKENS_HEADER = "X-Emulator-Tokens"
MAX_FORCED_TOKENS = 100_000  # the most tokens X-Emulator-Tokens may ask for
MAX_SECONDS = 300.0  # the longest delay, stall or hold a header fault may ask for
MAX_COUNT = 100_000  # the largest frame index a header fault may name

# field -> (smallest, largest) for numbers a header fault may carry
LIMITS: dict[str, tuple[float, float]] = {
    "status": (100, 599), "redirect_status": (300, 399),
    "retry_after_ms": (0, MAX_SECONDS * 1000),
    "delay": (0, MAX_SECONDS), "stall": (0, MAX_SECONDS), "hold_after_done": (0, MAX_SECONDS),
    "trickle": (0, 1.0),
    **{name: (0, MAX_COUNT) for name in (
        "reset_after_chunks", "cut_after_chunks", "stall_after_chunks", "error_frame_after",
        "garbage_after", "raw_frame_after")},
}


class FaultError(ValueError):
    """A fault header a client sent is malformed or asks for more than the limits allow."""


@dataclass(kw_only=True)
class Fault:
    """What to do wrong with a request. Leave a field at its default to behave normally.

    The fields come in groups, each acting at one moment of the exchange: an error answer
    instead of the real one; before the answer (delay, silence, reset, redirect); a broken
    whole body; mid-stream, before frame N; and stream quirks, the things seen in the wild
    that the documented format lacks (see ``_framing``). Keyword arguments only.
    """

    # an error answer instead of the real one
    status: int | None = None  # answer with this status and an error body
    retry_after: float | str | None = None  # Retry-After header (seconds or an HTTP date)
    retry_after_ms: int | None = None  # retry-after-ms header
    error_shape: str = "openai"  # openai | legacy | flat | anthropic | text
    code: str | None = None  # error code in the body
    message: str | None = None  # error message in the body
    body: str | None = None  # answer with exactly this body (status `status` or 200)
    # before the answer
    delay: float = 0.0  # seconds to wait before answering (normally or with the fault)
    stall: float | None = None  # go silent this long before any answer byte
    reset: bool = False  # reset the connection before any answer byte
    redirect_to: str | None = None  # answer with a redirect to this URL
    redirect_status: int = 307
    # a broken whole body
    non_json: bool = False  # 200 with a body that is not JSON (non-streaming)
    trickle: float | None = None  # send a whole-body answer 16 bytes at a time, this apart
    # mid-stream, before frame N (reset_after_chunks also cuts a whole body half-way)
    reset_after_chunks: int | None = None  # stream N frames, then reset the connection (RST)
    cut_after_chunks: int | None = None  # stream N frames, then close the connection (FIN)
    stall_after_chunks: int | None = None  # stream N frames, then go silent for `stall` (or 60s)
    error_frame_after: int | None = None  # stream N frames, then an error frame and [DONE]
    garbage_after: int | None = None  # stream N frames, then a frame that is not JSON
    raw_frame_after: int | None = None  # stream N frames, then the bytes of `raw_frame`
    raw_frame: str | bytes = ""
    no_done: bool = False  # end the stream body without [DONE]
    hold_after_done: float | None = None  # keep the body open this long after [DONE]
    # (sending a ": keep-alive" comment every 0.1 s meanwhile)
    # stream quirks (see _framing)
    crlf: bool = False  # end stream lines with CRLF (same as line_end="\r\n")
    line_end: str | None = None  # "\n", "\r\n" or "\r"
    keep_alive: bool = False  # a ": keep-alive" comment before the first frame
    retry_line: bool = False  # a "retry: 3000" line up front
    usage_chunk: bool = False  # usage and pricing on an extra last chunk with no choices
    event_ids: bool = False  # "id:" and "event: message" lines on every frame

    @classmethod
    def from_json(cls, text: str) -> Fault:
        """A fault from JSON, unchecked (unknown keys are ignored)."""
        data = json.loads(text)
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def from_header(cls, text: str) -> Fault:
        """A fault a client asked for: checked, so that no request can freeze the emulator."""
        try:
            data = json.loads(text)
        except ValueError:
            raise FaultError(f"{FAULT_HEADER} must hold a JSON object") from None
        if not isinstance(data, dict):
            raise FaultError(f"{FAULT_HEADER} must hold a JSON object")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in data.items() if k in fields}
        for name, value in kept.items():
            _check_field(name, value)
        return cls(**kept)


_HEADER_VALUES = {"redirect_to"}  # string fields the answer sends as a header
_INTEGERS = {"status", "redirect_status", "retry_after_ms", "reset_after_chunks",
             "cut_after_chunks", "stall_after_chunks", "error_frame_after", "garbage_after",
             "raw_frame_after"}
_FLAGS = {"reset", "non_json", "no_done", "crlf", "keep_alive", "retry_line", "usage_chunk",
          "event_ids"}


def _check_field(name: str, value: Any) -> None:
    if value is None:
        return
    if name in LIMITS:
        lo, hi = LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not lo <= value <= hi:
            raise FaultError(f"{FAULT_HEADER}: {name} must be a number from {lo:g} to {hi:g}")
        if name in _INTEGERS and not float(value).is_integer():
            raise FaultError(f"{FAULT_HEADER}: {name} must be a whole number")
    elif name == "retry_after":
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            raise FaultError(f"{FAULT_HEADER}: retry_after must be a number or a string")
        _check_header_value(name, value)
    elif name == "line_end":
        if value not in ("\n", "\r\n", "\r"):
            raise FaultError(f"{FAULT_HEADER}: line_end must be one of \"\\n\", \"\\r\\n\", "
                             "\"\\r\"")
    elif name in _FLAGS:
        if not isinstance(value, bool):
            raise FaultError(f"{FAULT_HEADER}: {name} must be true or false")
    elif not isinstance(value, str):
        raise FaultError(f"{FAULT_HEADER}: {name} must be a string")
    elif name in _HEADER_VALUES:
        _check_header_value(name, value)


def _check_header_value(name: str, value: object) -> None:
    """A value the answer sends as a header: no control characters (aiohttp refuses them
    only when the answer is sent, and the client would get no answer at all)."""
    if isinstance(value, str) and any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise FaultError(f"{FAULT_HEADER}: {name} must not hold control characters")


def forced_tokens(header: str | None) -> int | None:
    """The answer length an ``X-Emulator-Tokens`` header asks for, checked."""
    if header is None or not header.strip():
        return None
    try:
        n = int(header)
    except ValueError:
        n = -1
    if not 0 <= n <= MAX_FORCED_TOKENS:
        raise FaultError(f"{TOKENS_HEADER} must be an integer from 0 to {MAX_FORCED_TOKENS}")
    return n


@dataclass
class _Rule:
    fault: Fault
    remaining: int | None
    path: str | None
    stream: bool | None  # True: streamed chat requests only; False: whole-body ones only

    def matches(self, path_qs: str, stream: bool | None) -> bool:
        if self.path is not None and self.path not in path_qs:
            return False
        return self.stream is None or self.stream is stream


class FaultQueue:
    """Faults queued from Python, matched in order against each request's path."""

    def __init__(self) -> None:
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault, times: int | None, path: str | None,
            stream: bool | None = None) -> None:
        with self._lock:
            self._rules.append(_Rule(fault, times, path, stream))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, path_qs: str, stream: bool | None) -> Fault | None:
        """The fault for a request (``stream``: None when it is not a chat request)."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(path_qs, stream):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self._rules.remove(rule)
                    return rule.fault
        return None
