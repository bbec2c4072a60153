"""The pipeline every request passes before its handler: the aiohttp middleware.

In order: the body is read within bounds (``max_body_bytes``: 413; ``read_timeout``: 408) and
its ``Content-Encoding`` undone within the same bound (``_encodings``: 415, 413, 400), the
request is recorded (``_records``), its fault is picked (from the ``X-Emulator-Fault`` header,
checked, or from the queue ``emu.inject`` fills, see ``_faults``), the key its charges will
bill is noted (``_charges.billed_key``), the faults that act before the answer run
(``_phases.before_head``, ``_phases.instead_of_answer``), then the handler (``_routes``), whose
whole JSON answer the body faults act on (``_phases.in_whole_body``). Any
error on the way, including an unknown path, a wrong method or a bug, becomes a JSON answer
with an ``X-Request-ID`` (``_errors``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from . import _phases
from ._auth import key_id
from ._charges import billed_key
from ._connections import ConnectionGuard
from ._encodings import RefusedBody, decoded_body
from ._errors import REASONS, json_error
from ._exchange import Aborted
from ._exchange import RequestKeys as K
from ._faults import Fault, FaultQueue
from ._fields import FAULT_HEADER, FaultError
from ._records import RecordedRequest, Recorder, kept_body

__all__ = ["Pipeline"]

log = logging.getLogger("nanogpt.emulator")

Next = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Pipeline:
    """The middleware of one emulator. ``settings`` is the emulator (``max_body_bytes``,
    ``read_timeout``)."""

    def __init__(self, settings: Any, recorder: Recorder, faults: FaultQueue,
                 guard: ConnectionGuard) -> None:
        self.settings = settings
        self._record = recorder
        self._faults = faults
        self._guard = guard

    @web.middleware
    async def middleware(self, request: web.Request, handler: Next) -> web.StreamResponse:
        self._guard.heard(request.protocol)
        rid = self._record.next_rid()
        wire, refused = await self._read_body(request, rid)
        raw, refused = self._decoded(request, rid, wire, refused)
        parsed, parsed_ok = _parsed(raw)
        fault: Fault | None = None
        bad_fault: str | None = None
        if refused is None:
            try:
                fault = self._take_fault(request, parsed)
            except FaultError as e:
                bad_fault = str(e)
        self._keep_record(request, raw, parsed, parsed_ok, fault, len(wire))
        del raw, wire  # only the record's bounded copy outlives the request
        request[K.rid] = rid
        request[K.json] = parsed
        request[K.fault] = fault
        billed_key.set(key_id(request))  # what the handler charges goes to this key
        try:
            if refused is not None:
                return refused
            if bad_fault is not None:
                return json_error(rid, 400, bad_fault, code="invalid_emulator_fault")
            resp = await _answer(request, fault, handler)
            if not resp.prepared:
                resp.headers.setdefault("X-Request-ID", rid)
            return resp
        except web.HTTPException as e:  # unknown path, wrong method: JSON like the rest
            return _http_error(rid, request, e)
        except FaultError as e:
            return json_error(rid, 400, str(e), code="invalid_emulator_fault")
        except (Aborted, ConnectionError):  # reset on purpose, or the client went away
            return web.Response(status=499)
        except Exception:  # a bug here, or a request nobody foresaw: still JSON, and logged
            log.exception("nanogpt emulator: error answering %s %s", request.method,
                          request.path)
            return json_error(rid, 500, "The emulator failed to answer this request",
                              code="emulator_error")
        finally:
            self._record.done()

    async def _read_body(self, request: web.Request, rid: str
                         ) -> tuple[bytes, web.Response | None]:
        """The body, or the error answer when it is too large (413) or too slow (408)."""
        limit = self.settings.max_body_bytes
        too_large = json_error(rid, 413, f"Request body is larger than {limit} bytes",
                               code="payload_too_large")
        length = request.content_length
        if length is not None and length > limit:
            too_large.force_close()  # the body stays unread: the connection cannot go on
            return b"", too_large
        try:
            return await asyncio.wait_for(request.read(), self.settings.read_timeout), None
        except web.HTTPRequestEntityTooLarge:
            too_large.force_close()
            return b"", too_large
        except asyncio.TimeoutError:
            slow = json_error(rid, 408, "Request body not received in time",
                              code="request_timeout")
            slow.force_close()
            return b"", slow

    def _decoded(self, request: web.Request, rid: str, wire: bytes,
                 refused: web.Response | None) -> tuple[bytes, web.Response | None]:
        """The body with its ``Content-Encoding`` undone, or the error answer refusing it."""
        if refused is not None or not wire:
            return wire, refused
        try:
            return decoded_body(
                wire, request.headers.get("Content-Encoding"), path=request.path,
                content_type=request.headers.get("Content-Type", ""),
                has_key=bool(request.headers.get("Authorization")
                             or request.headers.get("X-API-Key")),
                accepted=self.settings.request_encodings,
                limit=self.settings.max_body_bytes), None
        except RefusedBody as e:
            return b"", json_error(rid, e.status, str(e), code=e.code)

    def _keep_record(self, request: web.Request, raw: bytes, parsed: Any, parsed_ok: bool,
                     fault: Fault | None, wire_size: int) -> None:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        record = RecordedRequest(
            request.method, request.path_qs, request.host,
            {k.lower(): v for k, v in request.headers.items()}, kept_body(raw, parsed, parsed_ok),
            fault, tuple(peer[:2]) if peer else None, body_size=len(raw) or
            (request.content_length or 0), wire_size=wire_size or (request.content_length or 0))
        resource = request.match_info.route.resource
        self._record.add(record, resource.canonical if resource is not None else "(unrouted)")
        request[K.record] = record

    def _take_fault(self, request: web.Request, body: Any) -> Fault | None:
        header = request.headers.get(FAULT_HEADER)
        if header:
            return Fault.from_header(header)
        stream = None
        if request.path.endswith("/chat/completions"):
            stream = isinstance(body, dict) and body.get("stream") is True
        return self._faults.take(request.path_qs, stream)


def _parsed(raw: bytes) -> tuple[Any, bool]:
    """The body as JSON and True; or its bytes and False (not JSON, or nested too deep)."""
    if not raw:
        return None, False
    try:
        return json.loads(raw), True
    except (ValueError, RecursionError):
        return raw, False


async def _answer(request: web.Request, fault: Fault | None,
                  handler: Next) -> web.StreamResponse:
    """The fault's early answer if it has one, else the handler's."""
    if fault is not None:
        for phase in (_phases.before_head, _phases.instead_of_answer):
            early = await phase(request, fault)
            if early is not None:  # (an empty response is falsy: aiohttp's are mappings)
                return early
    return await _phases.in_whole_body(request, fault, await handler(request))


def _http_error(rid: str, request: web.Request, e: web.HTTPException) -> web.Response:
    if e.status < 400:
        raise e
    headers = {"Allow": e.headers["Allow"]} if "Allow" in e.headers else None
    message = (f"{REASONS.get(e.status, e.reason)}: {request.method} {request.path}"
               if e.status in (404, 405) else e.reason)
    return json_error(rid, e.status, message, headers=headers)
