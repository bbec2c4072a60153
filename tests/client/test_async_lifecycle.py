"""An ``AsyncNanoGPT`` nobody closed: its connections are released, nothing is printed by
default, and a standard ``ResourceWarning`` (which the warning filters control, as for an
unclosed file) says so; aiohttp's "Unclosed client session" never reaches stderr.

Interpreter exit can only be watched from outside, so most cases run a small program in a
subprocess against the session's emulator."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import threading
import warnings

import pytest

import nanogpt
from conftest import KEY, USER, LoopThread
from nanogpt._async.session import UNCLOSED
from rawserver import SSE_END, STREAM_HEAD, RawConn, RawServer, completion, http_response, sse_piece

SAFETY = 30  # seconds: a cap on a subprocess or a wait, never an assertion on speed

_PROGRAM = """
import asyncio, gc, sys
import nanogpt

URL, CASE, KEY = sys.argv[1:4]
MODEL, USER = "openai/gpt-5-mini", [{"role": "user", "content": "Hi"}]
kept = []  # alive until the interpreter exits


async def use(c, stream=False):
    if not stream:
        await c.chat.completions.create(model=MODEL, messages=USER)
        return
    s = await c.chat.completions.create(model=MODEL, messages=USER, stream=True)
    kept.append(s)
    async for _ in s:
        break  # left open


def dropped_after_its_loop_closed():
    c = nanogpt.AsyncNanoGPT(KEY, base_url=URL)
    asyncio.run(use(c))
    del c
    gc.collect()


