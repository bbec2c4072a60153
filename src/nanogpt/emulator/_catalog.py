"""The emulator's model catalog: a handful of models shaped like NanoGPT's detailed listing.

The ids look like real ones so that examples read naturally; prices and limits are illustrative
and the answers are canned (see ``_replies``).
"""

from __future__ import annotations

from typing import Any

_CAPS = ("vision", "reasoning", "tool_calling", "parallel_tool_calls", "structured_output",
         "pdf_upload", "video_input")


def _model(id: str, name: str, *, ctx: int, out: int, prompt: float, completion: float,
           caps: tuple[str, ...] = (), subscription: bool = False, category: str = "text",
           created: int = 1735689600) -> dict[str, Any]:
    return {
        "id": id,
        "object": "model",
        "created": created,
        "owned_by": id.split("/")[0],
        "name": name,
        "description": f"{name} (emulated by nanogpt)",
        "context_length": ctx,
        "max_output_tokens": out,
        "capabilities": {c: c in caps for c in _CAPS},
        "pricing": {"prompt": prompt, "completion": completion, "currency": "USD",
                    "unit": "per_million_tokens"},
        "architecture": {"input_modalities": ["text", "image"] if "vision" in caps
                         else ["text"]},
        "category": category,
        "icon_url": None,
        "cost_estimate": round((prompt * 1000 + completion * 500) / 1e6, 8),
        # not a NanoGPT field: lets the emulator answer the subscription list
        "_subscription": subscription,
    }


MODELS: list[dict[str, Any]] = [
    _model("openai/gpt-5-mini", "GPT-5 Mini", ctx=400000, out=128000, prompt=0.25,
           completion=2.0, caps=("vision", "tool_calling", "parallel_tool_calls",
                                 "structured_output", "pdf_upload")),
    _model("openai/gpt-5-nano", "GPT-5 Nano", ctx=400000, out=128000, prompt=0.05,
           completion=0.4, caps=("vision", "tool_calling", "structured_output"),
           subscription=True),
    _model("deepseek/deepseek-v3.2", "DeepSeek V3.2", ctx=163840, out=65536, prompt=0.28,
           completion=0.42, caps=("tool_calling", "structured_output"), subscription=True),
    _model("deepseek/deepseek-r1", "DeepSeek R1", ctx=163840, out=32768, prompt=0.55,
           completion=2.19, caps=("reasoning",), subscription=True),
    _model("anthropic/claude-sonnet-4.5", "Claude Sonnet 4.5", ctx=200000, out=64000,
           prompt=3.0, completion=15.0,
           caps=("vision", "reasoning", "tool_calling", "parallel_tool_calls", "pdf_upload")),
    _model("meta-llama/llama-3.3-70b-instruct", "Llama 3.3 70B Instruct", ctx=131072,
           out=16384, prompt=0.12, completion=0.3, subscription=True),
    _model("moonshotai/kimi-k2-thinking", "Kimi K2 Thinking", ctx=262144, out=65536,
           prompt=0.6, completion=2.5, caps=("reasoning", "tool_calling")),
]

BY_ID = {m["id"]: m for m in MODELS}


def public(model: dict[str, Any], detailed: bool) -> dict[str, Any]:
    if not detailed:
        return {k: model[k] for k in ("id", "object", "created", "owned_by")}
    return {k: v for k, v in model.items() if not k.startswith("_")}


def lookup(model_id: str) -> dict[str, Any] | None:
    """Find a model, ignoring NanoGPT's ``:suffix`` modifiers (``:online``, ``:floor``, ...)."""
    m = BY_ID.get(model_id)
    if m is None and ":" in model_id:
        m = BY_ID.get(model_id.split(":", 1)[0])
    return m
