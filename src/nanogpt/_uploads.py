"""Reading a file the caller hands to an upload (a batch input file, audio to transcribe, an
image to edit): its bytes, a path, or an open binary file, all read the same way.

This is shell-side (it reads the caller's disk; the async client runs it in a worker thread):
the checks of what was read (size, format) stay in the capability's core module.
"""

from __future__ import annotations

import os
from typing import Any

from ._core.errors import InvalidParameterError

__all__ = ["read_upload"]


def read_upload(param: str, value: Any, *, limit: int | None = None,
                default_name: str) -> tuple[bytes, str]:
    """The bytes of ``value`` and the file name to send them under.

    ``value`` is bytes (or a bytearray/memoryview), a path, or a file object opened in binary
    mode (read to its end, or to the limit, however many pieces it hands them over in). With
    a ``limit``, at most ``limit + 1`` bytes are read: enough for the core to refuse
    a file that is too large without reading it whole. A missing path raises Python's own
    ``FileNotFoundError``; anything else that is not a file is ``InvalidParameterError(param)``.
    """
    size = -1 if limit is None else limit + 1
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value), default_name
    if isinstance(value, (str, os.PathLike)):
        with open(value, "rb") as f:
            return f.read(size), os.path.basename(os.fspath(value)) or default_name
    read = getattr(value, "read", None)
    if not callable(read):
        raise InvalidParameterError(param, "must be a path, bytes or a binary file object")
    name = getattr(value, "name", None)
    name = os.path.basename(name) if isinstance(name, str) else ""  # not a descriptor number
    return _read_to_end(param, read, size), name or default_name


def _read_to_end(param: str, read: Any, size: int) -> bytes:
    """Up to ``size`` bytes (all with -1) from ``read``, until it hands over nothing: an
    unbuffered file (a raw pipe, a socket file) hands over only what it holds at each call,
    and its first piece is not the whole file."""
    pieces: list[bytes] = []
    got = 0
    while size < 0 or got < size:
        piece = read(-1 if size < 0 else size - got)
        if not isinstance(piece, (bytes, bytearray)):
            raise InvalidParameterError(param, "must be opened in binary mode (open(path, 'rb'))")
        if not piece:
            break
        pieces.append(bytes(piece))
        got += len(piece)
    return b"".join(pieces)
