"""Web search: ``POST /api/web`` (``client.web.search``): the request, checked before anything
is sent, and the typed answer. No I/O.

Facts from NanoGPT's docs, ``api-reference/endpoint/web-search.mdx`` (recorded in
``docs/nanogpt-api.md``): the path is under the API root (not ``/api/v1``); ``provider``
defaults to ``linkup``, ``depth`` to ``standard``, ``outputType`` to ``searchResults``; the
answer is ``{"data": ..., "metadata": {..., "cost"}}``. Every search is billed (Linkup standard
$0.006, deep $0.06), so a search is sent once: never again after it may have reached the
server (the money rules of chat).
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from .errors import InvalidParameterError
from .params import add_extra_body
from .types import KeepsRaw, _to_decimal, json_object, tolerant

if TYPE_CHECKING:
    from .client import ClientCore, Request
    from .config import Timeout

__all__ = ["SEARCH_PROVIDERS", "SearchDepth", "SearchMetadata", "SearchOutput",
           "SearchProvider", "SearchResult", "SearchSource", "WebSearch", "decode_search",
           "search_request"]

SearchProvider = Literal["linkup", "tavily", "exa", "kagi", "perplexity", "valyu", "brave",
                         "sofya", "firecrawl"]
SEARCH_PROVIDERS = ("linkup", "tavily", "exa", "kagi", "perplexity", "valyu", "brave", "sofya",
                    "firecrawl")
SearchDepth = Literal["standard", "deep"]
SearchOutput = Literal["searchResults", "sourcedAnswer", "structured"]
_OUTPUTS = ("searchResults", "sourcedAnswer", "structured")
_TOPICS = ("general", "news")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class SearchResult(msgspec.Struct):
    """One result of a ``searchResults`` search: ``type`` is ``text`` (with ``content``, a
    snippet) or ``image`` (with ``image_url``)."""

    type: str | None = None
    title: str | None = None
    url: str | None = None
    content: str | None = None
    image_url: str | None = msgspec.field(default=None, name="imageUrl")


class SearchSource(msgspec.Struct):
    """A source of a ``sourcedAnswer``."""

    name: str | None = None
    url: str | None = None
    snippet: str | None = None


class SearchMetadata(msgspec.Struct):
    """What the service did: the query, the provider, depth and output type it resolved, when,
    and the ``cost`` in USD."""

    query: str | None = None
    provider: str | None = None
    operation: str | None = None
    depth: str | None = None
    output_type: str | None = msgspec.field(default=None, name="outputType")
    timestamp: str | None = None
    _cost: Any = msgspec.field(default=None, name="cost")

    @property
    def cost(self) -> Decimal | None:
        """What the search cost in USD, a ``Decimal`` like every other ``cost`` of the SDK."""
        return _to_decimal(self._cost)


class WebSearch(KeepsRaw):
    """The answer of ``client.web.search``. ``results`` holds the typed results of a
    ``searchResults`` search; ``answer`` and ``sources`` those of a ``sourcedAnswer``; ``data``
    is the payload as the provider shaped it (a ``structured`` output's object, for one);
    ``cost`` is what the search cost in USD."""

    data: Any = None
    metadata: SearchMetadata = msgspec.field(default_factory=SearchMetadata)
    results: list[SearchResult] = msgspec.field(default_factory=list)
    answer: str | None = None
    sources: list[SearchSource] = msgspec.field(default_factory=list)

    @property
    def cost(self) -> Decimal | None:
        return self.metadata.cost


# the request ----------------------------------------------------------------------------------

def _fail(name: str, message: str) -> InvalidParameterError:
    return InvalidParameterError(name, message)


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        import difflib  # here: only a mistyped value needs it

        near = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.5)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise _fail(name, f"must be one of {', '.join(allowed)}; got {value!r}{hint}")
    return value


def _date(name: str, value: Any) -> str:
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value.isoformat()
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise _fail(name, f"must be a date (datetime.date or 'YYYY-MM-DD'), got {value!r}")
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        raise _fail(name, f"is not a calendar date: {value!r}") from None
    return value


def _domains(name: str, value: Any) -> list[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) \
            or not all(isinstance(d, str) and d for d in value):
        raise _fail(name, "must be a list of domains (non-empty strings)")
    return list(value)


def _schema(value: Any) -> str:
    """``structuredOutputSchema`` is a JSON schema as a string: a dict is encoded here."""
    if isinstance(value, Mapping):
        return json.dumps(value)
    if not isinstance(value, str) or not value.strip():
        raise _fail("structured_output_schema", "must be a JSON schema (a dict, or its JSON "
                                                "text)")
    return value


def search_request(core: ClientCore, query: Any, *, provider: Any = None, depth: Any = None,
                   output_type: Any = None, structured_output_schema: Any = None,
                   include_images: Any = None, from_date: Any = None, to_date: Any = None,
                   include_domains: Any = None, exclude_domains: Any = None,
                   max_results: Any = None, topic: Any = None,
                   extra_body: Mapping[str, Any] | None = None,
                   timeout: Timeout | float | None = None) -> Request:
    """``POST /api/web`` with what the caller set (the service's defaults for the rest)."""
    if not isinstance(query, str) or not query.strip():
        raise _fail("query", "must be a non-empty string")
    body: dict[str, Any] = {"query": query}
    if provider is not None:
        body["provider"] = _choice("provider", provider, SEARCH_PROVIDERS)
    if depth is not None:
        body["depth"] = _choice("depth", depth, ("standard", "deep"))
    if output_type is not None:
        body["outputType"] = _choice("output_type", output_type, _OUTPUTS)
    if structured_output_schema is not None:
        body["structuredOutputSchema"] = _schema(structured_output_schema)
    if output_type == "structured" and structured_output_schema is None:
        raise _fail("structured_output_schema", "is required when output_type='structured'")
    if include_images is not None:
        if not isinstance(include_images, bool):
            raise _fail("include_images", "must be true or false")
        body["includeImages"] = include_images
    for name, wire, value in (("from_date", "fromDate", from_date),
                              ("to_date", "toDate", to_date)):
        if value is not None:
            body[wire] = _date(name, value)
    if "fromDate" in body and "toDate" in body and body["toDate"] < body["fromDate"]:
        # ISO dates compare as text; a range that holds no day would be paid for nothing
        raise _fail("to_date", f"{body['toDate']} is before the start of the range, "
                               f"{body['fromDate']}")
    for name, wire, value in (("include_domains", "includeDomains", include_domains),
                              ("exclude_domains", "excludeDomains", exclude_domains)):
        if value is not None:
            body[wire] = _domains(name, value)
    if max_results is not None:
        if isinstance(max_results, bool) or not isinstance(max_results, int) \
                or not 1 <= max_results <= 20:
            raise _fail("max_results", f"must be an integer from 1 to 20, got {max_results!r}")
        body["maxResults"] = max_results
    if topic is not None:
        body["topic"] = _choice("topic", topic, _TOPICS)
    add_extra_body(body, extra_body)
    # billed: never re-sent once it may have reached the server
    return core.request("POST", "/web", body=body, api_root=True, idempotent=False,
                        timeout=timeout)


# the answer -----------------------------------------------------------------------------------

def decode_search(status: int, headers: Mapping[str, str], body: bytes) -> WebSearch:
    raw = json_object("a web search", status, headers, body)
    data = raw.get("data")
    meta = raw.get("metadata")
    result = WebSearch(data=data, metadata=tolerant(meta, SearchMetadata)
                       if isinstance(meta, dict) else SearchMetadata())
    if isinstance(data, list):
        result.results = [tolerant(r, SearchResult) for r in data if isinstance(r, dict)]
    elif isinstance(data, dict):
        answer = data.get("answer")
        result.answer = answer if isinstance(answer, str) else None
        sources = data.get("sources")
        if isinstance(sources, list):
            result.sources = [tolerant(s, SearchSource) for s in sources if isinstance(s, dict)]
    result.__dict__["_raw_dict"] = raw
    return result
