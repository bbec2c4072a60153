"""The route table: every path the emulator serves, and the handler that answers it.

To add an endpoint, write its handler (``async def handler(site, request)``) in the module of
its concern (``_account``, ``_completions``, ``_embeddings``, ``_batches``, ``_login``,
``_usage``, or a new one) and add one row here.
The pipeline (``_pipeline``) has already bounded, recorded and parsed the request and picked
its fault when a handler runs (see ``_exchange.RequestKeys``); an unknown path or a wrong
method gets a JSON 404/405 from there.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import (
    _account,
    _audio,
    _completions,
    _embeddings,
    _images,
    _login,
    _routing,
    _search,
    _usage,
)
from ._batches import BatchStore
from ._charges import Ledger
from ._login import LoginStore

__all__ = ["ROUTES", "Handler", "Route", "Site", "add_routes"]


@dataclass
class Site:
    """What the handlers of one emulator share: its settings (``balance``, ``quirks``,
    ``subscription``: the ``Emulator``), the Batch API's store, the browser logins and the
    ledger of what it charged."""

    settings: Any
    batches: BatchStore = field(default_factory=BatchStore)
    logins: LoginStore = field(default_factory=LoginStore)
    ledger: Ledger = field(default_factory=Ledger)


Handler = Callable[[Site, web.Request], Awaitable[web.StreamResponse]]


def _on_store(method: Callable[[BatchStore, web.Request], Awaitable[web.StreamResponse]]
              ) -> Handler:
    """A ``BatchStore`` method as a handler: the store holds the Batch API's state."""
    @functools.wraps(method)
    async def handler(site: Site, request: web.Request) -> web.StreamResponse:
        return await method(site.batches, request)
    return handler


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler


_V1 = "/api/v1"
ROUTES: tuple[Route, ...] = (
    # chat, on the current and the legacy base path
    Route("POST", f"{_V1}/chat/completions", _completions.chat),
    Route("POST", "/api/v1legacy/chat/completions", _completions.chat),
    # models and balance
    Route("GET", f"{_V1}/models", _account.models),
    Route("GET", "/api/v1legacy/models", _account.models),
    Route("GET", f"{_V1}/models/{{model_id:.+}}", _account.one_model),
    Route("GET", "/api/subscription/v1/models", _account.models),
    Route("GET", "/api/paid/v1/models", _account.models),
    Route("GET", "/api/personalized/v1/models", _account.models),
    Route("GET", "/api/models", _account.legacy_models),
    Route("POST", "/api/check-balance", _account.balance),
    # images: generation (also on the root path, as documented), edits, models, url files
    Route("POST", f"{_V1}/images/generations", _images.generations),
    Route("POST", "/v1/images/generations", _images.generations),
    Route("POST", f"{_V1}/images/edits", _images.edits),
    Route("POST", f"{_V1}/images/edit", _images.edits),
    Route("GET", f"{_V1}/image-models", _images.image_models),
    Route("GET", "/emulator/images/{name}", _images.image_file),
    # provider routing and web search
    Route("GET", "/api/models/{model_id}/providers", _routing.providers),
    Route("POST", "/api/web", _search.search),
    # embeddings
    Route("POST", f"{_V1}/embeddings", _embeddings.embeddings),
    Route("GET", f"{_V1}/embedding-models", _embeddings.embedding_models),
    # usage, subscription quota, token counts
    Route("GET", f"{_V1}/usage", _usage.usage),
    Route("GET", "/api/subscription/v1/usage", _usage.subscription_usage),
    Route("GET", f"{_V1}/subscription/usage", _usage.subscription_usage),  # the alias
    Route("POST", f"{_V1}/messages/count_tokens", _usage.count_tokens),
    # the Batch API
    Route("POST", f"{_V1}/files", _on_store(BatchStore.upload)),
    Route("GET", f"{_V1}/files/{{file_id}}", _on_store(BatchStore.get_file)),
    Route("GET", f"{_V1}/files/{{file_id}}/content", _on_store(BatchStore.file_content)),
    Route("POST", f"{_V1}/batches", _on_store(BatchStore.create)),
    Route("GET", f"{_V1}/batches", _on_store(BatchStore.list_batches)),
    Route("GET", f"{_V1}/batches/{{batch_id}}", _on_store(BatchStore.get_batch)),
    Route("POST", f"{_V1}/batches/{{batch_id}}/cancel", _on_store(BatchStore.cancel)),
    # audio: speech, transcription, the audio models
    Route("POST", f"{_V1}/audio/speech", _audio.speech),
    Route("POST", f"{_V1}/audio/transcriptions", _audio.transcription),
    Route("GET", f"{_V1}/audio-models", _audio.audio_models),
    # the browser login (device flow), and the page where its code is approved
    Route("POST", "/api/cli-login/start", _login.start),
    Route("POST", "/api/cli-login/poll", _login.poll),
    Route("GET", "/cli-login/verify", _login.verify_page),
    Route("POST", "/cli-login/verify", _login.approve_page),
)


def add_routes(app: web.Application, site: Site) -> None:
    """Serve every row of ``ROUTES`` on ``app``, with ``site`` for its handlers."""
    for route in ROUTES:
        handler = functools.partial(route.handler, site)
        if route.method == "GET":
            app.router.add_get(route.path, handler)  # and HEAD, as aiohttp does for a GET
        else:
            app.router.add_route(route.method, route.path, handler)
