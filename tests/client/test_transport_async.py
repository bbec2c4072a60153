"""The asyncio shell under hostile timing: a consumer cancelled in its loop body frees its slot,
error bodies of stream requests have a deadline, and a client crosses ``os.fork()`` safely."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import warnings
from typing import Any

import pytest

import nanogpt
from conftest import KEY, USER
from nanogpt import InternalServerError, StreamError, StreamTimeoutError, Timeout
from nanogpt.emulator import Fault
from rawserver import RawConn, RawServer, http_response

MODEL = "openai/gpt-5-mini"
SAFETY = 20  # seconds: a cap on waits that must not hang, never an assertion on speed


def _run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, SAFETY))


# cancellation in the loop body ---------------------------------------------------------------

async def _slot_comes_back(c: nanogpt.AsyncNanoGPT) -> bool:
    try:
        r = await asyncio.wait_for(c.chat.completions.create(model=MODEL, messages=USER), 5)
    except asyncio.TimeoutError:
        return False
    return bool(r.text)


def test_task_cancelled_in_its_loop_body_frees_the_slot(emu) -> None:
    emu.inject(Fault(stall_after_chunks=3, stall=5), path="/chat")

    async def main() -> bool:
        async with nanogpt.AsyncNanoGPT(KEY, base_url=emu.base_url, max_concurrency=1) as c:
            working = asyncio.Event()

            async def consume() -> None:
                stream = await c.chat.completions.create(model=MODEL, messages=USER,
                                                         stream=True)
                async for _ in stream:  # not closed, no `async with`: the unmanaged case
                    working.set()
                    await asyncio.sleep(30)  # our own work: cancelled here

            task = asyncio.create_task(consume())
            await working.wait()
            task.cancel()
            await asyncio.wait([task])  # done, its CancelledError not retrieved: the task
            assert task.cancelled()     # keeps it, with the traceback that holds the stream
            return await _slot_comes_back(c)

    assert _run(main())


def test_task_failing_in_its_loop_body_frees_the_slot(emu) -> None:
    async def main() -> bool:
        async with nanogpt.AsyncNanoGPT(KEY, base_url=emu.base_url, max_concurrency=1) as c:

            async def consume() -> None:
                stream = await c.chat.completions.create(model=MODEL, messages=USER,
                                                         stream=True)
                async for _ in stream:
                    raise ValueError("our own bug")

            results = await asyncio.gather(consume(), return_exceptions=True)
            assert isinstance(results[0], ValueError)  # holds the traceback, and the stream
            return await _slot_comes_back(c)

    assert _run(main())


def test_a_stream_handed_to_another_task_stays_open(emu) -> None:
    """A task that reads the first chunk and ends normally does not close the stream."""

    async def main() -> str:
        async with nanogpt.AsyncNanoGPT(KEY, base_url=emu.base_url, max_concurrency=1) as c:
            stream = await c.chat.completions.create(model=MODEL, messages=USER, stream=True)

            async def first() -> Any:
                async for chunk in stream:
                    return chunk
                return None

            assert await asyncio.create_task(first()) is not None
            await asyncio.sleep(0)  # let the task's done callbacks run
            return (await stream.get_final_completion()).text

    assert _run(main())


# the error body of a stream request ----------------------------------------------------------

def test_trickled_error_body_of_a_stream_request_is_bounded_by_read() -> None:
    stop = threading.Event()

    def trickle(conn: RawConn) -> None:
        conn.read_request()
        conn.send(b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
                  b"content-length: 1000000\r\n\r\n")
        while not stop.is_set():  # a byte well inside `idle`, for ever
            conn.send(b" ")
            time.sleep(0.05)

    async def main(url: str) -> None:
        async with nanogpt.AsyncNanoGPT(KEY, base_url=url, max_retries=0,
                                        timeout=Timeout(read=0.5, idle=2)) as c:
            await c.chat.completions.create(model=MODEL, messages=USER, stream=True)

    with RawServer(trickle) as srv:
        try:
            with pytest.raises(InternalServerError):
                _run(main(srv.base_url))
        finally:
            stop.set()
        assert srv.count("POST") == 1


# fork ----------------------------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_client_used_in_a_forked_child_starts_fresh() -> None:
    """Forked while the parent's loop runs: the child makes its own connection (never the
    parent's pooled one), does not refuse to run, and closing the client there leaves the
    parent's connection alone (it still works, still registered with the parent's loop)."""
    served: list[int] = []  # the connection number of each request, in order
    lock = threading.Lock()
    numbers = iter(range(1000))

    def keep_alive(conn: RawConn) -> None:
        number = next(numbers)
        while conn.read_request() is not None:
            with lock:
                served.append(number)
            body = (b'{"id":"c","object":"chat.completion","created":1,"model":"m","choices":'
                    b'[{"index":0,"message":{"role":"assistant","content":"ok"},'
                    b'"finish_reason":"stop"}]}')
            conn.send(http_response(200, body))

    async def call(c: nanogpt.AsyncNanoGPT) -> str:
        return (await c.chat.completions.create(model=MODEL, messages=USER)).text

    async def use_and_close(c: nanogpt.AsyncNanoGPT) -> str:
        await c.close()  # the parent's session: must not be closed from here (shared epoll)
        try:
            return await call(c)
        finally:
            await c.close()  # the child's own

    def in_child(c: nanogpt.AsyncNanoGPT) -> int:
        try:
            return 0 if asyncio.run(asyncio.wait_for(use_and_close(c), SAFETY)) == "ok" else 1
        except BaseException:
            return 2

    async def parent(url: str) -> tuple[int, str]:
        c = nanogpt.AsyncNanoGPT(KEY, base_url=url, max_retries=0)
        assert await call(c) == "ok"  # a pooled connection, on this running loop
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
            pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            os._exit(in_child(c))
        _, status = await asyncio.get_running_loop().run_in_executor(
            None, os.waitpid, pid, 0)
        after = await call(c)
        await c.close()
        return os.waitstatus_to_exitcode(status), after

    with RawServer(keep_alive) as srv:
        code, after = _run(parent(srv.base_url))
    assert code == 0, "the child's call failed"
    assert after == "ok"
    assert len(served) == 3
    assert served[0] == served[2] != served[1]  # the child had a connection of its own


def test_stream_with_a_malformed_chunk_after_the_head_ends() -> None:
    """aiohttp stops the read timer on a malformed chunk and never fails the body's reader:
    without a watch on the connection, ``async for`` would wait for ever, ``idle`` or not."""
    event = (b'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m",'
             b'"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n')

    def handler(conn: RawConn) -> None:
        conn.read_request()
        conn.send(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                  b"transfer-encoding: chunked\r\n\r\n")
        time.sleep(0.1)
        conn.send(b"%x\r\n%s\r\nZZZ\r\n" % (len(event), event))
        conn.sock.close()

    async def main(url: str) -> StreamError:
        async with nanogpt.AsyncNanoGPT(KEY, base_url=url, max_retries=0,
                                        timeout=Timeout(idle=1)) as c:
            stream = await c.chat.completions.create(model=MODEL, messages=USER, stream=True)
            try:
                async for _ in stream:
                    pass
            except StreamError as e:
                return e
            raise AssertionError("no error")

    with RawServer(handler) as srv:
        error = _run(main(srv.base_url))
    assert error.partial_text == "Hel" and error.answer_cut is True
    assert not isinstance(error, StreamTimeoutError)
