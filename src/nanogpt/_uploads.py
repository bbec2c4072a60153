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
    mode. With a ``limit``, at most ``limit + 1`` bytes are read: enough for the core to refuse
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
    data = read(size)
    if not isinstance(data, (bytes, bytearray)):
        raise InvalidParameterError(param, "must be opened in binary mode (open(path, 'rb'))")
    name = os.path.basename(str(getattr(value, "name", "") or ""))
    return bytes(data), name or default_name
