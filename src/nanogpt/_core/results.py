"""What a call hands back besides its decoded object: the request id on every result, and the
raw answer (``client.with_raw_response``). No I/O.

``with_request_id`` writes the answer's ``X-Request-ID`` on the object a call decoded, once per
call (a stream's chunks are not touched: the stream holds it, see ``StreamBase.request_id``, so
reading a chunk costs nothing more). :class:`RawResponse` is what a call made through
``client.with_raw_response`` returns: the status, the headers and the body as they came, and
``parse()`` for the object the plain call would have returned. The body is read whole before a
``RawResponse`` is made (the connection and the concurrency slot are given back at once, as
for a plain call), so parsing later neither waits nor can fail for want of a connection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar, cast

from .types import Balance, KeepsRaw, ModelPage, loads

__all__ = ["AsyncRawResponse", "RawResponse", "parsed", "then", "with_request_id"]

T = TypeVar("T")
U = TypeVar("U")


def with_request_id(result: T, headers: Mapping[str, str]) -> T:
    """``result`` with the answer's request id on it (and on each model of a model list)."""
    rid = headers.get("x-request-id")
    if isinstance(result, KeepsRaw):
        result.__dict__["_request_id"] = rid
    elif isinstance(result, (Balance, ModelPage)):
        result.request_id = rid
        if isinstance(result, ModelPage):
            for m in result:
                m.__dict__["_request_id"] = rid
    return result


class _Raw(Generic[T]):
    """The fields both kinds of raw response share."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes | None,
                 parse: Callable[[], T]) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {k.lower(): v for k, v in headers.items()}
        self._body = body
        self._parse = parse

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")

    @property
    def content(self) -> bytes:
        """The body as received. A stream's body is not read here: ``parse()`` it."""
        if self._body is None:
            raise TypeError("a stream's body is read through the stream: call parse()")
        return self._body

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON (builtins)."""
        return loads(self.content)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(status_code={self.status_code}, "
                f"request_id={self.request_id!r})")


class RawResponse(_Raw[T]):
    """An answer as it came: ``status_code``, ``headers`` (lower-case names), ``request_id``,
    ``content``/``text``/``json()``, and ``parse()``: the object the plain call returns (a
    ``ChatCompletion``, a ``Stream``...), decoded on first call and kept."""

    def parse(self) -> T:
        return self._parse()


class AsyncRawResponse(_Raw[T]):
    """:class:`RawResponse` for the async client: ``await raw.parse()``, as in ``openai``."""

    async def parse(self) -> T:
        return self._parse()


def then(result: Any, step: Callable[[Any], U]) -> U:
    """``step(result)``; for a raw response, one whose ``parse()`` applies ``step`` to what
    it holds (``with_raw_response.chat.completions.parse``: the raw answer, parsed into the
    structured completion on demand)."""
    if isinstance(result, _Raw):
        inner = result._parse
        return cast(U, type(result)(result.status_code, result.headers, result._body,
                                    once(lambda: step(inner()))))
    return step(result)


def parsed(result: Any) -> Any:
    """``result``, or what it holds when it is a raw response (``models.retrieve`` reads the
    catalog through ``models.list``, which in the raw view returns one)."""
    return result._parse() if isinstance(result, _Raw) else result


def once(make: Callable[[], T]) -> Callable[[], T]:
    """``make`` called at most once: a second ``parse()`` returns the same object."""
    done: list[T] = []

    def get() -> T:
        if not done:
            done.append(make())
        return done[0]
    return get
