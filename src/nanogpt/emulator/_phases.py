"""The faults, by the moment of the exchange they act in: one frozen record and one function
per phase.

=================  ===============================================  ==========================
phase              the record's fields (``Fault`` keywords)         applied by
=================  ===============================================  ==========================
before the head    ``Early``: delay, stall, reset, redirect         ``before_head``
instead of answer  ``Head``: status (+ retry-after, error shape),   ``instead_of_answer``
                   or an exact ``body``
in a whole body    ``Body``: non_json, trickle                      ``in_whole_body`` (every
                                                                    handler's JSON answer),
                                                                    ``send_whole``
per stream frame   ``Frames``: reset/cut/stall/error/garbage/raw    ``before_frame``,
                   frame after N, no_done, hold_after_done          ``after_frames``
stream quirks      ``Quirks`` (in ``_framing``): line ends, ...     ``Framing.of``
=================  ===============================================  ==========================

To add a fault, add a field to the record of its phase (declared with a ``_fields`` helper,
which also says what an ``X-Emulator-Fault`` header may ask for) and act on it in that phase's
function; ``Fault`` (``_faults``) picks the field up by itself. The pipeline (``_pipeline``)
runs the first two phases for every request and the whole-body one on every handler's answer;
the chat handler (``_completions``) the stream ones.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web

from ._errors import error_body
from ._exchange import Aborted, reset_connection
from ._exchange import RequestKeys as K
from ._fields import MAX_SECONDS, flag, frame_index, header_text, number, seconds, text, whole
from ._framing import Framing
from ._records import RecordedRequest

if TYPE_CHECKING:
    from ._faults import Fault

__all__ = ["Body", "Early", "Frames", "Head", "after_frames", "before_frame", "before_head",
           "in_whole_body", "instead_of_answer", "send_chat_body", "send_whole"]

TRICKLE_BYTES = 16  # a trickled body is sent this many bytes at a time
NO_STALL_END = 60.0  # seconds a mid-stream stall lasts when the fault names no ``stall``


# before the head -------------------------------------------------------------------------

@dataclass(frozen=True)
class Early:
    """What happens before any answer byte."""

    delay: float = seconds(0.0)  # seconds to wait before answering (normally or with a fault)
    stall: float | None = seconds()  # go silent this long before any answer byte (with
    # stall_after_chunks: the length of that mid-stream stall instead)
    reset: bool = flag()  # reset the connection before any answer byte
    redirect_to: str | None = header_text()  # answer with a redirect to this URL
    redirect_status: int = whole(300, 399, 307)


async def before_head(request: web.Request, fault: Fault) -> web.StreamResponse | None:
    """Wait, go silent, reset, or redirect; None when the answer goes on."""
    early = fault.early
    if early.delay:
        await asyncio.sleep(early.delay)
    if early.stall is not None and fault.frames.stall_after_chunks is None:
        await asyncio.sleep(early.stall)
    if early.reset:
        reset_connection(request)
        raise Aborted
    if early.redirect_to:
        return web.Response(status=early.redirect_status,
                            headers={"Location": early.redirect_to})
    return None


# instead of the answer -------------------------------------------------------------------

@dataclass(frozen=True)
class Head:
    """An answer in place of the real one: an error status, or an exact body."""

    status: int | None = whole(100, 599)  # answer with this status and an error body
    retry_after: float | str | None = header_text(numbers=True)  # seconds or an HTTP date
    retry_after_ms: int | None = whole(0, int(MAX_SECONDS * 1000))
    error_shape: str = text("openai")  # openai | legacy | flat | anthropic | text
    code: str | None = text()  # error code in the body
    message: str | None = text()  # error message in the body (and in an error frame)
    body: str | None = text()  # answer with exactly this body (status `status` or 200)


async def instead_of_answer(request: web.Request, fault: Fault) -> web.StreamResponse | None:
    """The fault's own answer (an exact body, or an error); None when the real one goes."""
    head = fault.head
    if head.body is not None:
        if not head.status or head.status < 300:
            cast(RecordedRequest, request[K.record]).started = True
        return await send_whole(request, fault, head.status or 200, head.body.encode(),
                                {"Content-Type": "application/json"})
    if head.status is None:
        return None
    headers: dict[str, str] = {}
    if head.retry_after is not None:
        headers["Retry-After"] = str(head.retry_after)
    if head.retry_after_ms is not None:
        headers["retry-after-ms"] = str(head.retry_after_ms)
    headers["Content-Type"] = "text/html" if head.error_shape == "text" else "application/json"
    return await send_whole(request, fault, head.status, error_body(
        head.status, head.error_shape, head.code, head.message), headers)


# in a whole body -------------------------------------------------------------------------

@dataclass(frozen=True)
class Body:
    """A broken whole (non-streamed) body. ``Frames.reset_after_chunks`` also acts here: a
    whole chat answer is then cut off half-way."""

    non_json: bool = flag()  # a 2xx with a body that is not JSON (any whole JSON answer)
    trickle: float | None = number(0, 1.0)  # send a whole body 16 bytes at a time, this apart


