"""The emulator's model catalog: a handful of models shaped like NanoGPT's detailed listing.

The ids look like real ones so that examples read naturally; prices and limits are illustrative
and the answers are canned (see ``_replies``). Field types follow NanoGPT's models docs:
``cost_estimate`` is a hint string (``"$"`` to ``"$$$$"``), ``category`` an optional tag
(``flagship``, ``mini``, ``reasoning``; absent on some models), ``icon_url`` a path to a
provider icon, and ``created`` differs per model.
"""

from __future__ import annotations

from typing import Any

_CAPS = ("vision", "reasoning", "tool_calling", "parallel_tool_calls", "structured_output",
         "pdf_upload", "video_input")


_ICONS = {"openai": "OpenAI", "deepseek": "DeepSeek", "anthropic": "Anthropic",
          "meta-llama": "Meta", "moonshotai": "Moonshot"}


def _cost_hint(prompt: float, completion: float) -> str:
    """The UI's cost hint: more dollar signs for dearer models."""
    blended = (prompt + completion) / 2
    return "$" * (1 + sum(blended > step for step in (0.5, 2.0, 8.0)))


def _model(id: str, name: str, *, ctx: int, out: int, prompt: float, completion: float,
           caps: tuple[str, ...] = (), subscription: bool = False, category: str | None,
           created: int) -> dict[str, Any]:
    model = {
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
        "icon_url": f"/icons/{_ICONS.get(id.split('/')[0], 'Default')}.svg",
        "cost_estimate": _cost_hint(prompt, completion),
        # not a NanoGPT field: lets the emulator answer the subscription list
        "_subscription": subscription,
    }
    if category is None:  # the field is optional: some models have no category
        del model["category"]
    return model


MODELS: list[dict[str, Any]] = [
    _model("openai/gpt-5-mini", "GPT-5 Mini", ctx=400000, out=128000, prompt=0.25,
           completion=2.0, caps=("vision", "tool_calling", "parallel_tool_calls",
                                 "structured_output", "pdf_upload"),
           category="mini", created=1754611200),
    _model("openai/gpt-5-nano", "GPT-5 Nano", ctx=400000, out=128000, prompt=0.05,
           completion=0.4, caps=("vision", "tool_calling", "structured_output"),
           subscription=True, category="mini", created=1754611260),
    _model("deepseek/deepseek-v3.2", "DeepSeek V3.2", ctx=163840, out=65536, prompt=0.28,
           completion=0.42, caps=("tool_calling", "structured_output"), subscription=True,
           category=None, created=1764547200),
    _model("deepseek/deepseek-r1", "DeepSeek R1", ctx=163840, out=32768, prompt=0.55,
           completion=2.19, caps=("reasoning",), subscription=True, category="reasoning",
           created=1737331200),
    _model("anthropic/claude-sonnet-4.5", "Claude Sonnet 4.5", ctx=200000, out=64000,
           prompt=3.0, completion=15.0,
           caps=("vision", "reasoning", "tool_calling", "parallel_tool_calls", "pdf_upload"),
           category="flagship", created=1759104000),
    _model("meta-llama/llama-3.3-70b-instruct", "Llama 3.3 70B Instruct", ctx=131072,
           out=16384, prompt=0.12, completion=0.3, subscription=True, category=None,
           created=1733443200),
    _model("moonshotai/kimi-k2-thinking", "Kimi K2 Thinking", ctx=262144, out=65536,
           prompt=0.6, completion=2.5, caps=("reasoning", "tool_calling"),
           category="reasoning", created=1762214400),
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
