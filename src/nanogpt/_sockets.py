"""Socket checks both shells make (each on its own sockets): has the peer sent something?

A pooled connection on which bytes (or the end) arrived while it sat idle carries an answer
nobody asked for; both clients ask :func:`readable` before reusing one, and close it if so.
"""

from __future__ import annotations

import select
import socket

__all__ = ["readable"]


def readable(sock: socket.socket) -> bool:
    """Bytes (or the end, or an error) wait on ``sock`` now."""
    try:
        if hasattr(select, "poll"):  # no FD_SETSIZE limit
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])  # pragma: no cover - Windows
    except (OSError, ValueError):
        return True
