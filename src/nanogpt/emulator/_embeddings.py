"""Embeddings: ``POST /api/v1/embeddings`` and ``GET /api/v1/embedding-models``.

The models, dimensions and prices are the ones NanoGPT documents (``api-reference/
embeddings.mdx``, ``endpoint/embedding-models.mdx``; ``max_tokens`` is documented for a few and
illustrative for the rest). The vectors are illustrative: a unit vector per input of the
model's dimension (or ``dimensions``), stable for the same text and different between texts.
It is made of two windows of a fixed pseudo-random sequence of ``+-1/sqrt(D)``, at offsets
taken from a hash of the text: every window of such a sequence has norm 1, and slicing and
joining arrays costs no Python loop per number, so 10,000 inputs of 1536 dimensions are
answered in a fraction of a second (the embeddings benchmark sends that many).

Errors as documented (``{"error": {"message", "type", "param", "code"}}``, 400 for a bad
model, input or parameter, 401 for the key); one ledger charge (``embedding``) per answer,
at the model's price per million tokens. The docs show no cost in the answer, so none is
sent. Body faults (``non_json``, ``reset_after_chunks``: a cut, ``trickle``) apply as on chat.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import random
from array import array
from typing import TYPE_CHECKING, Any, cast

import msgspec
from aiohttp import web

from . import _phases
from ._auth import unauthorized
from ._errors import json_error
from ._exchange import RequestKeys as K
from ._replies import count_tokens

if TYPE_CHECKING:
    from ._faults import Fault
    from ._records import RecordedRequest
    from ._routes import Site

__all__ = ["MAX_INPUTS", "MODELS", "embedding_models", "embeddings", "vector"]

MAX_INPUTS = 2048
_CREATED = 1754480583  # as in the docs' example


def _m(id: str, owner: str, name: str, dims: int, price: float, *, reducible: bool = False,
       max_tokens: int = 8192) -> dict[str, Any]:
    return {"id": id, "object": "model", "created": _CREATED, "owned_by": owner,
            "name": name, "description": f"{name} (emulated by nanogpt)", "dimensions": dims,
            "max_dimensions": dims, "supports_dimensions": reducible, "max_tokens": max_tokens,
            "pricing": {"per_million_tokens": price, "currency": "USD"}}


MODELS: dict[str, dict[str, Any]] = {m["id"]: m for m in (
    _m("text-embedding-3-small", "openai", "Text Embedding 3 Small", 1536, 0.02,
       reducible=True, max_tokens=8191),
    _m("text-embedding-3-large", "openai", "Text Embedding 3 Large", 3072, 0.13,
       reducible=True, max_tokens=8191),
    _m("text-embedding-ada-002", "openai", "Text Embedding Ada 002", 1536, 0.10,
       max_tokens=8191),
    _m("BAAI/bge-m3", "baai", "BGE M3", 1024, 0.01),
    _m("jina-clip-v1", "jina", "Jina CLIP v1", 768, 0.04),
    _m("BAAI/bge-large-en-v1.5", "baai", "BGE Large EN v1.5", 768, 0.01),
    _m("BAAI/bge-large-zh-v1.5", "baai", "BGE Large ZH v1.5", 1024, 0.01),
    _m("jina-embeddings-v2-base-en", "jina", "Jina Embeddings v2 Base EN", 768, 0.05),
    _m("jina-embeddings-v2-base-de", "jina", "Jina Embeddings v2 Base DE", 768, 0.05),
    _m("jina-embeddings-v2-base-zh", "jina", "Jina Embeddings v2 Base ZH", 768, 0.05),
    _m("jina-embeddings-v2-base-es", "jina", "Jina Embeddings v2 Base ES", 768, 0.05),
    _m("jina-embeddings-v2-base-code", "jina", "Jina Embeddings v2 Base Code", 768, 0.05),
    _m("Baichuan-Text-Embedding", "baichuan", "Baichuan Text Embedding", 1024, 0.088),
    _m("netease-youdao/bce-embedding-base_v1", "netease-youdao", "BCE Embedding Base v1",
       1024, 0.02),
    _m("zhipu-embedding-2", "zhipu", "Zhipu Embedding 2", 1024, 0.07),
    _m("Qwen/Qwen3-Embedding-0.6B", "qwen", "Qwen3 Embedding 0.6B", 1024, 0.01,
       reducible=True),
)}

# the vectors -------------------------------------------------------------------------------

_OFFSETS = 1 << 18  # window starts per half: 2**36 vectors per dimension before a repeat


@functools.lru_cache(maxsize=8)
def _signs(dims: int) -> array[float]:
    """The fixed sequence for ``dims``: ``+-1/sqrt(dims)`` as float32, long enough for a window
    of ``dims - dims // 2`` at any of ``_OFFSETS`` starts."""
    value = 1 / math.sqrt(dims)
    both = (value, -value)
    return array("f", [both[b & 1] for b in random.Random(dims).randbytes(_OFFSETS + dims)])


