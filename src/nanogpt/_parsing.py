"""``chat.completions.parse()`` and ``chat.completions.stream()``: structured outputs on the
OpenAI-shaped namespaces, for both clients.

``Completions`` and ``AsyncCompletions`` (``_resources``) take these methods from the two
mixins here; the two differ only in ``await``. What to send and how to read the answer is the
core's (``_core.structured``): a parse error is raised after the answer came, outside the
call's retry loop, so a paid answer that does not validate is never asked for again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ._core.config import Timeout
from ._core.params import MessageParam
from ._core.results import then
from ._core.structured import OutputFormat, ParsedChatCompletion, output_format

if TYPE_CHECKING:
    from ._async.client import AsyncNanoGPT
    from ._async.parsed import AsyncParsedStream
    from ._core.client import ClientCore, Request
    from ._sync.client import NanoGPT
    from ._sync.parsed import ParsedStream

__all__ = ["AsyncParsingCompletions", "ParsingCompletions"]

T = TypeVar("T")


def _structured_request(core: ClientCore, method: str, model: str,
                        messages: Sequence[MessageParam], response_format: Any, *,
                        stream: bool, params: Mapping[str, Any],
                        extra_body: Mapping[str, Any] | None,
                        extra_headers: Mapping[str, str] | None,
                        timeout: Timeout | float | None) -> tuple[Request, OutputFormat[Any]]:
    """The request for ``parse``/``stream`` and the format that reads its answer; every
    check (the type, the parameters) before anything is sent."""
    if "stream" in params:
        raise TypeError(f"{method}() got an unexpected keyword argument 'stream' (use "
                        "chat.completions.stream(...) for a streamed structured answer)")
    output = output_format(response_format)
    req = core.chat_request(model, messages, stream=stream,
                            params={**params, "response_format": output.response_format},
                            extra_body=extra_body, extra_headers=extra_headers,
                            timeout=timeout)
    return req, output


class ParsingCompletions:
    """``parse`` and ``stream`` for ``client.chat.completions`` (blocking client)."""

    _client: NanoGPT

    @overload
    def parse(self, *, model: str, messages: Sequence[MessageParam],
              response_format: type[T], extra_body: Mapping[str, Any] | None = None,
              extra_headers: Mapping[str, str] | None = None,
              timeout: Timeout | float | None = None,
              **params: Any) -> ParsedChatCompletion[T]: ...

    @overload
    def parse(self, *, model: str, messages: Sequence[MessageParam],
              response_format: Mapping[str, Any], extra_body: Mapping[str, Any] | None = None,
              extra_headers: Mapping[str, str] | None = None,
              timeout: Timeout | float | None = None,
              **params: Any) -> ParsedChatCompletion[Any]: ...

    def parse(self, *, model: str, messages: Sequence[MessageParam], response_format: Any,
              extra_body: Mapping[str, Any] | None = None,
              extra_headers: Mapping[str, str] | None = None,
              timeout: Timeout | float | None = None,
              **params: Any) -> ParsedChatCompletion[Any]:
        """A chat completion whose answer is decoded into ``response_format``: a Pydantic
        model, msgspec Struct, dataclass or TypedDict class, or a JSON schema dict.
        ``.choices[0].message.parsed`` (or ``.parsed``) holds the object; a refusal is in
        ``.message.refusal``. Raises ``LengthFinishReasonError`` when the answer was cut by
        ``max_tokens``, ``OutputValidationError`` when it does not validate (both carry
        ``raw_text`` and the ``completion``). Other keywords as for ``create``."""
        c = self._client
        req, output = _structured_request(c._core, "parse", model, messages, response_format,
                                          stream=False, params=params, extra_body=extra_body,
                                          extra_headers=extra_headers, timeout=timeout)
        return then(c._call(req, c._core.decode_completion), output.parse_completion)

    @overload
    def stream(self, *, model: str, messages: Sequence[MessageParam],
               response_format: type[T], extra_body: Mapping[str, Any] | None = None,
               extra_headers: Mapping[str, str] | None = None,
               timeout: Timeout | float | None = None, **params: Any) -> ParsedStream[T]: ...

    @overload
    def stream(self, *, model: str, messages: Sequence[MessageParam],
               response_format: Mapping[str, Any], extra_body: Mapping[str, Any] | None = None,
               extra_headers: Mapping[str, str] | None = None,
               timeout: Timeout | float | None = None, **params: Any) -> ParsedStream[Any]: ...

    def stream(self, *, model: str, messages: Sequence[MessageParam], response_format: Any,
               extra_body: Mapping[str, Any] | None = None,
               extra_headers: Mapping[str, str] | None = None,
               timeout: Timeout | float | None = None, **params: Any) -> ParsedStream[Any]:
        """``parse`` as a stream: iterate for the text as it arrives, then
        ``get_final_completion()`` (or ``.parsed``) for the object. Use it with ``with``."""
        from ._sync.parsed import ParsedStream

        c = self._client
        req, output = _structured_request(c._core, "stream", model, messages, response_format,
                                          stream=True, params=params, extra_body=extra_body,
                                          extra_headers=extra_headers, timeout=timeout)
        return then(c._open_stream(req), lambda s: ParsedStream(s, output))


class AsyncParsingCompletions:
    """``parse`` and ``stream`` for ``client.chat.completions`` (asyncio client)."""

    _client: AsyncNanoGPT

    @overload
    async def parse(self, *, model: str, messages: Sequence[MessageParam],
                    response_format: type[T], extra_body: Mapping[str, Any] | None = None,
                    extra_headers: Mapping[str, str] | None = None,
                    timeout: Timeout | float | None = None,
                    **params: Any) -> ParsedChatCompletion[T]: ...

    @overload
    async def parse(self, *, model: str, messages: Sequence[MessageParam],
                    response_format: Mapping[str, Any],
                    extra_body: Mapping[str, Any] | None = None,
                    extra_headers: Mapping[str, str] | None = None,
                    timeout: Timeout | float | None = None,
                    **params: Any) -> ParsedChatCompletion[Any]: ...

    async def parse(self, *, model: str, messages: Sequence[MessageParam],
                    response_format: Any, extra_body: Mapping[str, Any] | None = None,
                    extra_headers: Mapping[str, str] | None = None,
                    timeout: Timeout | float | None = None,
                    **params: Any) -> ParsedChatCompletion[Any]:
        """As ``NanoGPT.chat.completions.parse``."""
        c = self._client
        req, output = _structured_request(c._core, "parse", model, messages, response_format,
                                          stream=False, params=params, extra_body=extra_body,
                                          extra_headers=extra_headers, timeout=timeout)
        return then(await c._call(req, c._core.decode_completion), output.parse_completion)

    @overload
    async def stream(self, *, model: str, messages: Sequence[MessageParam],
                     response_format: type[T], extra_body: Mapping[str, Any] | None = None,
                     extra_headers: Mapping[str, str] | None = None,
                     timeout: Timeout | float | None = None,
                     **params: Any) -> AsyncParsedStream[T]: ...

    @overload
    async def stream(self, *, model: str, messages: Sequence[MessageParam],
                     response_format: Mapping[str, Any],
                     extra_body: Mapping[str, Any] | None = None,
                     extra_headers: Mapping[str, str] | None = None,
                     timeout: Timeout | float | None = None,
                     **params: Any) -> AsyncParsedStream[Any]: ...

    async def stream(self, *, model: str, messages: Sequence[MessageParam],
                     response_format: Any, extra_body: Mapping[str, Any] | None = None,
                     extra_headers: Mapping[str, str] | None = None,
                     timeout: Timeout | float | None = None,
                     **params: Any) -> AsyncParsedStream[Any]:
        """As ``NanoGPT.chat.completions.stream``; use it as ``async with await
        client.chat.completions.stream(...) as s:``."""
        from ._async.parsed import AsyncParsedStream

        c = self._client
        req, output = _structured_request(c._core, "stream", model, messages, response_format,
                                          stream=True, params=params, extra_body=extra_body,
                                          extra_headers=extra_headers, timeout=timeout)
        return then(await c._open_stream(req), lambda s: AsyncParsedStream(s, output))
