"""Web search as a namespace: ``client.web`` (sync and async, same shape).

Each method builds its request in :mod:`nanogpt._core.search` (the checks, the typed answer; no
I/O) and sends it through its client's shell. A search is billed: it is sent once, never again
after it may have reached the server.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._core.config import Timeout  # at run time too: typing.get_type_hints resolves it
from ._core.search import (
    SearchDepth,
    SearchOutput,
    SearchProvider,
    WebSearch,
    decode_search,
    search_request,
)

if TYPE_CHECKING:
    from ._async.client import AsyncNanoGPT
    from ._sync.client import NanoGPT

__all__ = ["AsyncWeb", "Web"]


class Web:
    """``client.web``: NanoGPT's direct web search (``POST /api/web``)."""

    def __init__(self, client: NanoGPT) -> None:
        self._client = client

    def search(self, query: str, *, provider: SearchProvider | None = None,
               depth: SearchDepth | None = None, output_type: SearchOutput | None = None,
               structured_output_schema: Mapping[str, Any] | str | None = None,
               include_images: bool | None = None,
               from_date: datetime.date | str | None = None,
               to_date: datetime.date | str | None = None,
               include_domains: Sequence[str] | None = None,
               exclude_domains: Sequence[str] | None = None,
               max_results: int | None = None, topic: str | None = None,
               extra_body: Mapping[str, Any] | None = None,
               timeout: Timeout | float | None = None) -> WebSearch:
        """Search the web. ``provider`` (default ``linkup``), ``depth`` (``standard`` or
        ``deep``: Linkup's costs 10 times more), ``output_type`` (``searchResults``, or with
        Linkup ``sourcedAnswer``/``structured``, the latter with a JSON schema), dates as
        ``datetime.date`` or ``'YYYY-MM-DD'``, domains to keep or drop. Billed (``.cost``, in
        USD), so never sent twice."""
        req = search_request(self._client._core, query, provider=provider, depth=depth,
                             output_type=output_type,
                             structured_output_schema=structured_output_schema,
                             include_images=include_images, from_date=from_date,
                             to_date=to_date, include_domains=include_domains,
                             exclude_domains=exclude_domains, max_results=max_results,
                             topic=topic, extra_body=extra_body, timeout=timeout)
        return self._client._call(req, decode_search)


class AsyncWeb:
    """``client.web`` of the async client."""

    def __init__(self, client: AsyncNanoGPT) -> None:
        self._client = client

    async def search(self, query: str, *, provider: SearchProvider | None = None,
                     depth: SearchDepth | None = None, output_type: SearchOutput | None = None,
                     structured_output_schema: Mapping[str, Any] | str | None = None,
                     include_images: bool | None = None,
                     from_date: datetime.date | str | None = None,
                     to_date: datetime.date | str | None = None,
                     include_domains: Sequence[str] | None = None,
                     exclude_domains: Sequence[str] | None = None,
                     max_results: int | None = None, topic: str | None = None,
                     extra_body: Mapping[str, Any] | None = None,
                     timeout: Timeout | float | None = None) -> WebSearch:
        """Search the web (see ``NanoGPT.web.search``)."""
        req = search_request(self._client._core, query, provider=provider, depth=depth,
                             output_type=output_type,
                             structured_output_schema=structured_output_schema,
                             include_images=include_images, from_date=from_date,
                             to_date=to_date, include_domains=include_domains,
                             exclude_domains=exclude_domains, max_results=max_results,
                             topic=topic, extra_body=extra_body, timeout=timeout)
        return await self._client._call(req, decode_search)
