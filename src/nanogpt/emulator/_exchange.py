"""What every handler and fault shares about one exchange: the keys the pipeline leaves on a
request, and the means to break a connection on purpose.
"""

from __future__ import annotations

import contextlib
import socket
import struct

from aiohttp import web

__all__ = ["Aborted", "RequestKeys", "reset_connection"]


class RequestKeys:
    """What the pipeline (``_pipeline``) leaves on each request for the handlers."""

    rid = web.RequestKey("rid", str)  # the X-Request-ID of the answer
    json = web.RequestKey("json", object)  # the body, parsed (or its bytes when not JSON)
    fault = web.RequestKey("fault", object)  # the Fault this request gets, or None
    record = web.RequestKey("record", object)  # its RecordedRequest


class Aborted(Exception):
    """Raised inside a handler after the connection was reset or closed on purpose."""


def reset_connection(request: web.Request) -> None:
    """Close the connection with a TCP reset (SO_LINGER 0), like a dying proxy."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
