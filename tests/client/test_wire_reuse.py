"""Both clients against raw-socket servers that misbehave around the answer's head: bytes that
arrive on an idle keep-alive connection (never another call's answer), and a stream request's
head that never completes (interim answers without end, a trickled head). Every server counts
the POSTs it received."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import nanogpt
from conftest import KEY, LoopThread, SyncProxy
from nanogpt import Timeout
from rawserver import (
    SSE_END,
    STREAM_HEAD,
    RawConn,
    RawServer,
    asked,
    completion,
    http_response,
    sse_piece,
)
from test_transport_sync import forked, needs_fork

MODEL = "openai/gpt-5-mini"


def ask(client: Any, text: str, **kw: Any) -> Any:
    return client.chat.completions.create(model=MODEL, messages=[{"role": "user",
                                                                  "content": text}], **kw)



@pytest.fixture
def raw_client(kind: str, loop_thread: LoopThread) -> Iterator[Callable[..., Any]]:
    """Clients of both kinds (as ``make_client``) for a raw server's base URL."""
    made: list[Any] = []

    def make(base_url: str, **kw: Any) -> Any:
        if kind == "sync":
            client: Any = nanogpt.NanoGPT(KEY, base_url=base_url, **kw)
        else:
            client = SyncProxy(nanogpt.AsyncNanoGPT(KEY, base_url=base_url, **kw), loop_thread)
        made.append(client)
        return client

    yield make
    for c in made:
        with contextlib.suppress(Exception):
            c.close()


# bytes on an idle connection ----------------------------------------------------------------

@pytest.mark.timeout(60)
def test_an_answer_arriving_on_an_idle_connection_is_never_handed_to_the_next_call(
        raw_client: Callable[..., Any]) -> None:
    """A server (or a broken proxy) sends a second, unasked-for answer on a keep-alive
    connection after the first call has ended. The next call must not take it for its own."""
    answered = threading.Event()
    stale_sent = threading.Event()

    def handler(conn: RawConn) -> None:
        while (req := conn.read_request()) is not None:
            conn.send(http_response(200, completion(asked(req.body))))
            if not stale_sent.is_set():
                answered.wait(10)  # the first call has returned: its connection is idle
                conn.send(http_response(200, completion("stale")))
                stale_sent.set()

    with RawServer(handler) as srv:
        client = raw_client(srv.base_url, max_retries=0)
        assert ask(client, "first").text == "first"
        answered.set()
        assert stale_sent.wait(10)
        time.sleep(0.2)  # let it arrive (not an assertion on time)
        assert ask(client, "second").text == "second"
        assert ask(client, "third").text == "third"
        assert srv.count("POST") == 3


# a stream request's head that never completes ------------------------------------------------

def _endless_head(parts: Callable[[], Iterator[bytes]]) -> Callable[[RawConn], None]:
    def handler(conn: RawConn) -> None:
        if conn.read_request() is None:
            return
        try:
            for part in parts():
                conn.sock.sendall(part)
                time.sleep(0.05)
        except OSError:
            return
    return handler


def _interim_forever() -> Iterator[bytes]:
    for _ in range(2000):
        yield b"HTTP/1.1 102 Processing\r\n\r\n"


def _trickled_head() -> Iterator[bytes]:
    yield b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nx-slow: "
    for _ in range(2000):
        yield b"a"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("parts", [_interim_forever, _trickled_head], ids=["interim", "trickle"])
def test_a_stream_head_that_never_completes_ends_at_first_event(
        raw_client: Callable[..., Any], parts: Callable[[], Iterator[bytes]]) -> None:
    """Each piece of the head is a byte, so ``idle`` never strikes; ``first_event`` bounds the
    wait for the head too (before this, the async client waited for ever on 102s and both
    clients on a head trickled a byte at a time)."""
    with RawServer(_endless_head(parts)) as srv:
        client = raw_client(srv.base_url, max_retries=2,
                            timeout=Timeout(connect=5, read=5, idle=5, first_event=0.5))
        with pytest.raises(nanogpt.APITimeoutError), ask(client, "x", stream=True) as s:
            list(s)
        assert srv.count("POST") == 1  # it was sent: never re-sent


# a stream open across fork() ------------------------------------------------------------------

@needs_fork
@pytest.mark.timeout(120)
def test_a_stream_open_at_fork_is_read_only_by_the_parent() -> None:
    """The child shares the stream's socket: reading it there took chunks from the parent's
    answer (and the parent then waited for the ones it lost). The child gets a StreamError."""
    rest = threading.Event()

    def handler(conn: RawConn) -> None:
        if conn.read_request() is None:
            return
        conn.send(STREAM_HEAD + sse_piece("<0>"))
        rest.wait(30)
        for i in range(1, 10):
            conn.send(sse_piece(f"<{i}>"))
        conn.send(SSE_END)
        with contextlib.suppress(OSError):
            while conn.sock.recv(1024):
                pass

    with RawServer(handler) as srv, nanogpt.NanoGPT(KEY, base_url=srv.base_url, max_retries=0,
                                                  timeout=Timeout(idle=5)) as client:
        stream = ask(client, "x", stream=True)
        assert next(stream).choices[0].delta.content == "<0>"

        def child() -> int:
            try:
                next(stream)
            except nanogpt.StreamError as e:
                return 0 if "fork" in str(e) else 1
            return 2

        with forked(child) as wait:
            rest.set()
            got = [chunk.choices[0].delta.content for chunk in stream]
            assert wait() == 0
        assert got == [f"<{i}>" for i in range(1, 10)]
        assert srv.count("POST") == 1