def vector(text: str, dims: int) -> array[float]:
    """The unit vector (float32) of ``text``: the same every time, another for another text."""
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    first, second = int.from_bytes(digest[:4], "little"), int.from_bytes(digest[4:], "little")
    a, b = first % _OFFSETS, second % _OFFSETS
    half = dims // 2
    signs = _signs(dims)
    return signs[a:a + half] + signs[b:b + dims - half]


def _encoded(vec: array[float], base64_wire: bool) -> Any:
    """As the wire carries it: little-endian float32 in base64, or numbers."""
    if not base64_wire:
        return vec.tolist()
    if array("f", [1.0]).tobytes() != b"\x00\x00\x80?":  # a big-endian host
        vec = array("f", vec)
        vec.byteswap()
    return base64.b64encode(vec.tobytes()).decode("ascii")


# the checks --------------------------------------------------------------------------------

class Problem(Exception):
    """A request the service refuses: 400 with the documented error shape."""

    def __init__(self, message: str, param: str, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.code = code


def _check(body: Any) -> tuple[dict[str, Any], list[str], int, bool]:
    """The model, the inputs, the dimension and whether to answer in base64."""
    if not isinstance(body, dict):
        raise Problem("The request body must be a JSON object", "body", "invalid_json")
    name = body.get("model")
    model = MODELS.get(name) if isinstance(name, str) else None
    if model is None:
        raise Problem("Invalid model specified", "model", "model_not_found")
    inputs = _inputs(body.get("input"))
    fmt = body.get("encoding_format", "float")
    if fmt not in ("float", "base64"):
        raise Problem("encoding_format must be 'float' or 'base64'", "encoding_format")
    return model, inputs, _dimensions(body.get("dimensions"), model), fmt == "base64"


def _inputs(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise Problem("input must be a non-empty string or array of strings", "input",
                      "empty_input" if value in (None, [], "") else None)
    if len(value) > MAX_INPUTS:
        raise Problem(f"input must have at most {MAX_INPUTS} items, got {len(value)}",
                      "input", "too_many_inputs")
    for i, text in enumerate(value):
        if not isinstance(text, str) or not text:
            raise Problem(f"input[{i}] must be a non-empty string", "input",
                          "empty_input" if text == "" else None)
    return cast("list[str]", value)


def _dimensions(value: Any, model: dict[str, Any]) -> int:
    if value is None:
        return cast(int, model["dimensions"])
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Problem("dimensions must be a positive integer", "dimensions")
    if not model["supports_dimensions"] and value != model["dimensions"]:
        raise Problem(f"Model {model['id']} does not support the dimensions parameter",
                      "dimensions")
    if value > model["max_dimensions"]:
        raise Problem(f"dimensions must be at most {model['max_dimensions']} for "
                      f"{model['id']}", "dimensions")
    return value


# the handlers ------------------------------------------------------------------------------

async def embeddings(site: Site, request: web.Request) -> web.StreamResponse:
    """``POST /api/v1/embeddings``: one vector per input, charged per token."""
    rid = request[K.rid]
    refused = unauthorized(request)
    if refused is not None:
        return refused
    try:
        model, inputs, dims, base64_wire = _check(request[K.json])
    except Problem as p:
        return json_error(rid, 400, str(p), code=p.code, param=p.param)
    tokens = sum(max(1, count_tokens(text)) for text in inputs)
    data = [{"object": "embedding", "index": i, "embedding": _encoded(vector(text, dims),
                                                                      base64_wire)}
            for i, text in enumerate(inputs)]
    answer = msgspec.json.encode({"object": "list", "data": data, "model": model["id"],
                                  "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
    cast("RecordedRequest", request[K.record]).started = True  # the answer starts here
    amount = round(tokens * model["pricing"]["per_million_tokens"] / 1e6, 10)
    site.ledger.charge(model["id"], "embedding", amount, input_tokens=tokens)
    return await _phases.send_chat_body(request, cast("Fault | None", request[K.fault]),
                                        answer)


async def embedding_models(site: Site, request: web.Request) -> web.Response:
    """``GET /api/v1/embedding-models``: no key needed (documented as optional)."""
    return web.json_response({"object": "list", "data": list(MODELS.values())},
                             headers={"X-Request-ID": request[K.rid]})
