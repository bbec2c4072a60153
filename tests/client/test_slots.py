"""Concurrency slots are counted per thread (sync) and per task (async): a call that would wait
for a slot while its own thread or task holds every one (an earlier stream still open) is
refused with ``ConcurrencyDeadlockError`` instead of hanging; a caller that holds only some
slots still waits for the others."""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import pytest

import nanogpt
from conftest import KEY, USER
from nanogpt import Timeout

MODEL = "openai/gpt-5-mini"


def open_stream(client: nanogpt.NanoGPT) -> nanogpt.Stream:
    return client.chat.completions.create(model=MODEL, messages=USER, stream=True)


@pytest.mark.timeout(60)
def test_rebinding_an_unclosed_stream_at_the_limit_raises_instead_of_hanging(emu) -> None:
    client = nanogpt.NanoGPT(KEY, base_url=emu.base_url, max_concurrency=1)
    s = open_stream(client)
    for _ in s:
        break
    with pytest.raises(nanogpt.ConcurrencyDeadlockError, match="earlier stream is still open"):
        s = open_stream(client)  # the old stream still holds the only slot
    assert emu.count("/chat") == 1  # refused before sending
    s.close()
    for _ in range(3):  # the advice works
        with open_stream(client) as s:
            for _ in s:
                break
    assert emu.count("/chat") == 4
    client.close()


@pytest.mark.timeout(60)
def test_with_a_total_timeout_the_wait_ends_there_and_says_why(emu) -> None:
    client = nanogpt.NanoGPT(KEY, base_url=emu.base_url, max_concurrency=1,
                             timeout=Timeout(connect=2, read=5, idle=5, total=0.2))
    with open_stream(client), pytest.raises(nanogpt.APITimeoutError, match="holds all 1"):
        open_stream(client)
    client.close()


@pytest.mark.timeout(60)
def test_a_thread_holding_some_slots_waits_for_slots_held_by_others(emu) -> None:
    client = nanogpt.NanoGPT(KEY, base_url=emu.base_url, max_concurrency=2)
    slots = client._slots
    assert slots is not None
    other_holds = threading.Event()

    def other() -> None:
        with open_stream(client) as s:
            next(s)
            other_holds.set()
            while not slots._waiting:  # until the main thread waits for this slot
                time.sleep(0.01)

    t = threading.Thread(target=other)
    with open_stream(client) as mine:
        next(mine)
        t.start()
        assert other_holds.wait(30)
        # one slot is this thread's, one the other thread's: wait, do not refuse
        assert client.chat.completions.create(model=MODEL, messages=USER).text
    t.join()
    assert emu.count("/chat") == 3
    client.close()


@pytest.mark.timeout(60)
def test_a_stream_closed_by_another_thread_frees_its_openers_count(emu) -> None:
    client = nanogpt.NanoGPT(KEY, base_url=emu.base_url, max_concurrency=1)
    s = open_stream(client)
    t = threading.Thread(target=s.close)
    t.start()
    t.join()
    with open_stream(client) as s2:
        assert next(s2).choices
    client.close()


@pytest.mark.timeout(60)
def test_async_rebinding_an_unclosed_stream_at_the_limit_raises_instead_of_hanging(emu) -> None:
    async def main() -> None:
        async with nanogpt.AsyncNanoGPT(KEY, base_url=emu.base_url, max_concurrency=1) as c:
            s = await c.chat.completions.create(model=MODEL, messages=USER, stream=True)
            async for _ in s:
                break
            with pytest.raises(nanogpt.ConcurrencyDeadlockError, match="task"):
                s = await c.chat.completions.create(model=MODEL, messages=USER, stream=True)
            assert emu.count("/chat") == 1
            await s.close()
            for _ in range(3):
                async with await c.chat.completions.create(model=MODEL, messages=USER,
                                                           stream=True) as s:
                    async for _ in s:
                        break
            assert emu.count("/chat") == 4

    asyncio.run(main())


@pytest.mark.timeout(60)
def test_async_a_task_holding_some_slots_waits_for_slots_held_by_others(emu) -> None:
    async def main() -> None:
        async with nanogpt.AsyncNanoGPT(KEY, base_url=emu.base_url, max_concurrency=2) as c:
            other_holds = asyncio.Event()

            async def other() -> None:
                async with await c.chat.completions.create(model=MODEL, messages=USER,
                                                           stream=True) as s:
                    await s.__anext__()
                    other_holds.set()
                    sem = c._state.slots._sem  # type: ignore[union-attr]
                    while not sem._waiters:  # until the main task waits for this slot
                        await asyncio.sleep(0.01)

            async with await c.chat.completions.create(model=MODEL, messages=USER,
                                                       stream=True) as mine:
                await mine.__anext__()
                task = asyncio.create_task(other())
                await other_holds.wait()
                # one slot is this task's, one the other task's: wait, do not refuse
                assert (await c.chat.completions.create(model=MODEL, messages=USER)).text
                await task
            assert emu.count("/chat") == 3

    asyncio.run(main())



class _Interrupted(BaseException):
    """What a signal handler raises here (as KeyboardInterrupt or a SIGTERM handler would)."""


@pytest.mark.timeout(60)
@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs pthread_kill")
def test_a_waiter_interrupted_as_it_is_woken_passes_the_slot_on(emu) -> None:
    """The main thread waits for the only slot, then another thread does; the slot is given
    back and main is interrupted as it wakes. That wakeup was main's: without passing it on,
    the other thread waited for a free slot until its total timeout (without one, for ever)."""
    client = nanogpt.NanoGPT(KEY, base_url=emu.base_url, max_concurrency=1,
                             timeout=Timeout(connect=5, read=10, idle=10, total=8))
    slots = client._slots
    assert slots is not None
    holding: list[nanogpt.Stream] = []
    opened = threading.Thread(target=lambda: holding.append(open_stream(client)))
    opened.start()
    opened.join(10)
    results: list[object] = []

    def other() -> None:
        try:
            with open_stream(client) as s:
                results.append(next(iter(s)).id)
        except Exception as e:  # reported through results
            results.append(e)

    other_thread = threading.Thread(target=other)

    def conductor(main: int) -> None:
        while slots._waiting < 1:  # main waits first
            time.sleep(0.005)
        other_thread.start()
        while slots._waiting < 2:
            time.sleep(0.005)
        holding[0].close()  # wakes main...
        signal.pthread_kill(main, signal.SIGUSR1)  # ...which is interrupted as it wakes

    def interrupt(signum: int, frame: object) -> None:
        raise _Interrupted

    old = signal.signal(signal.SIGUSR1, interrupt)
    try:
        threading.Thread(target=conductor, args=(threading.get_ident(),)).start()
        with pytest.raises(_Interrupted), open_stream(client):
            pass
    finally:
        signal.signal(signal.SIGUSR1, old)
    other_thread.join(30)
    assert len(results) == 1 and isinstance(results[0], str), results
    client.close()
