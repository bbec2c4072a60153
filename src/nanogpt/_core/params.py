"""Chat parameters: their names, the documented ranges, and body building; request headers.
No I/O.

The body holds exactly what the caller set: a parameter left out, or given as ``None``, is not
sent. Values are checked against NanoGPT's documented ranges before anything goes on the wire,
and a wrong one raises :class:`~nanogpt.InvalidParameterError` naming the parameter. Headers
(``default_headers``, ``extra_headers``) are checked the same way for both clients, so that a
bad one is refused before anything is sent instead of failing inside an HTTP library.
"""

from __future__ import annotations

import functools
import math
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypedDict

from .errors import InvalidParameterError
from .routing import ProviderRouting, check_provider

__all__ = ["ChatParams", "MessageParam", "add_extra_body", "build_chat_body", "check_headers"]

MessageParam = Mapping[str, Any]  # one chat message as sent

ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]


class ChatParams(TypedDict, total=False):
    """Every named parameter ``chat.completions.create`` takes besides model and messages."""

    # OpenAI's
    temperature: float
    top_p: float
    max_tokens: int
    max_completion_tokens: int
    n: int
    stop: str | list[str]
    seed: int
    frequency_penalty: float
    presence_penalty: float
    logit_bias: dict[str, float]
    logprobs: bool | int
    top_logprobs: int
    tools: list[dict[str, Any]]
    tool_choice: str | dict[str, Any]
    parallel_tool_calls: bool
    response_format: dict[str, Any]
    stream_options: dict[str, Any]
    user: str
    service_tier: Literal["auto", "default", "flex", "priority"]
    # NanoGPT's extended sampling
    repetition_penalty: float
    top_k: int
    min_p: float
    top_a: float
    tfs: float
    typical_p: float
    eta_cutoff: float
    epsilon_cutoff: float
    mirostat_mode: Literal[0, 1, 2]
    mirostat_tau: float
    mirostat_eta: float
    min_tokens: int
    no_repeat_ngram_size: int
    custom_token_bans: list[int]
    stop_token_ids: list[int]
    ignore_eos: bool
    include_stop_str_in_output: bool
    prompt_logprobs: bool
    # NanoGPT's routing, reasoning and features
    reasoning_effort: ReasoningEffort
    reasoning: dict[str, Any]
    web_search: dict[str, Any]
    provider: str | ProviderRouting  # an id, or routing: bills pay-as-you-go, even subscribed
    billing_mode: str
    caching: bool
    prompt_caching: dict[str, Any]
    memory: bool | int


Check = Callable[[str, Any], None]


def _fail(name: str, message: str) -> InvalidParameterError:
    return InvalidParameterError(name, message)


def _number(lo: float | None = None, hi: float | None = None) -> Check:
    def check(name: str, v: Any) -> None:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _fail(name, f"must be a number, got {type(v).__name__}")
        if math.isnan(v) or math.isinf(v):
            raise _fail(name, "must be a finite number")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            if lo is not None and hi is not None:
                raise _fail(name, f"must be between {lo:g} and {hi:g}, got {v!r}")
            raise _fail(name, f"must be {'>=' if lo is not None else '<='} "
                              f"{lo if lo is not None else hi:g}, got {v!r}")
    return check


def _integer(lo: int | None = None, hi: int | None = None) -> Check:
    def check(name: str, v: Any) -> None:
        if isinstance(v, bool) or not isinstance(v, int):
            raise _fail(name, f"must be an integer, got {type(v).__name__}")
        if lo is not None and v < lo:
            raise _fail(name, f"must be >= {lo}, got {v}")
        if hi is not None and v > hi:
            raise _fail(name, f"must be <= {hi}, got {v}")
    return check


def _top_k(name: str, v: Any) -> None:
    _integer()(name, v)
    if v != -1 and v < 1:
        raise _fail(name, f"must be -1 (disabled) or >= 1, got {v}")


def _one_of(*allowed: Any) -> Check:
    def check(name: str, v: Any) -> None:
        if isinstance(v, bool) or v not in allowed:
            raise _fail(name, f"must be one of {', '.join(map(repr, allowed))}; got {v!r}")
    return check


def _kind(*types: type, what: str) -> Check:
    def check(name: str, v: Any) -> None:
        if not isinstance(v, types) or (isinstance(v, bool) and bool not in types):
            raise _fail(name, f"must be {what}, got {type(v).__name__}")
    return check


def _stop(name: str, v: Any) -> None:
    if isinstance(v, str):
        return
    if not isinstance(v, (list, tuple)) or not all(isinstance(s, str) for s in v):
        raise _fail(name, "must be a string or a list of strings")


