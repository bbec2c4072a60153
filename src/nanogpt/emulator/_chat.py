"""Chat completions: checking a request like the service does, and shaping the answer.

Pure functions from a request body and a ``Reply`` to JSON objects: the whole-body
``chat.completion`` and the list of ``chat.completion.chunk`` objects of a stream. Sending them
(and the faults that cut a stream) is ``_server``'s business; how chunks are written on the wire
is ``_framing``'s.
"""

from __future__ import annotations

from typing import Any

from . import _catalog, _replies
from ._replies import Choice, Reply

__all__ = ["CREATED", "Problem", "check", "chunks", "completion", "reasoning_key"]

CREATED = 1767225600  # the `created` of every answer: answers are deterministic

_RANGES = {"temperature": (0, 2), "top_p": (0, 1), "min_p": (0, 1),
           "frequency_penalty": (-2, 2), "presence_penalty": (-2, 2)}


class Problem(Exception):
    """A request the service would refuse: status, message, code and param of the answer."""

    def __init__(self, status: int, message: str, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param


def check(body: Any) -> dict[str, Any]:
    """The server-side checks NanoGPT makes before reaching a model; returns the model."""
    if not isinstance(body, dict):
        raise Problem(400, "Request body must be a JSON object", "invalid_json")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise Problem(400, "model is required", "missing_required_parameter", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Problem(400, "messages must be a non-empty array", "missing_required_parameter",
                      "messages")
    for name, (lo, hi) in _RANGES.items():
        v = body.get(name)
        if v is not None and (not isinstance(v, (int, float)) or not lo <= v <= hi):
            raise Problem(400, f"{name} must be between {lo} and {hi}",
                          "invalid_parameter_value", name)
    n = body.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int)
                          or not 1 <= n <= _replies.MAX_CHOICES):
        raise Problem(400, f"n must be an integer from 1 to {_replies.MAX_CHOICES}",
                      "invalid_parameter_value", "n")
    _check_response_format(body.get("response_format"))
    model = _catalog.lookup(body["model"])
    if model is None:
        raise Problem(404, f"Model {body['model']!r} not found", "model_not_found", "model")
    return model


def _check_response_format(fmt: Any) -> None:
    if fmt is None:
        return
    if not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object",
                                                             "json_schema"):
        raise Problem(400, "response_format.type must be text, json_object or json_schema",
                      "invalid_parameter_value", "response_format")
    if fmt["type"] == "json_schema":
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema", {}), dict) \
                or not isinstance(spec.get("name"), str):
            raise Problem(400, "response_format.json_schema needs a name and a schema object",
                          "invalid_json_schema", "response_format")


def reasoning_key(body: dict[str, Any], legacy: bool) -> str:
    """``reasoning``, or ``reasoning_content`` on the legacy path or when the request asks."""
    reasoning = body.get("reasoning")
    asked = ((isinstance(reasoning, dict)
              and reasoning.get("delta_field") == "reasoning_content")
             or body.get("reasoning_delta_field") == "reasoning_content"
             or body.get("reasoning_content_compat") is True)
    return "reasoning_content" if legacy or asked else "reasoning"


def _message(choice: Choice, reply: Reply, key: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": "".join(choice.content)}
    if choice.reasoning and reply.show_reasoning:
        message[key] = "".join(choice.reasoning)
    if choice.tool_calls:
        message["content"] = None
        message["tool_calls"] = [{"id": t.id, "type": "function", "function": {
            "name": t.name, "arguments": t.arguments}} for t in choice.tool_calls]
    return message


def completion(rid: str, model: dict[str, Any], reply: Reply, key: str) -> dict[str, Any]:
    """The whole-body answer."""
    return {
        "id": f"chatcmpl-{rid}", "object": "chat.completion", "created": CREATED,
        "model": model["id"],
        "choices": [{"index": i, "message": _message(c, reply, key),
                     "finish_reason": c.finish_reason, "logprobs": None}
                    for i, c in enumerate(reply.choices)],
        "usage": _replies.usage(reply),
        "x_nanogpt_pricing": _replies.price(reply, model),
        # a field the typed objects do not declare: the chosen provider (_routing), if any
        "provider": model.get("_provider", "nanogpt-emulator"),
    }


def chunks(rid: str, model: dict[str, Any], reply: Reply, key: str, *,
           include_usage: bool, usage_chunk: bool) -> list[dict[str, Any]]:
    """The chunks of a stream, choice after choice. Pricing (and usage when asked for) ride
    on the final chunk, as documented; with ``usage_chunk`` on an extra chunk with no
    choices instead."""
    base = {"id": f"chatcmpl-{rid}", "object": "chat.completion.chunk", "created": CREATED,
            "model": model["id"], "provider": model.get("_provider", "nanogpt-emulator")}

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return dict(base, choices=[{"index": index, "delta": delta, "finish_reason": finish}])

    out: list[dict[str, Any]] = []
    for i, c in enumerate(reply.choices):
        out.append(chunk(i, {"role": "assistant", "content": ""}))
        if reply.show_reasoning:
            out += [chunk(i, {key: r}) for r in c.reasoning]
        for j, t in enumerate(c.tool_calls):
            out.append(chunk(i, {"tool_calls": [{"index": j, "id": t.id, "type": "function",
                                                 "function": {"name": t.name,
                                                              "arguments": ""}}]}))
            out += [chunk(i, {"tool_calls": [{"index": j, "function": {"arguments": a}}]})
                    for a in t.fragments]
        out += [chunk(i, {"content": piece}) for piece in c.content]
        out.append(chunk(i, {}, c.finish_reason))
    totals: dict[str, Any] = {"x_nanogpt_pricing": _replies.price(reply, model)}
    if include_usage:
        totals = {"usage": _replies.usage(reply), **totals}
    if usage_chunk and include_usage:
        out.append(dict(base, choices=[], **totals))
    else:
        out[-1].update(totals)
    return out
