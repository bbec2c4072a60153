"""The transport boundary (``_core/transport.py``): both stream classes read a ``StreamBody``, so
a scripted one drives them with no socket and no event loop of aiohttp's. What is checked is
what crosses the boundary: the bytes in, and the one ``reusable`` flag out, given once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest

from nanogpt import AsyncStream, Stream, StreamError, StreamTimeoutError
from nanogpt._core.stream import StreamCore
from nanogpt._core.transport import TransportFailure

FRAME = b'data: {"choices": [{"index": 0, "delta": {"content": "hi"}}]}\n\n'
DONE = b"data: [DONE]\n\n"


class ScriptedBody:
    """A ``StreamBody`` and an ``AsyncStreamBody``: hands out ``pieces`` (a ``TransportFailure``
    is raised when its turn comes), then ``b""``; records what the stream asked."""

    def __init__(self, pieces: Iterable[bytes | TransportFailure], *,
                 drains: bool = True) -> None:
        self.pieces = list(pieces)
        self.drains = drains
        self.drained = 0
        self.released: list[bool] = []

    def _next(self) -> bytes:
        if not self.pieces:
            return b""
        piece = self.pieces.pop(0)
        if isinstance(piece, TransportFailure):
            raise piece
        return piece

    def read(self) -> bytes:
        return self._next()

    def drain(self) -> bool:
        self.drained += 1
        self.pieces.clear()
        return self.drains

    def release(self, reusable: bool) -> None:
        self.released.append(reusable)


class AsyncScriptedBody(ScriptedBody):
    async def read(self) -> bytes:  # type: ignore[override]
        return self._next()

    async def drain(self) -> bool:  # type: ignore[override]
        return ScriptedBody.drain(self)


def sync_stream(body: ScriptedBody) -> Stream:
    return Stream(body, StreamCore(), {})


def test_a_whole_stream_drains_and_gives_the_connection_back_reusable() -> None:
    body = ScriptedBody([FRAME, FRAME + DONE, b": left after [DONE]\n\n"])
    with sync_stream(body) as s:
        assert [c.choices[0].delta.content for c in s] == ["hi", "hi"]
        assert s.text == "hihi" and s.completed
    assert body.drained == 1
    assert body.released == [True]


def test_a_body_that_does_not_end_after_done_is_not_reused() -> None:
    body = ScriptedBody([FRAME + DONE], drains=False)
    assert sync_stream(body).get_final_completion().text == "hi"
    assert body.released == [False]


def test_a_stream_closed_early_is_given_back_once_and_not_reusable() -> None:
    body = ScriptedBody([FRAME, FRAME, DONE])
    s = sync_stream(body)
    assert next(s).choices[0].delta.content == "hi"
    s.close()
    s.close()
    del s
    assert body.released == [False]
    assert body.drained == 0


def test_a_body_that_ends_without_done_fails_but_the_connection_is_clean() -> None:
    body = ScriptedBody([FRAME])
    with pytest.raises(StreamError, match="before \\[DONE\\]") as info:
        sync_stream(body).get_final_completion()
    assert info.value.partial_text == "hi"
    assert body.released == [True]  # the body was read to its end: the connection is fine


@pytest.mark.parametrize("timeout", [False, True])
def test_a_transport_failure_mid_stream_is_a_stream_error(timeout: bool) -> None:
    body = ScriptedBody([FRAME, TransportFailure("reset", sent=True, timeout=timeout)])
    with pytest.raises(StreamError, match="the stream was cut: reset") as info:
        sync_stream(body).get_final_completion()
    assert isinstance(info.value, StreamTimeoutError) is timeout
    assert info.value.partial_text == "hi"
    assert body.released == [False]


def test_the_async_stream_reads_the_same_boundary() -> None:
    whole = AsyncScriptedBody([FRAME, FRAME + DONE])
    cut = AsyncScriptedBody([FRAME, TransportFailure("reset", sent=True)])

    async def main() -> None:
        async with AsyncStream(whole, StreamCore(), {}) as s:
            assert [c.choices[0].delta.content async for c in s] == ["hi", "hi"]
        with pytest.raises(StreamError, match="cut: reset"):
            await AsyncStream(cut, StreamCore(), {}).get_final_completion()

    asyncio.run(main())
    assert whole.released == [True] and whole.drained == 1
    assert cut.released == [False]
