"""``multipart/form-data`` bodies, built in memory (sans-I/O): the file upload of the Batch API.

One body is built once and sent as bytes by either shell, so a retried upload sends the very
same bytes. The boundary is random and checked not to occur in the content.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

__all__ = ["form_data"]


def _quoted(value: str) -> str:
    """A header parameter value: quotes and line breaks cannot end it early, and a file name
    that is not valid UTF-8 (undecodable bytes of a path, kept by Python as lone surrogates)
    has them as ``?`` rather than failing to encode."""
    value = value.encode("utf-8", "replace").decode("utf-8")
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")


def form_data(fields: Mapping[str, str], files: Mapping[str, tuple[str, bytes, str]]
              ) -> tuple[bytes, str]:
    """The body and its ``Content-Type`` for text ``fields`` and ``files``
    (name -> (filename, content, media type))."""
    content = b"".join(data for _, data, _ in files.values()) + \
        "".join(fields.values()).encode()
    boundary = "nanogpt-" + secrets.token_hex(16)
    while boundary.encode() in content:  # pragma: no cover - 128 random bits
        boundary = "nanogpt-" + secrets.token_hex(16)
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"'
                     f"\r\n\r\n".encode() + value.encode() + b"\r\n")
    for name, (filename, data, media_type) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"; '
                     f'filename="{_quoted(filename)}"\r\nContent-Type: {media_type}\r\n\r\n'
                     .encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
