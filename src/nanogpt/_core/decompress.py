"""Undoing a ``Content-Encoding`` without trusting its size: bytes in, at most N bytes out. No I/O.

A 400 KiB gzip body can expand to 400 MiB, so a size limit checked after decompressing is no
limit at all. :class:`BoundedDecoder` never produces more than its caller asks for: input it
could not decode yet stays in zlib's ``unconsumed_tail`` (never more than was fed), and the
caller reads on only while it still has room. Memory stays within the caller's limit plus one
network read, whatever the ratio.

The clients ask for ``Accept-Encoding: identity`` (NanoGPT answers are small JSON; compressing
them saves nothing measurable), so a coded body only comes from a server or proxy that ignores
that, or from a caller who asked for gzip in ``extra_headers``. ``gzip`` and ``deflate`` are
decoded; any other coding (``br``, ``zstd``, ...) is refused with :class:`UndecodableBody`.
"""

from __future__ import annotations

import zlib

__all__ = ["BoundedDecoder", "UndecodableBody", "decoder_for"]

_GZIP = 16 + zlib.MAX_WBITS
_ZLIB = zlib.MAX_WBITS
_RAW_DEFLATE = -zlib.MAX_WBITS


class UndecodableBody(ValueError):
    """The body's content coding is unknown, or its coded bytes are broken or cut short."""


def decoder_for(content_encoding: str | None) -> BoundedDecoder | None:
    """The decoder for a ``Content-Encoding`` header value; ``None`` when the body is not
    coded. Raises :class:`UndecodableBody` for a coding this package does not decode."""
    if content_encoding is None:
        return None
    coding = content_encoding.strip().lower()
    if coding in ("", "identity"):
        return None
    if coding in ("gzip", "x-gzip"):
        return BoundedDecoder("gzip")
    if coding == "deflate":
        return BoundedDecoder("deflate")
    raise UndecodableBody(f"the server sent a body in a content coding this client does not "
                          f"decode ({content_encoding[:40]!r}); it asks for identity")


class BoundedDecoder:
    """Decodes one gzip or deflate body in pieces: ``feed`` what arrived, then ``read(n)`` at
    most ``n`` decoded bytes (``b""``: feed more); ``finish`` when the body ended."""

    __slots__ = ("_coding", "_pending", "_z")

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._z: zlib._Decompress | None = (
            zlib.decompressobj(_GZIP) if coding == "gzip" else None)  # deflate: on 2 bytes
        self._pending = b""

    def feed(self, data: bytes) -> None:
        self._pending = self._pending + data if self._pending else data

    def read(self, n: int) -> bytes:
        """Up to ``n`` decoded bytes from what was fed (``n`` must be positive)."""
        out: list[bytes] = []
        room = n
        while room > 0 and self._pending:
            z = self._z or self._start_deflate()
            if z is None:
                break  # one byte of a deflate body: not enough to tell its framing
            try:
                piece = z.decompress(self._pending, room)
            except zlib.error as e:
                raise UndecodableBody(f"the body's {self._coding} coding is broken: {e}") \
                    from None
            self._pending = z.unconsumed_tail
            if z.eof:
                self._after_member(z.unused_data)
            if piece:
                out.append(piece)
                room -= len(piece)
        return b"".join(out)

    def finish(self) -> None:
        """The body ended: raises unless the coded data ended properly too."""
        z = self._z
        if self._pending or z is None or not z.eof:
            raise UndecodableBody(f"the body's {self._coding} coding was cut short")

    def _start_deflate(self) -> zlib._Decompress | None:
        """HTTP ``deflate`` should be zlib-wrapped, but some servers send it raw: tell them
        apart by the zlib header (RFC 1950: method 8, header a multiple of 31)."""
        head = self._pending[:2]
        if len(head) < 2:
            return None
        wrapped = head[0] & 0x0F == 8 and int.from_bytes(head, "big") % 31 == 0
        self._z = zlib.decompressobj(_ZLIB if wrapped else _RAW_DEFLATE)
        return self._z

    def _after_member(self, rest: bytes) -> None:
        """One gzip member (or the deflate stream) ended; a gzip body may hold several, and
        zero bytes of padding after a member (read past, as gzip(1) and Python's gzip do)."""
        if self._coding == "gzip":
            rest = rest.lstrip(b"\0")  # what follows the member, all of it so far
        if rest and self._coding == "gzip":
            self._z = zlib.decompressobj(_GZIP)
            self._pending = rest
        elif rest.strip(b"\0\r\n\t "):
            raise UndecodableBody(f"the body has data after the end of its {self._coding} "
                                  f"stream")
        else:
            self._pending = b""
