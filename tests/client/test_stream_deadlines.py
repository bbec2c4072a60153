"""Streams have a bound on the time to their first chunk and on their whole length (issue 8,
item 5): a server that only ever sends keep-alive comments, or never stops, cannot hold a call
forever. Raw servers make the endless streams; no assertion here is on wall time."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conftest import USER
from nanogpt import StreamTimeoutError, Timeout
from nanogpt._core.deadlines import Limits
from nanogpt._core.stream import StreamCore
from rawserver import RawConn, RawServer

HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
        b"connection: close\r\n\r\n")
FRAME = b'data: {"choices": [{"index": 0, "delta": {"content": "hi"}}]}\n\n'


def endless(first: bytes, every: bytes) -> Callable[[RawConn], None]:
    """A stream that sends ``first``, then ``every`` each 20 ms until the client goes away."""
    def handler(conn: RawConn) -> None:
        if conn.read_request() is None:
            return
        try:
            conn.sock.sendall(HEAD + first)
            while not conn.server._stopped:
                time.sleep(0.02)
                if every:
                    conn.sock.sendall(every)
                elif conn.sock.recv(1) == b"":  # silent: wait for the client to leave
                    return
        except OSError:
            return
    return handler


@pytest.fixture
def serve(make_client: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    opened: list[tuple[Any, RawServer]] = []

    def start(handler: Callable[[RawConn], None], timeout: Timeout) -> tuple[Any, RawServer]:
        srv = RawServer(handler).start()
        client = make_client(base_url=srv.base_url, timeout=timeout)
        opened.append((client, srv))
        return client, srv

    yield start
    for client, srv in opened:
        client.close()
        srv._stopped = True
        with contextlib.suppress(OSError):  # wake the accept() at once
            srv._sock.shutdown(socket.SHUT_RDWR)
        srv.stop()


def read_all(client: Any) -> str:
    s = client.chat.completions.create(model="m", messages=USER, stream=True)
    return "".join(c.choices[0].delta.content or "" for c in s if c.choices)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("idle", [5.0, None])
def test_keep_alive_comments_alone_end_at_first_event(serve: Callable[..., Any],
                                                      idle: float | None) -> None:
    client, srv = serve(endless(b": keep-alive\n\n", b": keep-alive\n\n"),
                        Timeout(connect=5, idle=idle, first_event=0.3))
    with pytest.raises(StreamTimeoutError, match="first_event") as info:
        read_all(client)
    assert info.value.partial_text == ""
    assert srv.count("POST") == 1  # never retried


@pytest.mark.timeout(30)
def test_a_stream_that_never_ends_stops_at_stream_total(serve: Callable[..., Any]) -> None:
    client, srv = serve(endless(FRAME, FRAME), Timeout(connect=5, idle=5, stream_total=0.5))
    with pytest.raises(StreamTimeoutError, match="stream_total") as info:
        read_all(client)
    assert info.value.partial_text.startswith("hihi")  # what arrived is kept
    assert srv.count("POST") == 1


@pytest.mark.timeout(30)
def test_a_read_blocked_on_a_silent_server_is_bounded_by_stream_total(
        serve: Callable[..., Any]) -> None:
    """With no idle bound at all, the wait for bytes is still cut by ``stream_total``."""
    client, srv = serve(endless(FRAME, b""), Timeout(connect=5, idle=None, first_event=None,
                                                     stream_total=0.5))
    with pytest.raises(StreamTimeoutError) as info:
        read_all(client)
    assert info.value.partial_text == "hi"
    assert srv.count("POST") == 1


# the clocks themselves, with a fake clock ---------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_first_event_counts_until_the_first_chunk_only() -> None:
    clock = Clock()
    core = StreamCore(first_event=10, clock=clock)
    assert core.deadline == 110
    core.check_deadline(got_chunk=False)
    clock.t = 109
    core.check_deadline(got_chunk=False)
    core.feed(FRAME)
    core.check_deadline(got_chunk=True)
    assert core.deadline is None  # no more clock reads for this stream
    clock.t = 10_000
    core.check_deadline(got_chunk=False)
    late = StreamCore(first_event=10, clock=clock)
    clock.t += 10
    with pytest.raises(StreamTimeoutError, match="first_event=10s"):
        late.check_deadline(got_chunk=False)
    assert late.error is not None


def test_stream_total_runs_from_the_start_and_a_finished_stream_never_times_out() -> None:
    clock = Clock()
    core = StreamCore(first_event=5, stream_total=20, clock=clock)
    core.feed(FRAME)
    core.check_deadline(got_chunk=True)
    assert core.deadline == 120
    clock.t = 121
    with pytest.raises(StreamTimeoutError, match="stream_total=20s") as info:
        core.check_deadline(got_chunk=True)
    assert info.value.partial_text == "hi"
    done = StreamCore(stream_total=1, clock=clock)
    done.feed(FRAME + b"data: [DONE]\n\n")
    clock.t += 5
    done.check_deadline(got_chunk=True)  # [DONE] came: nothing to cut


def test_timeout_defaults_and_coercion() -> None:
    t = Timeout()
    assert (t.first_event, t.stream_total) == (600.0, None)
    assert Limits.of(t, stream=True).each_read == 120.0
    n = Timeout.coerce(30)
    assert (n.first_event, n.stream_total, n.idle) == (30.0, None, 30.0)
    only_total = Timeout(idle=None, first_event=None, stream_total=7)
    assert Limits.of(only_total, stream=True).each_read == 7
    assert Limits.of(Timeout.coerce(None), stream=True).each_read is None