def _int_list(name: str, v: Any) -> None:
    if not isinstance(v, (list, tuple)) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in v):
        raise _fail(name, "must be a list of integers")


def _tools(name: str, v: Any) -> None:
    if not isinstance(v, (list, tuple)) or not all(isinstance(t, Mapping) for t in v):
        raise _fail(name, "must be a list of tool objects (dicts)")


_MAPPING = _kind(Mapping, what="an object (dict)")
_BOOL = _kind(bool, what="true or false")
_STR = _kind(str, what="a string")

# name -> (wire name, check). Ranges are NanoGPT's documented ones (OpenAPI file and docs).
PARAMS: dict[str, tuple[str, Check]] = {
    "temperature": ("temperature", _number(0, 2)),
    "top_p": ("top_p", _number(0, 1)),
    "max_tokens": ("max_tokens", _integer(1)),
    "max_completion_tokens": ("max_completion_tokens", _integer(1)),
    "n": ("n", _integer(1)),
    "stop": ("stop", _stop),
    "seed": ("seed", _integer()),
    "frequency_penalty": ("frequency_penalty", _number(-2, 2)),
    "presence_penalty": ("presence_penalty", _number(-2, 2)),
    "logit_bias": ("logit_bias", _MAPPING),
    "logprobs": ("logprobs", _kind(bool, int, what="true/false or an integer")),
    "top_logprobs": ("top_logprobs", _integer(0, 20)),
    "tools": ("tools", _tools),
    "tool_choice": ("tool_choice", _kind(str, Mapping, what="a string or an object")),
    "parallel_tool_calls": ("parallel_tool_calls", _BOOL),
    "response_format": ("response_format", _MAPPING),
    "stream_options": ("stream_options", _MAPPING),
    "user": ("user", _STR),
    "service_tier": ("service_tier", _one_of("auto", "default", "flex", "priority")),
    "repetition_penalty": ("repetition_penalty", _number()),
    "top_k": ("top_k", _top_k),
    "min_p": ("min_p", _number(0, 1)),
    "top_a": ("top_a", _number(0)),
    "tfs": ("tfs", _number(0, 1)),
    "typical_p": ("typical_p", _number(0, 1)),
    "eta_cutoff": ("eta_cutoff", _number(0)),
    "epsilon_cutoff": ("epsilon_cutoff", _number(0)),
    "mirostat_mode": ("mirostat_mode", _one_of(0, 1, 2)),
    "mirostat_tau": ("mirostat_tau", _number(0)),
    "mirostat_eta": ("mirostat_eta", _number(0)),
    "min_tokens": ("min_tokens", _integer(0)),
    "no_repeat_ngram_size": ("no_repeat_ngram_size", _integer(0)),
    "custom_token_bans": ("custom_token_bans", _int_list),
    "stop_token_ids": ("stop_token_ids", _int_list),
    "ignore_eos": ("ignore_eos", _BOOL),
    "include_stop_str_in_output": ("include_stop_str_in_output", _BOOL),
    "prompt_logprobs": ("prompt_logprobs", _BOOL),
    "reasoning_effort": ("reasoning_effort",
                         _one_of("none", "minimal", "low", "medium", "high", "xhigh")),
    "reasoning": ("reasoning", _MAPPING),
    "web_search": ("webSearch", _MAPPING),
    "provider": ("provider", check_provider),
    "billing_mode": ("billing_mode", _STR),
    "caching": ("caching", _BOOL),
    "prompt_caching": ("prompt_caching", _MAPPING),
    "memory": ("memory", _kind(bool, int, what="true/false or a number of days")),
}


def check_messages(messages: Any) -> None:
    if isinstance(messages, (str, bytes)) or not isinstance(messages, (list, tuple)):
        raise _fail("messages", "must be a list of message objects like "
                                "{'role': 'user', 'content': '...'}")
    if not messages:
        raise _fail("messages", "must not be empty")
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping):
            raise _fail(f"messages[{i}]", f"must be an object (dict), got {type(m).__name__}")
        role = m.get("role")
        if not isinstance(role, str) or not role:
            raise _fail(f"messages[{i}].role", "is missing")


