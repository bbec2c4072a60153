"""Deterministic answers: the same request always gets the same reply, usage and price."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_WORD = re.compile(r"\S+\s*")


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return " ".join(p.get("text", "") for p in content
                        if isinstance(p, dict) and p.get("type") == "text")
    return ""


def count_tokens(text: str) -> int:
    return len(_WORD.findall(text))


@dataclass
class Reply:
    """What the emulated model says, already cut into stream pieces."""

    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tool_name: str | None = None
    tool_args: list[str] = field(default_factory=list)
    finish_reason: str = "stop"
    prompt_tokens: int = 0

    @property
    def completion_tokens(self) -> int:
        return len(self.content) + len(self.reasoning) + len(self.tool_args)


def make_reply(body: dict[str, Any], model: dict[str, Any], *,
               forced_tokens: int | None = None) -> Reply:
    messages = body.get("messages") or []
    last_user = ""
    prompt = 0
    for m in messages:
        if isinstance(m, dict):
            text = _text_of(m.get("content"))
            prompt += count_tokens(text) + 3
            if m.get("role") == "user":
                last_user = text
    reply = Reply(prompt_tokens=prompt)
    caps = model["capabilities"]
    tools = body.get("tools")
    if tools and caps.get("tool_calling") and body.get("tool_choice") != "none":
        fn = (tools[0] or {}).get("function", {}) if isinstance(tools[0], dict) else {}
        reply.tool_name = str(fn.get("name") or "tool")
        args = json.dumps({"input": last_user})
        reply.tool_args = [args[i:i + 8] for i in range(0, len(args), 8)]
        reply.finish_reason = "tool_calls"
        return reply
    wants_reasoning = caps.get("reasoning") and body.get("reasoning_effort") != "none"
    if wants_reasoning:
        reply.reasoning = _WORD.findall(f"The user wrote: {last_user.strip() or '(nothing)'}. "
                                        f"A short, friendly answer will do.")
    if forced_tokens is not None:
        words = ["lorem ", "ipsum ", "dolor ", "sit ", "amet, "]
        reply.content = [words[i % 5] for i in range(forced_tokens)]
    else:
        said = last_user.strip() or "(nothing)"
        reply.content = _WORD.findall(f"Hello from the NanoGPT emulator ({model['id']}). "
                                      f"You said: {said}")
    limit = body.get("max_tokens") or body.get("max_completion_tokens")
    if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 \
            and len(reply.content) > limit:
        reply.content = reply.content[:limit]
        reply.finish_reason = "length"
    return reply


def price(reply: Reply, model: dict[str, Any]) -> dict[str, Any]:
    p = model["pricing"]
    amount = round(reply.prompt_tokens * p["prompt"] / 1e6
                   + reply.completion_tokens * p["completion"] / 1e6, 10)
    return {"amount": amount, "currency": "USD", "cost": amount,
            "inputTokens": reply.prompt_tokens, "outputTokens": reply.completion_tokens,
            "paymentSource": "USD"}


def usage(reply: Reply) -> dict[str, Any]:
    return {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": len(reply.reasoning)}}
