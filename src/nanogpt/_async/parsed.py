"""``AsyncParsedStream``: a streamed structured answer read with ``async for``. Iterating
gives the text as it arrives; the end gives the object. Decoding is the core's
(``structured``).
"""

from __future__ import annotations

from typing import Generic, TypeVar

from .._core.structured import OutputFormat, ParsedChatCompletion, content_delta
from .stream import AsyncStream

__all__ = ["AsyncParsedStream"]

T = TypeVar("T")


class AsyncParsedStream(Generic[T]):
    """What ``await chat.completions.stream(response_format=T)`` returns.

    ``async for text in s`` yields the first choice's text deltas;
    ``await s.get_final_completion()`` reads what is left and returns a
    ``ParsedChatCompletion``. ``s.stream`` is the underlying :class:`AsyncStream`. Use it
    with ``async with``, as an :class:`AsyncStream`.
    """

    def __init__(self, stream: AsyncStream, output: OutputFormat[T]) -> None:
        self.stream = stream
        self._output = output
        self._final: ParsedChatCompletion[T] | None = None

    def __aiter__(self) -> AsyncParsedStream[T]:
        return self

    async def __anext__(self) -> str:
        async for chunk in self.stream:
            text = content_delta(chunk)
            if text:
                return text
        raise StopAsyncIteration

    async def get_final_completion(self) -> ParsedChatCompletion[T]:
        """The whole answer, decoded. Raises ``StreamError`` when the stream failed,
        ``LengthFinishReasonError`` or ``OutputValidationError`` as ``parse`` does."""
        if self._final is None:
            whole = await self.stream.get_final_completion()
            self._final = self._output.parse_completion(whole)
        return self._final

    async def close(self) -> None:
        await self.stream.close()

    async def __aenter__(self) -> AsyncParsedStream[T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
