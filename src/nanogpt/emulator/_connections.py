"""The connections themselves, below any request: what a local client cannot do to the server.

A connection whose first request head is not complete after ``read_timeout`` is closed (so that
half-sent requests cannot pile up and take every file descriptor; aiohttp closes such
connections only from 3.14 on); a request too malformed to parse gets the same JSON error as
the rest, logged once; running out of file descriptors is logged once and counted.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from ._errors import REASONS, json_error

__all__ = ["ConnectionGuard"]

_RESOURCE_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}

log = logging.getLogger("nanogpt.emulator")


class ConnectionGuard:
    """The guard of one server's connections, and its counters (``resource_errors``: accepts
    that failed for want of file descriptors or memory; ``bad_requests``: requests too
    malformed to parse)."""

    def __init__(self, read_timeout: float, next_rid: Callable[[], str]) -> None:
        self.read_timeout = read_timeout
        self.resource_errors = 0
        self.bad_requests = 0
        self._next_rid = next_rid
        self._silent: set[asyncio.BaseProtocol] = set()  # connections yet to send a request head

    def on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Running out of descriptors makes asyncio log a traceback on every failed accept
        (once a second, for as long as it lasts): log it once, count the rest."""
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in _RESOURCE_ERRNOS:
            self.resource_errors += 1
            if self.resource_errors == 1:
                log.warning("nanogpt emulator: cannot accept connections: %s (%s); new "
                            "clients wait until some close. Logged once; see "
                            "Emulator.resource_errors.", exc.strerror,
                            errno.errorcode.get(exc.errno or 0, exc.errno))
            return
        loop.default_exception_handler(context)

    def heard(self, protocol: asyncio.BaseProtocol) -> None:
        """A whole request head arrived on this connection: it is no longer silent."""
        self._silent.discard(protocol)

    def clear(self) -> None:
        self._silent.clear()

    def guarded(self, make: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """aiohttp's protocol factory, plus the guard: silent connections are dropped, and
        unparsable requests answered by ``_unparsable``."""
        loop = asyncio.get_running_loop()
        unparsable = self._unparsable

        class Handler(RequestHandler):
            """aiohttp answers a request it cannot parse (a header line over 8 KiB, too many
            headers, bad framing) from ``handle_error``, before any middleware: in
            text/plain, with a traceback logged for each one. Answer in JSON with a request
            id instead, and log once."""

            __slots__ = ()

            def handle_error(self, request: web.BaseRequest, status: int = 500,
                             exc: BaseException | None = None,
                             message: str | None = None) -> web.StreamResponse:
                return unparsable(self, request, status, exc, message)

        def factory() -> asyncio.Protocol:
            protocol = make()
            if type(protocol) is RequestHandler:  # same layout: only the method differs
                protocol.__class__ = Handler
            self._silent.add(protocol)
            loop.call_later(self.read_timeout, self._drop_if_silent, protocol)
            return protocol

        return factory

    def _unparsable(self, protocol: asyncio.Protocol, request: web.BaseRequest,
                    status: int = 500, exc: BaseException | None = None,
                    message: str | None = None) -> web.StreamResponse:
        """aiohttp's ``RequestHandler.handle_error``, for one connection: the JSON error the
        other answers use, and a log line for the first such request only (any local client
        can send thousands)."""
        self._silent.discard(protocol)
        self.bad_requests += 1
        if self.bad_requests == 1:
            log.warning("nanogpt emulator: answered %s to a request it could not read (%s). "
                        "Logged once; see Emulator.bad_requests.", status,
                        type(exc).__name__ if exc is not None else message)
        if request.writer.output_size > 0:  # the answer had started: nothing more to say
            raise ConnectionError("the answer had started")
        reason = REASONS.get(status, "Bad request")
        detail = getattr(exc, "message", None) if exc is not None else message
        text = f"{reason}: {str(detail).strip()[:200]}" if detail else reason
        resp = json_error(self._next_rid(), status, text, code="bad_request"
                          if status < 500 else "emulator_error")
        resp.force_close()
        return resp

    def _drop_if_silent(self, protocol: asyncio.Protocol) -> None:
        if protocol in self._silent:
            self._silent.discard(protocol)
            transport = getattr(protocol, "transport", None)
            if transport is not None and not transport.is_closing():
                transport.close()
