"""The in-flight limit: async tasks and threads sharing one client; streams hold their slot; an
async client used from one event loop after another, or from two at once."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest

import nanogpt
from conftest import KEY, USER
from nanogpt.emulator import Fault

MODEL = "openai/gpt-5-mini"


def test_async_150_calls_never_exceed_50_in_flight(emu, capsys) -> None:
    emu.inject(Fault(delay=0.2), times=None, path="/chat")

    async def main() -> float:
        async with nanogpt.AsyncNanoGPT(KEY, base_url=emu.base_url) as c:
            t = time.perf_counter()
            results = await asyncio.gather(*(
                c.chat.completions.create(model=MODEL, messages=USER) for _ in range(150)))
            assert all(r.text for r in results)
            return time.perf_counter() - t

    elapsed = asyncio.run(main())
    assert emu.count() == 150
    assert emu.peak_in_flight == 50  # the limit is reached, never passed
    with capsys.disabled():
        print(f"\n  150 async calls of 200 ms, 50 wide: {elapsed * 1000:.0f} ms "
              f"(ideal 600 ms)")


def test_threads_sharing_a_sync_client_never_exceed_50_in_flight(emu, capsys) -> None:
    emu.inject(Fault(delay=0.2), times=None, path="/chat")
    with nanogpt.NanoGPT(KEY, base_url=emu.base_url) as c, ThreadPoolExecutor(150) as pool:
        t = time.perf_counter()
        results = list(pool.map(
            lambda _: c.chat.completions.create(model=MODEL, messages=USER), range(150)))
        elapsed = time.perf_counter() - t
    assert all(r.text for r in results)
    assert emu.count() == 150
    assert emu.peak_in_flight == 50
    with capsys.disabled():
        print(f"\n  150 threaded calls of 200 ms, 50 wide: {elapsed * 1000:.0f} ms "
              f"(ideal 600 ms)")


def test_a_custom_limit_and_no_limit(emu) -> None:
    emu.inject(Fault(delay=0.5), times=None, path="/chat")

    async def main(limit: int | None) -> None:
        async with nanogpt.AsyncNanoGPT(KEY, base_url=emu.base_url,
                                        max_concurrency=limit) as c:
            await asyncio.gather(*(c.chat.completions.create(model=MODEL, messages=USER)
                                   for _ in range(30)))

    asyncio.run(main(5))
    assert emu.peak_in_flight == 5
    emu.reset_stats()
    asyncio.run(main(None))
    assert emu.peak_in_flight == 30


def test_a_sync_stream_holds_its_slot_until_closed(emu) -> None:
    c = nanogpt.NanoGPT(KEY, base_url=emu.base_url, max_concurrency=2)
    s = c.chat.completions.create(model=MODEL, messages=USER, stream=True)
    assert c._slots._value == 1  # type: ignore[union-attr]
    next(s)
    assert c._slots._value == 1  # type: ignore[union-attr]
    s.close()
    assert c._slots._value == 2  # type: ignore[union-attr]
    with c.chat.completions.create(model=MODEL, messages=USER, stream=True) as s2:
        list(s2)
    assert c._slots._value == 2  # type: ignore[union-attr]
    s3 = c.chat.completions.create(model=MODEL, messages=USER, stream=True)
    del s3  # dropped without closing: released by the garbage collector
    assert c._slots._value == 2  # type: ignore[union-attr]


def test_an_async_stream_holds_its_slot_until_closed(emu) -> None:
    async def main() -> None:
        c = nanogpt.AsyncNanoGPT(KEY, base_url=emu.base_url, max_concurrency=2)
        s = await c.chat.completions.create(model=MODEL, messages=USER, stream=True)
        slots = c._state.slots  # type: ignore[union-attr]
        assert slots._value == 1
        await s.__anext__()
        await s.close()
        assert slots._value == 2
        async with await c.chat.completions.create(model=MODEL, messages=USER,
                                                   stream=True) as s2:
            async for _ in s2:
                pass
        assert slots._value == 2
        await c.close()

    asyncio.run(main())


def test_async_client_survives_a_new_event_loop(emu) -> None:
    c = nanogpt.AsyncNanoGPT(KEY, base_url=emu.base_url)

    async def once() -> str:
        return (await c.chat.completions.create(model=MODEL, messages=USER)).text

    assert asyncio.run(once()) == asyncio.run(once())


def test_cancelling_an_async_stream_releases_the_slot(emu) -> None:
    emu.inject(Fault(stall_after_chunks=3, stall=5))

    async def main() -> None:
        c = nanogpt.AsyncNanoGPT(KEY, base_url=emu.base_url, max_concurrency=1)

        async def consume() -> None:
            s = await c.chat.completions.create(model=MODEL, messages=USER, stream=True)
            async with s:
                async for _ in s:
                    pass

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.2)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        r = await asyncio.wait_for(c.chat.completions.create(model=MODEL, messages=USER), 10)
        assert r.text
        await c.close()

    asyncio.run(main())


def test_sequential_event_loops_leave_no_unclosed_sessions(emu) -> None:
    gc.collect()  # what earlier tests left behind warns now, not inside the check below
    c = nanogpt.AsyncNanoGPT(KEY, base_url=emu.base_url)

    async def once() -> None:
        await c.chat.completions.create(model=MODEL, messages=USER)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            asyncio.run(once())
        gc.collect()
    assert not [w for w in caught if "Unclosed" in str(w.message)]


def test_two_live_event_loops_are_refused_rather_than_exceeding_the_limit(emu) -> None:
    c = nanogpt.AsyncNanoGPT(KEY, base_url=emu.base_url, max_concurrency=1)
    emu.inject(Fault(delay=1.0), path="/chat")
    done = threading.Event()

    def other_thread() -> None:
        async def slow() -> None:
            await c.chat.completions.create(model=MODEL, messages=USER)
        asyncio.run(slow())
        done.set()

    t = threading.Thread(target=other_thread)
    t.start()
    deadline = time.monotonic() + 10
    while emu.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.01)

    async def second() -> None:
        await c.chat.completions.create(model=MODEL, messages=USER)

    with pytest.raises(RuntimeError, match="another running event loop"):
        asyncio.run(second())
    t.join(10)
    assert done.is_set()
