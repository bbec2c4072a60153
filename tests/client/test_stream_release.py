"""An async stream dropped outside its event loop (issue 9): the garbage collector may finalize
it in another thread, or after ``asyncio.run`` closed the loop. Its connection and concurrency
slot belong to the loop, so the release must be handed to the loop, or dropped with it, and
never raise from the finalizer."""

from __future__ import annotations

import asyncio
import gc
import sys
from typing import Any

import pytest

import nanogpt
from conftest import KEY, USER
from nanogpt.emulator import Fault

MODEL = "openai/gpt-5-mini"


@pytest.fixture
def unraisable(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What finalizers raised (Python prints it as "Exception ignored in ...")."""
    seen: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    return seen


def _described(seen: list[Any]) -> list[str]:
    return [f"{u.exc_type.__name__}: {u.exc_value}" for u in seen]


def test_an_async_stream_dropped_in_another_thread_is_released_on_its_loop(
        emu, unraisable) -> None:
    emu.inject(Fault(stall_after_chunks=1, stall=5), path="/chat")  # the body stays open

    async def main() -> str:
        async with nanogpt.AsyncNanoGPT(KEY, base_url=emu.base_url, max_concurrency=1) as c:
            box = [await c.chat.completions.create(model=MODEL, messages=USER, stream=True)]
            await asyncio.to_thread(box.clear)  # the last reference goes in a worker thread
            for _ in range(3):
                await asyncio.sleep(0)  # the loop runs what the finalizer handed it
            # the one slot is free again: this task holds none (else ConcurrencyDeadlockError)
            async with await c.chat.completions.create(model=MODEL, messages=USER,
                                                       stream=True) as s:
                return (await s.get_final_completion()).text or ""

    # debug mode: asyncio refuses loop calls from another thread instead of racing
    assert asyncio.run(main(), debug=True)
    assert _described(unraisable) == []


def test_an_async_stream_dropped_after_its_loop_closed_raises_nothing(emu, unraisable) -> None:
    emu.inject(Fault(stall_after_chunks=1, stall=5), path="/chat")
    async def open_stream() -> tuple[nanogpt.AsyncNanoGPT, nanogpt.AsyncStream]:
        c = nanogpt.AsyncNanoGPT(KEY, base_url=emu.base_url)
        return c, await c.chat.completions.create(model=MODEL, messages=USER, stream=True)

    client, stream = asyncio.run(open_stream())  # the loop is closed when this returns
    del stream
    gc.collect()
    assert _described(unraisable) == []
    del client
    gc.collect()
