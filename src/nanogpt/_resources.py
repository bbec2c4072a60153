"""The OpenAI-shaped namespaces: ``client.chat.completions`` and ``client.models`` (with
NanoGPT's ``models.providers``).

Each method builds its request in the shared core and hands it to the client's shell; the sync
and async classes differ only in ``await``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from ._core.config import Timeout
from ._core.params import MessageParam
from ._core.results import parsed
from ._core.signature import chat_signature
from ._core.types import Catalog, ChatCompletion, Model, ModelList
from ._parsing import AsyncParsingCompletions, ParsingCompletions

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._async.client import AsyncNanoGPT
    from ._async.stream import AsyncStream
    from ._core.params import ChatParams
    from ._core.providers import ModelProviders
    from ._sync.client import NanoGPT
    from ._sync.stream import Stream

__all__ = ["AsyncChat", "AsyncCompletions", "AsyncModels", "Chat", "Completions", "Models"]


class Completions(ParsingCompletions):  # + parse(), stream()
    def __init__(self, client: NanoGPT) -> None:
        self._client = client

    @overload
    def create(self, *, model: str, messages: Sequence[MessageParam],
               stream: Literal[False] = False, extra_body: Mapping[str, Any] | None = None,
               extra_headers: Mapping[str, str] | None = None,
               timeout: Timeout | float | None = None,
               **params: Unpack[ChatParams]) -> ChatCompletion: ...

    @overload
    def create(self, *, model: str, messages: Sequence[MessageParam], stream: Literal[True],
               extra_body: Mapping[str, Any] | None = None,
               extra_headers: Mapping[str, str] | None = None,
               timeout: Timeout | float | None = None,
               **params: Unpack[ChatParams]) -> Stream: ...

    @chat_signature
    def create(self, *, model: str, messages: Sequence[MessageParam], stream: bool = False,
               extra_body: Mapping[str, Any] | None = None,
               extra_headers: Mapping[str, str] | None = None,
               timeout: Timeout | float | None = None,
               **params: Any) -> ChatCompletion | Stream:
        """Create a chat completion; ``stream=True`` returns a :class:`~nanogpt.Stream`."""
        c = self._client
        req = c._core.chat_request(model, messages, stream=stream, params=params,
                                   extra_body=extra_body, extra_headers=extra_headers,
                                   timeout=timeout)
        if stream:
            return c._open_stream(req)
        return c._call(req, c._core.decode_completion)


class Chat:
    def __init__(self, client: NanoGPT) -> None:
        self.completions = Completions(client)


class Models:
    def __init__(self, client: NanoGPT) -> None:
        self._client = client

    def list(self, catalog: Catalog = "all", *, refresh: bool = False) -> ModelList:
        """The detailed model catalog (cached for a while), or the ``subscription``, ``paid``
        or ``personalized`` list. A ``list`` of models, also as ``.data`` (``openai``'s
        page)."""
        core = self._client._core
        if not refresh and (hit := core.cached_models(catalog)) is not None:
            return hit
        return self._client._call(core.models_request(catalog),
                                  lambda *r: core.decode_models(catalog, *r))

    def retrieve(self, model: str) -> Model:
        """The catalog's entry for the id ``model``: from the cached catalog, fetched again
        when it is not there; ``NotFoundError`` naming the closest ids when it is absent."""
        core = self._client._core
        cached = core.cached_models("all")
        models = cached if cached is not None else parsed(self.list(refresh=True))
        found = core.find_model(models, model)
        if found is None and cached is not None:  # the catalog may have grown since
            models = parsed(self.list(refresh=True))
            found = core.find_model(models, model)
        if found is None:
            raise core.model_not_found(model, models)
        return found

    def providers(self, model: str) -> ModelProviders:
        """The providers ``model`` can be routed to, with the price each charges and whether
        it is available now (``GET /api/models/{id}/providers``). Pass one of their ids as
        chat's ``provider=``; choosing one bills pay-as-you-go even on a subscription."""
        from ._core.providers import decode_providers, providers_request  # see its docstring

        return self._client._call(providers_request(self._client._core, model),
                                  decode_providers)


class AsyncCompletions(AsyncParsingCompletions):  # + parse(), stream()
    def __init__(self, client: AsyncNanoGPT) -> None:
        self._client = client

    @overload
    async def create(self, *, model: str, messages: Sequence[MessageParam],
                     stream: Literal[False] = False, extra_body: Mapping[str, Any] | None = None,
                     extra_headers: Mapping[str, str] | None = None,
                     timeout: Timeout | float | None = None,
                     **params: Unpack[ChatParams]) -> ChatCompletion: ...

    @overload
    async def create(self, *, model: str, messages: Sequence[MessageParam], stream: Literal[True],
                     extra_body: Mapping[str, Any] | None = None,
                     extra_headers: Mapping[str, str] | None = None,
                     timeout: Timeout | float | None = None,
                     **params: Unpack[ChatParams]) -> AsyncStream: ...

    @chat_signature
    async def create(self, *, model: str, messages: Sequence[MessageParam], stream: bool = False,
                     extra_body: Mapping[str, Any] | None = None,
                     extra_headers: Mapping[str, str] | None = None,
                     timeout: Timeout | float | None = None,
                     **params: Any) -> ChatCompletion | AsyncStream:
        """Create a chat completion; ``stream=True`` returns a :class:`~nanogpt.AsyncStream`."""
        c = self._client
        req = c._core.chat_request(model, messages, stream=stream, params=params,
                                   extra_body=extra_body, extra_headers=extra_headers,
                                   timeout=timeout)
        if stream:
            return await c._open_stream(req)
        return await c._call(req, c._core.decode_completion)


class AsyncChat:
    def __init__(self, client: AsyncNanoGPT) -> None:
        self.completions = AsyncCompletions(client)


class AsyncModels:
    def __init__(self, client: AsyncNanoGPT) -> None:
        self._client = client

    async def list(self, catalog: Catalog = "all", *, refresh: bool = False) -> ModelList:
        """The detailed model catalog (cached for a while), or the ``subscription``, ``paid``
        or ``personalized`` list. A ``list`` of models, also as ``.data`` (``openai``'s
        page)."""
        core = self._client._core
        if not refresh and (hit := core.cached_models(catalog)) is not None:
            return hit
        return await self._client._call(core.models_request(catalog),
                                        lambda *r: core.decode_models(catalog, *r))

    async def retrieve(self, model: str) -> Model:
        """The catalog's entry for the id ``model``: from the cached catalog, fetched again
        when it is not there; ``NotFoundError`` naming the closest ids when it is absent."""
        core = self._client._core
        cached = core.cached_models("all")
        models = cached if cached is not None else parsed(await self.list(refresh=True))
        found = core.find_model(models, model)
        if found is None and cached is not None:  # the catalog may have grown since
            models = parsed(await self.list(refresh=True))
            found = core.find_model(models, model)
        if found is None:
            raise core.model_not_found(model, models)
        return found

    async def providers(self, model: str) -> ModelProviders:
        """The providers ``model`` can be routed to (see ``NanoGPT.models.providers``)."""
        from ._core.providers import decode_providers, providers_request

        return await self._client._call(providers_request(self._client._core, model),
                                        decode_providers)