async def send_whole(request: web.Request, fault: Fault | None, status: int, body: bytes,
                     headers: dict[str, str]) -> web.StreamResponse:
    """A whole answer; with ``trickle``, 16 bytes at a time."""
    headers = {"X-Request-ID": request[K.rid], **headers}
    trickle = fault.body.trickle if fault is not None else None
    if not trickle:
        return web.Response(status=status, body=body, headers=headers)
    resp = web.StreamResponse(status=status, headers={**headers,
                                                      "Content-Length": str(len(body))})
    await resp.prepare(request)
    for i in range(0, len(body), TRICKLE_BYTES):
        await resp.write(body[i:i + TRICKLE_BYTES])
        await asyncio.sleep(trickle)
    return resp


async def send_chat_body(request: web.Request, fault: Fault | None,
                         data: bytes) -> web.StreamResponse:
    """A whole JSON answer as the handler has it; the fault acts on it in ``in_whole_body``,
    as on every JSON answer (the name stays for the handlers that call it)."""
    return web.Response(status=200, body=data, headers={
        "X-Request-ID": request[K.rid], "Content-Type": "application/json"})


def _whole_json(resp: web.StreamResponse) -> bytes | None:
    """The body of a handler's whole 2xx JSON answer not sent yet; None for anything else (a
    stream, an error, audio, a JSONL file)."""
    if not isinstance(resp, web.Response) or resp.prepared or not 200 <= resp.status < 300:
        return None
    if resp.content_type != "application/json" or not isinstance(resp.body, bytes):
        return None
    return resp.body


async def in_whole_body(request: web.Request, fault: Fault | None,
                        resp: web.StreamResponse) -> web.StreamResponse:
    """A handler's whole JSON answer as the fault has it sent (any endpoint: chat, usage,
    quota, providers, ...): not JSON with ``non_json``, cut off half-way by a reset with
    ``reset_after_chunks``, trickled with ``trickle``; other answers as they are."""
    data = _whole_json(resp) if fault is not None else None
    if fault is None or data is None:
        return resp
    headers = {k: v for k, v in resp.headers.items() if k.lower() != "content-length"}
    if fault.body.non_json:
        return web.Response(status=resp.status, text="<html>upstream says hi</html>",
                            content_type="text/html", headers={"X-Request-ID": request[K.rid]})
    if fault.frames.reset_after_chunks is None:
        return await send_whole(request, fault, resp.status, data, headers)
    cut = web.StreamResponse(status=resp.status, headers={
        "X-Request-ID": request[K.rid], **headers, "Content-Length": str(len(data))})
    await cut.prepare(request)
    await cut.write(data[: len(data) // 2])
    reset_connection(request)
    raise Aborted


# per stream frame ------------------------------------------------------------------------

@dataclass(frozen=True)
class Frames:
    """What breaks a stream: most act before frame N (counted from 0), the last two at its
    end."""

    reset_after_chunks: int | None = frame_index()  # N frames, then a reset (RST)
    cut_after_chunks: int | None = frame_index()  # N frames, then close the connection (FIN)
    stall_after_chunks: int | None = frame_index()  # N frames, then silence for `stall` (60s)
    error_frame_after: int | None = frame_index()  # N frames, then an error frame and [DONE]
    garbage_after: int | None = frame_index()  # N frames, then a frame that is not JSON
    raw_frame_after: int | None = frame_index()  # N frames, then the bytes of `raw_frame`
    raw_frame: str | bytes = text("")
    no_done: bool = flag()  # end the stream body without [DONE]
    hold_after_done: float | None = seconds()  # keep the body open this long after [DONE]
    # (sending a ": keep-alive" comment every 0.1 s meanwhile)


async def before_frame(request: web.Request, resp: web.StreamResponse, fault: Fault,
                       framing: Framing, n: int, first: dict[str, Any]) -> bool:
    """The faults that act before frame ``n``; True when the stream ended here."""
    frames = fault.frames
    if frames.reset_after_chunks == n:
        await asyncio.sleep(0.05)  # let the client take what was sent first
        reset_connection(request)
        raise Aborted
    if frames.cut_after_chunks == n:
        assert request.transport is not None
        request.transport.close()
        raise Aborted
    if frames.stall_after_chunks == n:
        stall = fault.early.stall
        await asyncio.sleep(stall if stall is not None else NO_STALL_END)
    if frames.error_frame_after == n:
        await resp.write(framing.data(json.dumps(_error_chunk(fault, first)).encode(), n))
        await resp.write(framing.done())
        return True
    if frames.garbage_after == n:
        await resp.write(framing.data(b"{\"id\": oops not json", n))
    if frames.raw_frame_after == n:
        raw = frames.raw_frame
        await resp.write(raw.encode() if isinstance(raw, str) else raw)
    return False


def _error_chunk(fault: Fault, first: dict[str, Any]) -> dict[str, Any]:
    """A chunk like the first, ending the answer with ``finish_reason: error``."""
    err = {k: v for k, v in first.items() if k != "choices"}
    err["choices"] = [{"index": 0, "delta": {}, "finish_reason": "error"}]
    err["error"] = {"status": 500, "message": fault.head.message or "Upstream provider error",
                    "code": fault.head.code or "upstream_error"}
    return err


async def after_frames(resp: web.StreamResponse, fault: Fault | None,
                       framing: Framing) -> None:
    """The end of a stream: ``[DONE]`` unless ``no_done``, then ``hold_after_done``."""
    frames = fault.frames if fault is not None else Frames()
    if not frames.no_done:
        await resp.write(framing.done())
    if frames.hold_after_done:
        until = time.monotonic() + frames.hold_after_done
        while time.monotonic() < until:
            await asyncio.sleep(0.1)
            await resp.write(framing.comment())
