"""Model suffixes: NanoGPT's per-request options written into the model id
(``openai/gpt-5:online/linkup-deep:memory-30``), built and read back by :class:`ModelName`
and :func:`model_id`, so that nobody writes them by hand. No I/O.

Facts from NanoGPT's docs, ``api-reference/miscellaneous/model-suffixes.mdx`` (recorded in
``docs/nanogpt-api.md``): web search (``:online``, ``:online/<engine>``, each engine's
documented depths), context memory (``:memory``, ``:memory-<days>``, 1 to 365), PII redaction
(``:redaction``), hidden reasoning (``:reasoning-exclude``), the ``:thinking`` variant, and the
routing directives of which one request may carry at most one: a routing preference
(``:fast``, ``:cheap``...), ``:tools``, ``:caching``, or a provider id. Routing directives
and a provider suffix bill pay-as-you-go like an explicit ``provider=``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .errors import InvalidParameterError

__all__ = ["SEARCH_ENGINES", "ModelName", "RoutePreference", "model_id"]

RoutePreference = Literal["speed", "fast", "throughput", "latency", "price", "cheap", "floor"]
_ROUTES = ("speed", "fast", "throughput", "latency", "price", "cheap", "floor")

# every documented ``:online/<engine>`` value (model-suffixes.mdx, "Web Search Suffixes")
SEARCH_ENGINES = ("linkup", "linkup-deep", "tavily", "tavily-deep", "brave", "brave-deep",
                  "sofya", "exa-fast", "exa-auto", "exa-neural", "exa-deep",
                  "exa-deep-reasoning", "exa-instant", "kagi", "kagi-web", "kagi-news",
                  "kagi-search", "perplexity", "perplexity-deep", "valyu", "valyu-deep",
                  "valyu-web", "valyu-web-deep")
# an engine whose deep search is not "<engine>-deep": Kagi's is its "search" source
_DEEP_NAMES = {"kagi": "kagi-search"}
_MEMORY_DAYS = (1, 365)
_REDACTION = ("redaction", "redacted", "piiredaction", "piiredacted")
_CACHING = ("caching", "cache", "cached")


def _fail(name: str, message: str) -> InvalidParameterError:
    return InvalidParameterError(name, message)


@dataclass(frozen=True)
class ModelName:
    """A model id with NanoGPT's suffixes, checked when made; ``str()`` gives the string to
    send as ``model=``.

    >>> str(ModelName("openai/gpt-5", online="linkup", deep=True, memory=30))
    'openai/gpt-5:online/linkup-deep:memory-30'
    >>> ModelName.parse("zai-org/glm-5:thinking:fast").route
    'fast'

    ``online``: True for the default web search, or an engine (``linkup``, ``tavily``,
    ``brave``, ``sofya``, ``exa-neural``, ``kagi-news``, ``perplexity``, ``valyu-web``...; see
    ``SEARCH_ENGINES``); ``deep`` asks for the engine's deep search (``linkup-deep``,
    ``exa-deep``...). ``memory``: True (30 days) or a retention in days (1 to 365).
    ``redact``: PII redaction. ``reasoning_exclude``: hide the reasoning. ``thinking``: the
    model's thinking variant (only where the model has one). At most one routing directive:
    ``route`` (``fast``, ``cheap``...), ``tools``, ``caching``, or ``provider`` (a provider
    id; ``provider=`` on chat is clearer). A routing directive makes the request
    pay-as-you-go, even on a subscription.
    """

    base: str
    online: bool | str = False
    deep: bool = False
    memory: bool | int = False
    redact: bool = False
    reasoning_exclude: bool = False
    thinking: bool = False
    route: RoutePreference | None = None
    tools: bool = False
    caching: bool = False
    provider: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.base, str) or not self.base.strip() \
                or any(_read_suffix(t, {}) for t in self.base.split(":")[1:]):
            raise _fail("base", "must be a model id without suffixes, such as 'openai/gpt-5'")
        for name in ("deep", "redact", "reasoning_exclude", "thinking", "tools", "caching"):
            if not isinstance(getattr(self, name), bool):
                raise _fail(name, "must be true or false")
        self._search_suffix()  # checks online and deep
        self._memory_suffix()
        self._routing_suffix()

    # building ------------------------------------------------------------------------------

    def __str__(self) -> str:
        parts = [self.base]
        if self.thinking:
            parts.append("thinking")
        parts += [s for s in (self._search_suffix(), self._memory_suffix()) if s]
        if self.redact:
            parts.append("redaction")
        if self.reasoning_exclude:
            parts.append("reasoning-exclude")
        routing = self._routing_suffix()
        if routing:  # last: the docs call a provider suffix "trailing"
            parts.append(routing)
        return ":".join(parts)

    def _search_suffix(self) -> str | None:
        online, deep = self.online, self.deep
        if online is False:
            if deep:
                raise _fail("deep", "needs online= (a search engine such as 'linkup')")
            return None
        if online is True:
            if deep:
                raise _fail("deep", "needs a search engine: online='linkup' (or another "
                                    "engine) with deep=True")
            return "online"
        if not isinstance(online, str):
            raise _fail("online", "must be true, false, or a search engine name")
        engine = online.lower()
        if deep:
            engine = _DEEP_NAMES.get(engine, engine + "-deep")
        if engine not in SEARCH_ENGINES:
            raise _fail("online", _engine_problem(online, deep))
        return f"online/{engine}"

    def _memory_suffix(self) -> str | None:
        memory = self.memory
        if memory is False:
            return None
        if memory is True:
            return "memory"
        lo, hi = _MEMORY_DAYS
        if isinstance(memory, bool) or not isinstance(memory, int) or not lo <= memory <= hi:
            raise _fail("memory", f"must be true (30 days) or a number of days from {lo} to "
                                  f"{hi}, got {memory!r}")
        return f"memory-{memory}"

    def _routing_suffix(self) -> str | None:
        chosen = [name for name, on in (("route", self.route is not None),
                                        ("tools", self.tools), ("caching", self.caching),
                                        ("provider", self.provider is not None)) if on]
        if len(chosen) > 1:
            raise _fail(chosen[1], f"cannot be combined with {chosen[0]}: NanoGPT takes one "
                                   f"routing directive per request")
        if self.route is not None:
            if self.route not in _ROUTES:
                raise _fail("route", f"must be one of {', '.join(_ROUTES)}; got {self.route!r}")
            return self.route
        if self.tools:
            return "tools"
        if self.caching:
            return "caching"
        if self.provider is not None:
            p = self.provider
            if not isinstance(p, str) or not p.strip() or not _is_provider_id(p) \
                    or p.lower() in _KNOWN:
                raise _fail("provider", "must be a provider id such as 'novita' (see "
                                        "client.models.providers(model))")
            return p
        return None

    # reading -------------------------------------------------------------------------------

    @classmethod
    def parse(cls, model: str) -> ModelName:
        """The suffixes of a model string, read back. A suffix this library does not know
        (a model-specific alias such as ``:official``, a thinking budget such as ``:8192``)
        stays part of ``base``; so does a provider suffix, which cannot be told apart from
        such an alias without the provider list. A suffix given twice (``:fast:cheap``,
        ``:memory-30:memory-60``) is refused: reading back one of the two would change what
        the request is routed or billed by."""
        if not isinstance(model, str) or not model.strip():
            raise _fail("model", "must be a non-empty model id")
        head, *rest = model.split(":")
        base = [head]
        found: dict[str, Any] = {}
        for token in rest:
            read: dict[str, Any] = {}
            if not _read_suffix(token, read):
                base.append(token)
                continue
            if read.keys() & found.keys():
                raise _fail("model", f"{model!r} gives the kind of suffix {token!r} is twice; "
                                     "NanoGPT reads one of each kind")
            found.update(read)
        return cls(":".join(base), **found)


def _read_suffix(token: str, found: dict[str, Any]) -> bool:
    """Record ``token`` in ``found`` when it is a suffix this module knows."""
    t = token.lower()
    if t == "online":
        found["online"] = True
    elif t.startswith("online/") and t[7:] in SEARCH_ENGINES:
        engine = t[7:]  # "exa-deep" is exa with deep=True, as "linkup-deep" is linkup's
        deep = {v: k for k, v in _DEEP_NAMES.items()}.get(engine) \
            or (engine[:-5] if engine.endswith("-deep") else None)
        found["online"], found["deep"] = (deep, True) if deep else (engine, False)
    elif t == "memory":
        found["memory"] = True
    elif t.startswith("memory-") and t[7:].isdigit():
        found["memory"] = int(t[7:])
    elif t in _REDACTION:
        found["redact"] = True
    elif t == "reasoning-exclude":
        found["reasoning_exclude"] = True
    elif t == "thinking":
        found["thinking"] = True
    elif t in _ROUTES:
        found["route"] = t
    elif t == "tools":
        found["tools"] = True
    elif t in _CACHING:
        found["caching"] = True
    else:
        return False
    return True


_KNOWN = frozenset({"online", "memory", "thinking", "tools", "reasoning-exclude", *_ROUTES,
                    *_REDACTION, *_CACHING})


def _is_provider_id(p: str) -> bool:
    return all(c.isalnum() or c in "-_." for c in p)


def _engine_problem(online: str, deep: bool) -> str:
    import difflib  # here: only a mistyped engine needs it

    asked = online + ("-deep" if deep else "")
    near = difflib.get_close_matches(asked.lower(), SEARCH_ENGINES, n=2, cutoff=0.5)
    hint = f"; did you mean {' or '.join(map(repr, near))}?" if near else ""
    deep_note = " with deep=True" if deep else ""
    return (f"{online!r}{deep_note} is not a documented search engine{hint} (engines: "
            f"{', '.join(SEARCH_ENGINES)})")


def model_id(base: str, *, online: bool | str = False, deep: bool = False,
             memory: bool | int = False, redact: bool = False, reasoning_exclude: bool = False,
             thinking: bool = False, route: RoutePreference | None = None, tools: bool = False,
             caching: bool = False, provider: str | None = None) -> str:
    """``base`` with NanoGPT's model suffixes, checked (see :class:`ModelName`):
    ``model_id("openai/gpt-5", online="exa", deep=True)`` is ``'openai/gpt-5:online/exa-deep'``.
    Raises ``InvalidParameterError`` for an unknown engine, a memory outside 1 to 365 days, or
    two routing directives at once."""
    return str(ModelName(base, online=online, deep=deep, memory=memory, redact=redact,
                         reasoning_exclude=reasoning_exclude, thinking=thinking, route=route,
                         tools=tools, caching=caching, provider=provider))