async def dropped_while_its_loop_runs():
    c = nanogpt.AsyncNanoGPT(KEY, base_url=URL)
    await use(c)
    del c
    gc.collect()
    print("dropped", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


client = nanogpt.AsyncNanoGPT(KEY, base_url=URL)
kept.append(client)
if CASE == "used in asyncio.run":
    asyncio.run(use(client))
elif CASE == "never used":
    pass
elif CASE == "a stream left open":
    asyncio.run(use(client, stream=True))
elif CASE == "used on a loop never closed":
    loop = asyncio.new_event_loop()
    loop.run_until_complete(use(client))
    kept.append(loop)
elif CASE == "dropped after its loop closed":
    dropped_after_its_loop_closed()
elif CASE == "dropped while its loop runs":
    asyncio.run(dropped_while_its_loop_runs())
print("done", flush=True)
"""

CASES = ["used in asyncio.run", "never used", "a stream left open",
         "used on a loop never closed", "dropped after its loop closed"]
WARNINGS_AS_ERRORS = ("-W", "error::ResourceWarning")
AIOHTTP_NOISE = ("Unclosed client session", "Unclosed connector", "Unclosed connection")
Run = tuple[int, str, str]  # exit code, stdout, stderr


@pytest.fixture(scope="module")
def runs(nanogpt_emulator_session) -> dict[tuple[str, bool], Run]:
    """Each case run by default and with ``-W error::ResourceWarning``: all at once, as
    each spends most of its second importing."""
    url = nanogpt_emulator_session.base_url
    procs = {(case, strict): subprocess.Popen(
                [sys.executable, *(WARNINGS_AS_ERRORS if strict else ()), "-c", _PROGRAM,
                 url, case, KEY], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for case in CASES for strict in (False, True)}
    done: dict[tuple[str, bool], Run] = {}
    try:
        for key, proc in procs.items():
            out, err = proc.communicate(timeout=SAFETY)
            done[key] = (proc.returncode, out, err)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return done


@pytest.mark.parametrize("case", CASES)
def test_an_unclosed_client_prints_nothing_by_default(runs, case: str) -> None:
    assert runs[case, False] == (0, "done\n", "")


@pytest.mark.parametrize("case", [c for c in CASES if c != "never used"])
def test_an_unclosed_client_is_a_resource_warning_the_filters_control(runs, case: str) -> None:
    """``-W error::ResourceWarning`` turns it into an error (reported, as Python reports
    any exception in a finalizer), naming our client and what to do; aiohttp's own messages
    never come."""
    _, out, err = runs[case, True]
    assert out == "done\n"
    assert f"ResourceWarning: {UNCLOSED}" in err
    assert not [noise for noise in AIOHTTP_NOISE if noise in err], err


def test_a_client_never_used_has_nothing_to_warn_about(runs) -> None:
    assert runs["never used", True] == (0, "done\n", "")


class _ClosedWatch:
    """A keep-alive server that notes when the client closes its connection."""

    def __init__(self) -> None:
        self.closed = threading.Event()
        self.answer = http_response(200, completion("ok"))

    def __call__(self, conn: RawConn) -> None:
        while conn.read_request() is not None:
            conn.send(self.answer)
        self.closed.set()


def test_a_client_dropped_while_its_loop_runs_closes_its_connection_at_once() -> None:
    """Garbage-collected while its event loop still runs: the pooled connection is closed
    then (not at exit), silently."""
    watch = _ClosedWatch()
    with RawServer(watch) as srv:
        proc = subprocess.Popen([sys.executable, "-c", _PROGRAM, srv.base_url,
                                 "dropped while its loop runs", KEY], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None and proc.stdout.readline() == "dropped\n"
            closed_while_running = watch.closed.wait(SAFETY)
            out, err = proc.communicate("go on\n", timeout=SAFETY)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert closed_while_running
    assert (proc.returncode, out, err) == (0, "done\n", "")


def test_a_client_dropped_from_another_thread_closes_on_its_own_loop() -> None:
    """The garbage collector may finalize the client in any thread; its connections are
    closed on the thread of the loop that owns them, and the warning is raised."""
    watch = _ClosedWatch()
    runner = LoopThread()
    try:
        with RawServer(watch) as srv:
            c = nanogpt.AsyncNanoGPT(KEY, base_url=srv.base_url)
            runner.run(c.chat.completions.create(model="openai/gpt-5-mini", messages=USER))
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                del c
                gc.collect()
            assert watch.closed.wait(SAFETY)
    finally:
        runner.stop()
        runner.loop.close()
    assert UNCLOSED in [str(w.message) for w in caught]  # (other tests' garbage may warn)


def test_a_closed_client_is_not_warned_about(emu) -> None:
    async def use_and_close() -> None:
        async with nanogpt.AsyncNanoGPT(KEY, base_url=emu.base_url) as c:
            await c.chat.completions.create(model="openai/gpt-5-mini", messages=USER)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(use_and_close())
        gc.collect()
    assert UNCLOSED not in [str(w.message) for w in caught]  # (other tests' garbage may warn)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_stream_outlives_its_dropped_client(kind: str) -> None:
    """``return await AsyncNanoGPT().chat.completions.create(stream=True)``: the client is
    dropped while its stream is still read. The stream holds what it reads from; the client's
    finalizer must not cut it (it did: 'connection broken: Connection closed.')."""
    dropped = threading.Event()

    def handler(conn: RawConn) -> None:
        if conn.read_request() is None:
            return
        conn.send(STREAM_HEAD + sse_piece("a"))
        dropped.wait(SAFETY)  # the rest only once the client is gone
        conn.send(sse_piece("b") + SSE_END)

    async def open_and_drop(url: str) -> nanogpt.AsyncStream:
        c = nanogpt.AsyncNanoGPT(KEY, base_url=url, max_concurrency=1)
        return await c.chat.completions.create(model="m", messages=USER, stream=True)

    async def read_async(url: str) -> str:
        s = await open_and_drop(url)
        gc.collect()
        dropped.set()
        return (await s.get_final_completion()).text or ""

    def read_sync(url: str) -> str:
        c = nanogpt.NanoGPT(KEY, base_url=url, max_concurrency=1)
        s = c.chat.completions.create(model="m", messages=USER, stream=True)
        del c
        gc.collect()
        dropped.set()
        return s.get_final_completion().text or ""

    with RawServer(handler) as srv, warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # the dropped client's, as it should
        text = asyncio.run(read_async(srv.base_url)) if kind == "async" else read_sync(
            srv.base_url)
    assert text == "ab"
