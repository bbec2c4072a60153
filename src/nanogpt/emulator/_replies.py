"""Deterministic answers: the same request always gets the same reply, usage and price.

What the emulated model says depends on the request the way an application expects of a real
one:

- with ``tools`` (and a ``tool_choice`` that allows a call, on a model with ``tool_calling``)
  it calls a tool, with arguments that validate against the tool's ``parameters`` schema
  (see ``_schema``). It calls the tool that ``tool_choice`` names; otherwise every tool whose
  name the last user message mentions (several calls at once only when the model has
  ``parallel_tool_calls`` and the request does not set ``parallel_tool_calls: false``; at most
  ``MAX_CALLS``, looking at the first ``MAX_NAMED_TOOLS`` tools and the first ``MENTION_CHARS``
  characters of the message); else the first tool. When the last message is a ``tool``
  result, it answers in text that quotes the result (``finish_reason: "stop"``), unless
  ``tool_choice`` demands a call;
- with ``response_format`` ``json_schema`` it answers JSON that validates against the schema;
  with ``json_object`` a JSON object: an instance of a JSON schema the conversation spells out,
  if there is one (JSON mode asks the prompt to carry it), else an object with the keys the
  last user message quotes when it speaks of keys ("a JSON with 'setup' and 'punchline'
  keys"), each holding the user's text, else ``{"answer": <user text>}``;
- otherwise it greets and echoes the last user message (at most ``MAX_ECHO`` characters of it,
  as with a quoted tool result: a body may hold 20 MiB, and every word is a stream frame).
  Models with ``reasoning`` think first (hidden by ``reasoning: {"exclude": true}`` or the
  ``:reasoning-exclude`` model suffix).

``n`` choices differ only by a suffix on choices after the first (tool arguments and structured
output are made once per reply, from one ``_schema.Budget``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ._schema import Budget, instance

__all__ = ["MAX_CHOICES", "Choice", "Reply", "ToolCall", "count_tokens", "make_reply",
           "price", "usage"]

_WORD = re.compile(r"\S+\s*")
MAX_CHOICES = 16  # the most choices `n` may ask for
MAX_CALLS = 16  # the most tool calls one choice makes
MAX_NAMED_TOOLS = 128  # tools whose names are looked for in the prompt
MENTION_CHARS = 4096  # characters of the last user message searched for tool names
_FRAGMENT = 8  # characters of tool-call arguments or JSON content per stream frame...
MAX_PIECES = 256  # ...unless that makes more frames than this: then longer fragments
MAX_ECHO = 2000  # characters of the user's message (or a tool's result) the answer quotes


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return " ".join(p["text"] for p in content if isinstance(p, dict)
                        and p.get("type") == "text" and isinstance(p.get("text"), str))
    return ""


def count_tokens(text: str) -> int:
    return len(_WORD.findall(text))


def _pieces(text: str) -> list[str]:
    """``text`` cut the way a stream sends it: at most ``MAX_PIECES`` frames, since every
    frame costs the server a JSON object of ~200 bytes."""
    size = max(_FRAGMENT, -(-len(text) // MAX_PIECES))
    return [text[i:i + size] for i in range(0, len(text), size)]


def _quote(text: str) -> str:
    """``text`` as an answer quotes it: at most ``MAX_ECHO`` characters, so that a long
    prompt (a body may hold 20 MiB) does not make an answer of millions of frames."""
    text = text.strip()
    return text if len(text) <= MAX_ECHO else text[:MAX_ECHO] + "…"


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str

    @property
    def fragments(self) -> list[str]:
        """The arguments cut the way a stream sends them."""
        return _pieces(self.arguments)


@dataclass
class Choice:
    """One choice, already cut into stream pieces."""

    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str = "stop"

    @property
    def tokens(self) -> int:
        return (len(self.content) + len(self.reasoning)
                + sum(len(t.fragments) for t in self.tool_calls))


@dataclass
class Reply:
    """What the emulated model says: one or more choices."""

    choices: list[Choice]
    prompt_tokens: int = 0
    show_reasoning: bool = True  # False: computed and billed, not sent

    @property
    def completion_tokens(self) -> int:
        return sum(c.tokens for c in self.choices)

    @property
    def reasoning_tokens(self) -> int:
        return sum(len(c.reasoning) for c in self.choices)


@dataclass
class _Request:
    """The parts of a chat request that decide the answer."""

    messages: list[dict[str, Any]]
    last_user: str
    prompt_tokens: int
    body: dict[str, Any]
    # instances of the request's schemas, made once for all choices within one budget
    made: dict[str, str] = field(default_factory=dict)
    budget: Budget = field(default_factory=Budget)

    def json_of(self, key: str, schema: Any, text: str) -> str:
        """``json.dumps(instance(schema, text))``, once per ``key`` and reply."""
        if key not in self.made:
            self.made[key] = json.dumps(instance(schema, text, self.budget))
        return self.made[key]

    @classmethod
    def of(cls, body: dict[str, Any]) -> _Request:
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        last_user, prompt = "", 0
        for m in messages:
            text = _text_of(m.get("content"))
            prompt += count_tokens(text) + 3
            if m.get("role") == "user":
                last_user = text
        return cls(messages, last_user, prompt, body)


def reasoning_excluded(body: dict[str, Any]) -> bool:
    """``reasoning: {"exclude": true}`` or the ``:reasoning-exclude`` model suffix."""
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("exclude") is True:
        return True
    model = body.get("model")
    return isinstance(model, str) and ":reasoning-exclude" in model


def make_reply(body: dict[str, Any], model: dict[str, Any], *,
               forced_tokens: int | None = None) -> Reply:
    req = _Request.of(body)
    n = body.get("n")
    count = n if isinstance(n, int) and not isinstance(n, bool) and n > 1 else 1
    choices = [_choice(req, model, forced_tokens, i) for i in range(count)]
    return Reply(choices, req.prompt_tokens, show_reasoning=not reasoning_excluded(body))


def _choice(req: _Request, model: dict[str, Any], forced_tokens: int | None,
            index: int) -> Choice:
    calls = _tool_calls(req, model, index)
    if calls:
        return Choice(tool_calls=calls, finish_reason="tool_calls")
    choice = Choice()
    caps = model["capabilities"]
    if caps.get("reasoning") and req.body.get("reasoning_effort") != "none":
        said = _quote(req.last_user) or "(nothing)"
        choice.reasoning = _WORD.findall(f"The user wrote: {said}. "
                                         f"A short, friendly answer will do.")
    structured = _structured(req)
    if structured is not None:
        choice.content = _pieces(structured)
    elif forced_tokens is not None:
        words = ["lorem ", "ipsum ", "dolor ", "sit ", "amet, "]
        choice.content = [words[i % 5] for i in range(forced_tokens)]
    else:
        choice.content = _WORD.findall(_text_answer(req, model) + _suffix(index))
    limit = req.body.get("max_tokens") or req.body.get("max_completion_tokens")
    if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 \
            and len(choice.content) > limit:
        choice.content = choice.content[:limit]
        choice.finish_reason = "length"
    return choice


def _suffix(index: int) -> str:
    return f" (choice {index + 1})" if index else ""


def _text_answer(req: _Request, model: dict[str, Any]) -> str:
    last = req.messages[-1] if req.messages else {}
    if last.get("role") == "tool":
        results = []
        for m in reversed(req.messages):
            if m.get("role") != "tool":
                break
            results.append(_text_of(m.get("content")).strip() or "(empty)")
        return "The tool returned: " + _quote("; ".join(reversed(results)))
    said = _quote(req.last_user) or "(nothing)"
    return f"Hello from the NanoGPT emulator ({model['id']}). You said: {said}"


def _structured(req: _Request) -> str | None:
    fmt = req.body.get("response_format")
    if not isinstance(fmt, dict):
        return None
    text = req.last_user.strip() or "example"
    if fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        return req.json_of("response_format", schema if isinstance(schema, dict)
                           else {"type": "object"}, text)
    if fmt.get("type") == "json_object":
        schema = _schema_in_prompt(req)
        if schema:
            return req.json_of("response_format", schema, text)
        return json.dumps(dict.fromkeys(_keys_in_prompt(req.last_user) or ["answer"], text))
    return None


_QUOTED_KEY = re.compile(r"[\"'`]([A-Za-z_][A-Za-z0-9_]{0,63})[\"'`]")
MAX_PROMPT_KEYS = 32


def _keys_in_prompt(text: str) -> list[str]:
    """The quoted names of a message that asks for keys or fields by name, in order."""
    head = text[:MENTION_CHARS]
    if not re.search(r"\b(keys?|fields?|properties)\b", head, re.IGNORECASE):
        return []
    return list(dict.fromkeys(_QUOTED_KEY.findall(head)))[:MAX_PROMPT_KEYS]


def _schema_in_prompt(req: _Request) -> dict[str, Any] | None:
    """A JSON schema written into the conversation (as JSON mode asks the prompt to carry
    one), or None. Only the first 64 KiB of each message and 50 candidate objects in all are
    tried, so that a long conversation of braces costs little."""
    decoder = json.JSONDecoder()
    tries = 50
    for m in reversed(req.messages):
        text = _text_of(m.get("content"))[:65536]
        start = text.find("{")
        while start >= 0 and tries > 0:
            tries -= 1
            try:
                found, _end = decoder.raw_decode(text, start)
            except (ValueError, RecursionError):  # not JSON, or nested too deep to parse
                found = None
            if isinstance(found, dict) and isinstance(found.get("properties"), dict):
                return found
            start = text.find("{", start + 1)
    return None


def _tools(req: _Request, model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The callable functions of the request, by name (empty when no call is allowed)."""
    tools = req.body.get("tools")
    if not isinstance(tools, list) or not model["capabilities"].get("tool_calling"):
        return {}
    if req.body.get("tool_choice") == "none":
        return {}
    found: dict[str, dict[str, Any]] = {}
    for t in tools:
        fn = t.get("function") if isinstance(t, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            found.setdefault(fn["name"], fn)
    return found


def _tool_calls(req: _Request, model: dict[str, Any], index: int) -> list[ToolCall]:
    tools = _tools(req, model)
    if not tools:
        return []
    choice = req.body.get("tool_choice")
    named = None
    if isinstance(choice, dict):
        fn = choice.get("function")
        named = fn.get("name") if isinstance(fn, dict) else None
    answered = bool(req.messages) and req.messages[-1].get("role") == "tool"
    if answered and named is None and choice != "required":
        return []  # the tool's result is in: answer in text
    if isinstance(named, str) and named in tools:
        chosen = [named]
    else:
        head = req.last_user[:MENTION_CHARS]
        named_tools = list(tools)[:MAX_NAMED_TOOLS]
        mentioned = sorted((n for n in named_tools if n and n in head), key=head.find)
        chosen = mentioned[:MAX_CALLS] or [next(iter(tools))]
        parallel = (model["capabilities"].get("parallel_tool_calls")
                    and req.body.get("parallel_tool_calls") is not False)
        if not parallel:
            chosen = chosen[:1]
    text = req.last_user.strip() or "example"
    prefix = "call_emu_" if index == 0 else f"call_emu_{index}_"
    return [ToolCall(f"{prefix}{i}", name, _arguments(req, name, tools[name].get("parameters"),
                                                      text))
            for i, name in enumerate(chosen)]


def _arguments(req: _Request, name: str, schema: Any, text: str) -> str:
    """Arguments for a call: an instance of the tool's schema. A tool without ``parameters``
    takes none (OpenAI's rule: "omitting parameters defines a function with an empty parameter
    list"), so it gets ``{}``; the empty schema ``{}`` allows any arguments, and gets
    ``{"input": <last user text>}``."""
    if schema is None:
        return "{}"
    if not isinstance(schema, dict) or not schema:
        return json.dumps({"input": text})
    return req.json_of(f"tool:{name}", schema, text)


def price(reply: Reply, model: dict[str, Any]) -> dict[str, Any]:
    p = model["pricing"]
    amount = round(reply.prompt_tokens * p["prompt"] / 1e6
                   + reply.completion_tokens * p["completion"] / 1e6
                   + model.get("_surcharge", 0.0), 10)  # a web search (_routing)
    return {"amount": amount, "currency": "USD", "cost": amount,
            "inputTokens": reply.prompt_tokens, "outputTokens": reply.completion_tokens,
            "paymentSource": "USD"}


def usage(reply: Reply) -> dict[str, Any]:
    return {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": reply.reasoning_tokens}}
