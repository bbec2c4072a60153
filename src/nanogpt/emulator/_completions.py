"""The chat endpoint, ``POST .../chat/completions``: a whole body or a stream, with the faults
that act in them (``_phases``).

What is checked and what the chunks look like is in ``_chat``; what the model says in
``_replies``; how frames are written in ``_framing``.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web

from . import _chat, _phases, _replies, _routing
from ._auth import unauthorized
from ._errors import json_error
from ._exchange import Aborted
from ._exchange import RequestKeys as K
from ._faults import MAX_FORCED_TOKENS, TOKENS_HEADER, Fault, forced_tokens
from ._fields import FaultError
from ._framing import Framing, Quirks
from ._records import RecordedRequest
from ._schema import SchemaTooLarge

if TYPE_CHECKING:
    from ._routes import Site

__all__ = ["chat"]

YIELD_EVERY = 64  # stream frames written between turns given to other clients


async def chat(site: Site, request: web.Request) -> web.StreamResponse:
    """A chat completion: checked, answered whole or streamed."""
    rid = request[K.rid]
    refused = unauthorized(request)
    if refused is not None:
        return refused
    body: Any = request[K.json]
    try:
        model = _routing.served_model(body, request.headers, _chat.check(body))
    except _chat.Problem as p:
        return json_error(rid, p.status, p.message, code=p.code, param=p.param)
    except _routing.Refused as r:
        return json_error(rid, 400, r.message, code=r.code, param=r.param)
    forced = forced_tokens(request.headers.get(TOKENS_HEADER))
    choices = body.get("n") or 1
    if forced is not None and forced * choices > MAX_FORCED_TOKENS:
        raise FaultError(f"{TOKENS_HEADER} times n must be at most {MAX_FORCED_TOKENS}")
    try:
        reply = _replies.make_reply(body, model, forced_tokens=forced)
    except SchemaTooLarge as e:
        return json_error(rid, 400, str(e), code="invalid_json_schema")
    key = _chat.reasoning_key(body, request.path.startswith("/api/v1legacy/"))
    fault = cast("Fault | None", request[K.fault])
    cast(RecordedRequest, request[K.record]).started = True  # the answer starts here
    charged = _replies.price(reply, model)
    site.ledger.charge(model["id"], "chat", charged["amount"],
                       input_tokens=reply.prompt_tokens, output_tokens=reply.completion_tokens)
    if body.get("stream"):
        try:
            return await _stream(site, request, body, model, reply, key, fault)
        except ConnectionError:  # the client went away mid-stream
            raise Aborted from None
    data = json.dumps(_chat.completion(rid, model, reply, key)).encode()
    return await _phases.send_chat_body(request, fault, data)


async def _stream(site: Site, request: web.Request, body: dict[str, Any],
                  model: dict[str, Any], reply: _replies.Reply, key: str, fault: Fault | None
                  ) -> web.StreamResponse:
    rid = request[K.rid]
    framing = Framing.of(fault.quirks if fault is not None else Quirks(),
                         site.settings.quirks)
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    chunks = _chat.chunks(rid, model, reply, key, include_usage=include_usage,
                          usage_chunk=framing.usage_chunk)
    resp = web.StreamResponse(status=200, headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
        "X-Request-ID": rid})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    if framing.preamble():
        await resp.write(framing.preamble())
    for n, chunk in enumerate(chunks):
        if fault is not None and await _phases.before_frame(request, resp, fault, framing, n,
                                                            chunks[0]):
            return resp
        await resp.write(framing.chunk(chunk, n))
        if n % YIELD_EVERY == YIELD_EVERY - 1:
            # a write to a fast reader does not give the loop up: let others in
            await asyncio.sleep(0)
    await _phases.after_frames(resp, fault, framing)
    return resp
