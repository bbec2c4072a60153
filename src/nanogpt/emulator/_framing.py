"""How a stream is written on the wire: NanoGPT's documented format, or its quirks.

The documented stream (``streaming-protocol.mdx`` in NanoGPT's docs) is ``data:`` frames, each
ended by a blank line, then ``data: [DONE]``; usage (with ``stream_options.include_usage``) and
``x_nanogpt_pricing`` ride on the final chunk, the one with ``finish_reason``. That is the
default, and what third-party clients (``openai``, LangChain, ``llm``, litellm) parse.

Streams seen in the wild add things a robust client must survive. Each is a ``Fault`` flag
(per request, from Python or the fault header; declared in ``Quirks`` below) and
``Emulator(quirks=True)`` turns on the ones the service has been seen to send:

=================  ==========================================================  ===========
flag               what it adds                                                quirks=True
=================  ==========================================================  ===========
``keep_alive``     a ``: keep-alive`` comment before the first frame           yes
``retry_line``     a ``retry: 3000`` line (an event with no data) up front     yes
``usage_chunk``    usage and pricing on an extra last chunk with no choices    yes
``event_ids``      ``id: N`` and ``event: message`` lines on every frame       yes
``line_end``       ``"\\r\\n"`` or ``"\\r"`` line ends (``crlf=True``: CRLF)    no
=================  ==========================================================  ===========
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ._fields import choice, flag

__all__ = ["Framing", "Quirks"]

_LINE_ENDS = {"\n": b"\n", "\r\n": b"\r\n", "\r": b"\r"}


@dataclass(frozen=True)
class Quirks:
    """The stream quirks a fault asks for (the ``Fault`` fields of that name)."""

    crlf: bool = flag()  # end stream lines with CRLF (same as line_end="\r\n")
    line_end: str | None = choice("\n", "\r\n", "\r")  # "\n", "\r\n" or "\r"
    keep_alive: bool = flag()  # a ": keep-alive" comment before the first frame
    retry_line: bool = flag()  # a "retry: 3000" line up front
    usage_chunk: bool = flag()  # usage and pricing on an extra last chunk with no choices
    event_ids: bool = flag()  # "id:" and "event: message" lines on every frame


@dataclass(frozen=True)
class Framing:
    """The wire format of one stream."""

    eol: bytes = b"\n"
    keep_alive: bool = False
    retry_line: bool = False
    usage_chunk: bool = False
    event_ids: bool = False

    @classmethod
    def of(cls, asked: Quirks, quirks: bool) -> Framing:
        """The format for a request: the server's default (all the quirks seen in the wild
        with ``quirks``), plus what its fault asks for."""
        eol = _LINE_ENDS.get(asked.line_end or ("\r\n" if asked.crlf else "\n"), b"\n")
        return cls(eol, quirks or asked.keep_alive, quirks or asked.retry_line,
                   quirks or asked.usage_chunk, quirks or asked.event_ids)

    def preamble(self) -> bytes:
        out = b""
        if self.keep_alive:
            out += b": keep-alive" + self.eol + self.eol
        if self.retry_line:
            out += b"retry: 3000" + self.eol + self.eol
        return out

    def comment(self) -> bytes:
        return b": keep-alive" + self.eol + self.eol

    def data(self, payload: bytes, n: int) -> bytes:
        head = b""
        if self.event_ids:
            head = b"id: " + str(n).encode() + self.eol + b"event: message" + self.eol
        return head + b"data: " + payload + self.eol + self.eol

    def chunk(self, obj: dict[str, Any], n: int) -> bytes:
        return self.data(json.dumps(obj, separators=(",", ":")).encode(), n)

    def done(self) -> bytes:
        return b"data: [DONE]" + self.eol + self.eol
