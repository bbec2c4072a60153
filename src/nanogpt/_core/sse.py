"""Incremental server-sent-events decoder: bytes in, events out. No I/O.

Follows the WHATWG event-stream rules
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
LF, CR and CRLF line ends (also when a CRLF is split across two reads), comment lines, the
``event``, ``data``, ``id`` and ``retry`` fields, several ``data`` lines joined with ``\\n``, no
event for empty data, a leading byte-order mark ignored, and an unterminated event at the end of
the body discarded.

Data stays ``bytes``: the JSON decoder takes bytes directly, which saves a UTF-8 decode and a copy
per chunk on the hot path. Feeding is linear in the bytes received, however a line is split
across reads (a long line grows in a ``bytearray`` and is put together once when it ends).
"""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_LINE", "SSEDecoder", "SSEError", "ServerSentEvent"]

DEFAULT_MAX_LINE = 16 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"
_MAX_RETRY_DIGITS = 30  # a reconnection time beyond any use; a longer one is ignored
_join = b"".join


class SSEError(ValueError):
    """The event stream broke a limit (a line or an event larger than allowed)."""


class ServerSentEvent:
    """One dispatched event."""

    __slots__ = ("data", "event", "id", "retry")

    def __init__(self, data: bytes, event: str = "message", id: str | None = None,
                 retry: int | None = None) -> None:
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry

    def __repr__(self) -> str:
        return f"ServerSentEvent(data={self.data!r}, event={self.event!r}, id={self.id!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerSentEvent):
            return NotImplemented
        return (self.data, self.event, self.id, self.retry) == (
            other.data, other.event, other.id, other.retry)

    __hash__ = None  # type: ignore[assignment]


class SSEDecoder:
    """Feed it bytes as they arrive; it returns the events completed so far.

    Work is linear in the bytes received. An unfinished line is kept as its first piece
    (``_buf``) plus, when it runs on over more reads, a ``bytearray`` the later pieces are
    appended to (``_more``: amortised O(1) per byte, and no object per piece however small the
    reads); only new bytes are scanned for a line end, and the line is put together once, when
    it ends. The common cases (a read holding whole frames, or a frame split over two reads)
    cost what a plain ``split`` costs.
    """

    __slots__ = ("_buf", "_data", "_data_counted", "_data_size", "_event", "_first",
                 "_max_line", "_more", "_skip_lf", "last_event_id", "retry")

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        self._buf = b""  # the first piece of an unfinished line
        self._more: bytearray | None = None  # its later pieces, when it spans 3+ reads
        self._data: list[bytes] = []
        self._data_counted = 0  # how many of ``_data`` are in ``_data_size``
        self._data_size = 0
        self._event: str | None = None
        self._first = True
        self._skip_lf = False  # the previous read ended in CR: a leading LF belongs to it
        self._max_line = max_line
        self.last_event_id: str | None = None
        self.retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == 10:
                chunk = chunk[1:]
                if not chunk:
                    return []
        if self._first:
            chunk = self._strip_bom(chunk)
            if not chunk:
                return []
        buf = self._buf
        if buf:
            more = self._more
            if 10 not in chunk and 13 not in chunk:  # no LF, no CR (int tests: fastest)
                self._add_piece(chunk)  # the line goes on: only the new bytes were scanned
                return []
            # the line ended: it is put together once
            if more is None:
                chunk = buf + chunk
            else:
                chunk = _join((buf, more, chunk))
                self._more = None
        if 13 in chunk:  # a CR
            if chunk[-1] == 13:
                self._skip_lf = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = chunk.split(b"\n")
        self._buf = rest = lines.pop()
        if len(rest) > self._max_line:
            raise SSEError(f"event-stream line longer than {self._max_line} bytes")
        events: list[ServerSentEvent] = []
        data = start = self._data
        for line in lines:
            if not line:
                if data:
                    ev = ServerSentEvent(data[0] if len(data) == 1 else b"\n".join(data),
                                         self._event or "message", self.last_event_id,
                                         self.retry)
                    events.append(ev)
                    data = self._data = []
                self._event = None
            elif line.startswith(b"data:"):
                value = line[5:]
                if value[:1] == b" ":
                    value = value[1:]
                data.append(value)
            elif line[0] != 58:  # not a ":" comment
                self._field(line)
        if data:
            self._check_event_size(new_event=data is not start)
        return events

    def _strip_bom(self, chunk: bytes) -> bytes:
        """At the very start: drop a byte-order mark, also one split across reads."""
        if self._buf:  # at most two bytes of a BOM so far
            chunk = self._buf + chunk
            self._buf = b""
        if len(chunk) < 3 and _BOM.startswith(chunk):
            self._buf = chunk
            return b""
        self._first = False
        return chunk[3:] if chunk.startswith(_BOM) else chunk

    def _add_piece(self, piece: bytes) -> None:
        """One more piece of a line that goes on: appended, never re-copied."""
        more = self._more
        if more is None:
            self._more = more = bytearray(piece)
        else:
            more.extend(piece)  # a buffer copy; no operator dispatch on the piece's type
        if len(self._buf) + len(more) > self._max_line:
            raise SSEError(f"event-stream line longer than {self._max_line} bytes")

    def _check_event_size(self, *, new_event: bool) -> None:
        """Count the data lines added since the last look (never re-count: an event of many
        short lines, fed a line at a time, stays linear)."""
        data = self._data
        if new_event:
            self._data_counted = self._data_size = 0
        size = self._data_size
        for i in range(self._data_counted, len(data)):
            size += len(data[i])
        self._data_size = size
        self._data_counted = len(data)
        if size > self._max_line:
            raise SSEError(f"event-stream event larger than {self._max_line} bytes")

    def _field(self, line: bytes) -> None:
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"data":  # "data" with no colon: an empty data line
            self._data.append(value)
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id":
            if b"\x00" not in value:
                self.last_event_id = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit() and len(value) <= _MAX_RETRY_DIGITS:
            self.retry = int(value)  # more digits: ignored (int() refuses 4301 and up)
        # any other field is ignored, as the rules say

    def close(self) -> None:
        """End of body: an event without its blank line is discarded."""
        self._buf = b""
        self._more = None
        self._data = []
        self._data_counted = self._data_size = 0
        self._event = None
