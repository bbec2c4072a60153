"""``ParsedStream``: a streamed structured answer read with blocking calls. Iterating gives
the text as it arrives; the end gives the object. Decoding is the core's (``structured``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from .._core.structured import OutputFormat, ParsedChatCompletion, content_delta
from .stream import Stream

__all__ = ["ParsedStream"]

T = TypeVar("T")


class ParsedStream(Generic[T]):
    """What ``chat.completions.stream(response_format=T)`` returns.

    ``for text in s`` yields the first choice's text deltas (the JSON as it is written);
    ``s.get_final_completion()`` reads what is left and returns a ``ParsedChatCompletion``,
    ``s.parsed`` its first object. ``s.stream`` is the underlying :class:`Stream` (typed
    chunks, ``.cost``, ``.usage``). Use it with ``with``, as a :class:`Stream`.
    """

    def __init__(self, stream: Stream, output: OutputFormat[T]) -> None:
        self.stream = stream
        self._output = output
        self._final: ParsedChatCompletion[T] | None = None

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        for chunk in self.stream:
            text = content_delta(chunk)
            if text:
                return text
        raise StopIteration

    def get_final_completion(self) -> ParsedChatCompletion[T]:
        """The whole answer, decoded. Raises ``StreamError`` when the stream failed,
        ``LengthFinishReasonError`` or ``OutputValidationError`` as ``parse`` does."""
        if self._final is None:
            self._final = self._output.parse_completion(self.stream.get_final_completion())
        return self._final

    @property
    def parsed(self) -> T | None:
        """The first choice's object (read to the end first)."""
        return self.get_final_completion().parsed

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> ParsedStream[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
