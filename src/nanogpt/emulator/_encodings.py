"""Compressed request bodies, as NanoGPT takes them: decoded within a size bound, or refused.

NanoGPT accepts ``Content-Encoding`` gzip (``x-gzip``), deflate (zlib-wrapped or raw) and br on
its chat endpoints, for JSON bodies, with the same size limit on the coded and the decoded body;
anything else is a 415 (docs/nanogpt-api.md, "Compressed request bodies"). The emulator decodes
gzip and deflate (``Emulator.request_encodings``, which a test may empty to have every coded
body refused with 415, as a server or proxy that takes no compressed bodies does); br needs a
library the emulator does not carry, so it is refused like an unknown coding.

aiohttp's own decoding of request bodies is off (``auto_decompress=False``): the pipeline reads
the coded bytes (bounded by ``max_body_bytes`` as any body), then this module decodes them with
``_core.decompress.BoundedDecoder``, which never yields more than asked for, so a gzip bomb costs
at most ``max_body_bytes`` of memory before its 413.
"""

from __future__ import annotations

from collections.abc import Collection

from .._core.decompress import BoundedDecoder, UndecodableBody

__all__ = ["CHAT_PATHS", "DEFAULT_ENCODINGS", "RefusedBody", "decoded_body"]

DEFAULT_ENCODINGS = frozenset({"gzip", "x-gzip", "deflate"})
# the endpoints that take coded bodies (the documented ones the emulator serves)
CHAT_PATHS = ("/chat/completions",)


class RefusedBody(Exception):
    """The coded body is refused: ``status``, ``message`` and ``code`` for the error answer."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def codings(header: str | None) -> list[str]:
    """The codings of a ``Content-Encoding`` value, in the order they were applied, without
    ``identity``."""
    if header is None:
        return []
    return [c for c in (part.strip().lower() for part in header.split(",")) if
            c not in ("", "identity")]


def decoded_body(raw: bytes, header: str | None, *, path: str, content_type: str,
                 has_key: bool, accepted: Collection[str], limit: int) -> bytes:
    """``raw`` with its codings undone (the last applied is undone first); raises
    :class:`RefusedBody` for a coding not accepted, a coded body on another endpoint, not
    JSON or without a key (NanoGPT decodes only authenticated requests), a body over
    ``limit`` once decoded, or broken coded bytes."""
    applied = codings(header)
    if not applied:
        return raw
    unknown = [c for c in applied if c not in accepted]
    if unknown:
        raise RefusedBody(415, f"Unsupported Content-Encoding: {unknown[0][:40]}",
                          "unsupported_content_encoding")
    if not path.endswith(CHAT_PATHS):
        raise RefusedBody(415, "Compressed request bodies are accepted on the chat endpoints "
                               "only", "unsupported_content_encoding")
    if "json" not in content_type.lower():
        raise RefusedBody(415, "A compressed body must be JSON (Content-Type)",
                          "unsupported_media_type")
    if not has_key:
        raise RefusedBody(401, "A compressed body needs an API key", "authentication_error")
    for coding in reversed(applied):
        raw = _decode(raw, coding, limit)
    return raw


def _decode(raw: bytes, coding: str, limit: int) -> bytes:
    decoder = BoundedDecoder("deflate" if coding == "deflate" else "gzip")
    decoder.feed(raw)
    parts: list[bytes] = []
    room = limit + 1  # one byte more than allowed tells "too large" from "just fits"
    try:
        while room > 0:
            piece = decoder.read(room)
            if not piece:
                break
            parts.append(piece)
            room -= len(piece)
        if room <= 0:
            raise RefusedBody(413, f"Request body is larger than {limit} bytes once decoded",
                              "payload_too_large")
        decoder.finish()
    except UndecodableBody as e:
        raise RefusedBody(400, f"Could not decode the request body: {e}",
                          "invalid_content_encoding") from None
    return b"".join(parts)