def build_chat_body(model: Any, messages: Any, params: Mapping[str, Any], *, stream: bool,
                    extra_body: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check every parameter and return the request body: only what the caller set."""
    if not isinstance(model, str) or not model.strip():
        raise _fail("model", "must be a non-empty model id such as 'openai/gpt-5-mini'")
    check_messages(messages)
    body: dict[str, Any] = {"model": model, "messages": messages}
    for name, value in params.items():
        if value is None:
            continue
        spec = PARAMS.get(name)
        if spec is None:
            raise TypeError(f"create() got an unexpected keyword argument {name!r} "
                            f"(send fields this library does not know with extra_body={{...}})")
        wire, check = spec
        check(name, value)
        body[wire] = value
    if not isinstance(stream, bool):
        raise _fail("stream", "must be true or false")
    if stream:
        body["stream"] = True
    return add_extra_body(body, extra_body, reserved=("stream", "pass stream=True to create()"))


def add_extra_body(body: dict[str, Any], extra_body: Any, *,
                   reserved: tuple[str, str] | None = None) -> dict[str, Any]:
    """``body`` with ``extra_body`` on top (it wins): every call's way to send what this library
    does not know. ``reserved`` is a field it may not hold and what to pass instead (a field
    whose handling depends on the keyword, like ``stream``). ``None`` adds nothing; any other
    value that is not a mapping is refused."""
    if extra_body is None:
        return body
    if not isinstance(extra_body, Mapping):
        raise _fail("extra_body", "must be an object (dict)")
    if reserved is not None and reserved[0] in extra_body:
        raise _fail("extra_body", f"must not hold {reserved[0]!r}: {reserved[1]}")
    body.update(extra_body)
    return body


# headers ----------------------------------------------------------------------------------

# RFC 9110 section 5.6.2: a field name is a token
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789"
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# a field value: visible ASCII, space and tab. Never CR, LF or NUL (they would end the header
# and start another on the wire: header injection, obs-fold). Non-ASCII is refused too: the two
# clients' HTTP libraries encode it differently (Latin-1 and UTF-8), and servers read it as
# opaque bytes.
_VALUE_CHARS = frozenset("\t" + "".join(map(chr, range(0x20, 0x7F))))


# headers that frame the message or manage the connection: the HTTP library sets them from the
# body it sends. A caller's value would make the wire disagree with itself (a Content-Length
# of 0 before a JSON body: the server reads the body as the start of the next request, and the
# next call on that connection gets the answer to it), or wait for ever (Expect: 100-continue
# on a server that ignores it; Transfer-Encoding: chunked over a body that is not).
_TRANSPORT_HEADERS = frozenset({"content-length", "transfer-encoding", "connection",
                                "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
                                "expect"})
# says how the body is coded; the client codes it (``compress_requests``), and a caller's value
# would label a plain JSON body as gzip (a 400), or a gzip one as something else
_CODING_HEADER = "content-encoding"


def check_headers(headers: Any, param: str) -> dict[str, str]:
    """``headers`` as a dict with lower-case names, each checked before anything is sent.

    A refused header is named in the error; its value never is (it may be a secret)."""
    if not isinstance(headers, Mapping):
        raise InvalidParameterError(param, "must be a mapping of header names to values")
    out: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not name or not _TOKEN_CHARS.issuperset(name):
            shown = repr(name[:40]) if isinstance(name, str) else type(name).__name__
            raise InvalidParameterError(param, f"{shown} is not a valid header name (letters, "
                                               f"digits and !#$%&'*+-.^_`|~ only)")
        if name.lower() in _TRANSPORT_HEADERS:
            raise InvalidParameterError(param, f"header {name!r} is set by the HTTP library from "
                                               f"the request it sends, and may not be given")
        if name.lower() == _CODING_HEADER:
            raise InvalidParameterError(param, f"header {name!r} is set by the client from the "
                                               f"body it sends (see compress_requests), and "
                                               f"may not be given")
        if not isinstance(value, str):
            raise InvalidParameterError(param, f"header {name!r}: the value must be a string, "
                                               f"got {type(value).__name__}")
        if not _VALUE_CHARS.issuperset(value):
            raise InvalidParameterError(param, f"header {name!r}: {_value_problem(value)}; "
                                               f"the value is not shown")
        out[name.lower()] = value
    return out


def _value_problem(value: str) -> str:
    if any(c in value for c in "\r\n\x00"):
        return "the value contains a line break or NUL, which would inject headers"
    if not value.isascii():
        return ("the value contains non-ASCII characters; encode it to ASCII first (for "
                "example percent-encoding or base64)")
    return "the value contains control characters"


@functools.cache
def chat_param_hints() -> dict[str, Any]:
    """``ChatParams``' annotations as types (they are written as text), read once: for
    ``create``'s signature and for the command line's flags."""
    return typing.get_type_hints(ChatParams)
