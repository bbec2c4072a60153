"""Web search, ``POST /api/web``: checked as documented (``web-search.mdx``), answered with
deterministic illustrative results, and charged.

The results are made from the query (the same query gives the same results) on example
domains, honouring ``includeDomains``/``excludeDomains`` and ``includeImages``. ``sourcedAnswer``
gives an answer with sources, ``structured`` an instance of the schema sent. The cost is the
documented price of the provider and depth (Linkup standard $0.006, deep $0.06; the others from
chat's web search price table), reported in ``metadata.cost`` and charged to the ledger once,
when the answer starts.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web

from . import _phases, _schema
from ._auth import unauthorized
from ._chat import CREATED
from ._errors import json_error
from ._exchange import RequestKeys as K
from ._faults import Fault
from ._records import RecordedRequest

if TYPE_CHECKING:
    from ._routes import Site

__all__ = ["search"]

PROVIDERS = ("linkup", "tavily", "exa", "kagi", "perplexity", "valyu", "brave", "sofya",
             "firecrawl")
OUTPUTS = ("searchResults", "sourcedAnswer", "structured")
# USD per search, (standard, deep): web-search.mdx for Linkup and Sofya, chat-completion.mdx's
# "Pricing by provider" for the others (Firecrawl has no documented price: Brave's is used)
PRICES = {"linkup": (0.006, 0.06), "tavily": (0.008, 0.016), "exa": (0.005, 0.005),
          "kagi": (0.002, 0.025), "perplexity": (0.005, 0.005), "valyu": (0.0015, 0.0015),
          "brave": (0.005, 0.005), "sofya": (0.01575, 0.01575), "firecrawl": (0.005, 0.005)}
_DOMAINS = ("example.com", "example.org", "example.net", "docs.example.com",
            "news.example.org")
DEFAULT_RESULTS = 5


class _Bad(Exception):
    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.message, self.param = message, param


def _check(body: Any) -> dict[str, Any]:
    """The request with the service's defaults filled in; ``_Bad`` for what it refuses."""
    if not isinstance(body, dict):
        raise _Bad("Request body must be a JSON object", "body")
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise _Bad("query is required", "query")
    provider = body.get("provider", "linkup")
    if provider not in PROVIDERS:
        raise _Bad(f"Unsupported provider: {provider!r}", "provider")
    if body.get("operation", "search") != "search":
        raise _Bad("The emulator runs the search operation only", "operation")
    depth = body.get("depth", "standard")
    if depth not in ("standard", "deep"):
        raise _Bad("depth must be 'standard' or 'deep'", "depth")
    output = body.get("outputType", "searchResults")
    if output not in OUTPUTS:
        raise _Bad(f"outputType must be one of {', '.join(OUTPUTS)}", "outputType")
    if output != "searchResults" and provider != "linkup":
        raise _Bad(f"{provider} supports outputType 'searchResults' only", "outputType")
    schema = body.get("structuredOutputSchema")
    if output == "structured":
        try:
            schema = json.loads(schema) if isinstance(schema, str) else None
        except ValueError:
            schema = None
        if not isinstance(schema, dict):
            raise _Bad("structuredOutputSchema (a JSON schema string) is required for "
                       "outputType 'structured'", "structuredOutputSchema")
    most = body.get("maxResults", DEFAULT_RESULTS)
    if isinstance(most, bool) or not isinstance(most, int) or not 1 <= most <= 20:
        raise _Bad("maxResults must be an integer from 1 to 20", "maxResults")
    return {"query": query, "provider": provider, "depth": depth, "outputType": output,
            "schema": schema, "images": body.get("includeImages") is True,
            "include": body.get("includeDomains") or [],
            "exclude": body.get("excludeDomains") or [],
            "max": most}


def _results(asked: dict[str, Any]) -> list[dict[str, Any]]:
    domains = [d for d in (asked["include"] or _DOMAINS) if d not in asked["exclude"]]
    if not domains:
        return []
    query = asked["query"]
    seed = int.from_bytes(hashlib.sha256(query.encode()).digest()[:4], "big")
    out: list[dict[str, Any]] = []
    for i in range(asked["max"]):
        domain = domains[(seed + i) % len(domains)]
        slug = f"{seed % 10000}-{i + 1}"
        out.append({"type": "text", "title": f"{query} ({i + 1})",
                    "url": f"https://{domain}/search/{slug}",
                    "content": f"An illustrative result {i + 1} for {query!r} from {domain}."})
    if asked["images"]:
        out.append({"type": "image", "title": f"{query} (image)",
                    "url": f"https://{domains[0]}/search/{seed % 10000}",
                    "imageUrl": f"https://{domains[0]}/images/{seed % 10000}.png"})
    return out


def _data(asked: dict[str, Any]) -> Any:
    results = _results(asked)
    if asked["outputType"] == "searchResults":
        return results
    if asked["outputType"] == "structured":
        return _schema.instance(asked["schema"], asked["query"])
    return {"answer": f"An illustrative answer to {asked['query']!r}, from "
                      f"{len(results)} sources.",
            "sources": [{"name": r["title"], "url": r["url"], "snippet": r.get("content", "")}
                        for r in results if r["type"] == "text"]}


def price(provider: str, depth: str) -> float:
    standard, deep = PRICES[provider]
    return deep if depth == "deep" else standard


async def search(site: Site, request: web.Request) -> web.StreamResponse:
    """``POST /api/web``: a search, billed at its documented price."""
    rid = request[K.rid]
    refused = unauthorized(request)
    if refused is not None:
        return refused
    try:
        asked = _check(request[K.json])
    except _Bad as b:
        return json_error(rid, 400, b.message, code="invalid_parameters", param=b.param)
    cost = price(asked["provider"], asked["depth"])
    answer = {"data": _data(asked), "metadata": {
        "query": asked["query"], "provider": asked["provider"], "operation": "search",
        "depth": asked["depth"], "outputType": asked["outputType"],
        "timestamp": datetime.datetime.fromtimestamp(CREATED, datetime.timezone.utc)
        .isoformat().replace("+00:00", "Z"), "cost": cost}}
    cast(RecordedRequest, request[K.record]).started = True  # the answer starts here
    site.ledger.charge(f"web-search/{asked['provider']}", "search", cost)
    fault = cast("Fault | None", request[K.fault])
    return await _phases.send_chat_body(request, fault, json.dumps(answer).encode())
