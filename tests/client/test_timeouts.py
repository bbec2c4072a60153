"""Every timeout and deadline of a call, on both clients, one section per bound of ``Timeout``.

``connect`` bounds the connect; ``read`` the wait for an answer and the reading of any body that
is not a started stream (an error body, a JSON answer to a stream request, also when it ends
with the connection); ``idle`` silence inside a stream; ``total`` the whole call with its retries
and its wait for a slot, up to the start of a stream; ``first_event`` a stream's wait for its
first chunk (keep-alive comments do not count) and ``stream_total`` its whole length; after
``[DONE]`` the end of the body is awaited only briefly (the drain). Trickling and endless
servers come from the emulator or from raw sockets; no assertion is on wall time beyond
generous caps that show a call did not wait for the server.

Elsewhere, because they test a transport detail through a timeout: the blocking client's
trickled error body and forked-child deadlines (test_transport_sync.py), the async one's
(test_transport_async.py), a stream head that never completes (test_wire_reuse.py), a timeout
counted as an answer cut (test_answer_cut.py), and a slot wait ended by ``total``
(test_slots.py).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import nanogpt
from conftest import USER
from nanogpt import (
    APIStatusError,
    APITimeoutError,
    InternalServerError,
    StreamTimeoutError,
    Timeout,
)
from nanogpt._core.deadlines import Limits
from nanogpt._core.stream import StreamCore
from nanogpt.emulator import Emulator, Fault
from rawserver import RawConn, RawServer

MODEL = "openai/gpt-5-mini"
EXPECTED = f"Hello from the NanoGPT emulator ({MODEL}). You said: hi there"
HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
        b"connection: close\r\n\r\n")
FRAME = b'data: {"choices": [{"index": 0, "delta": {"content": "hi"}}]}\n\n'
TRICKLE = 400  # bytes, one per 20 ms: 8 s, far beyond the 0.5 s `read` of these tests


def chat(client, **kw):
    return client.chat.completions.create(model=MODEL, messages=USER, **kw)


# the Timeout object -----------------------------------------------------------------------

def test_timeout_defaults_and_coercion() -> None:
    t = Timeout()
    assert (t.first_event, t.stream_total) == (600.0, None)
    assert Limits.of(t, stream=True).each_read == 120.0
    n = Timeout.coerce(30)
    assert (n.first_event, n.stream_total, n.idle) == (30.0, None, 30.0)
    only_total = Timeout(idle=None, first_event=None, stream_total=7)
    assert Limits.of(only_total, stream=True).each_read == 7
    assert Limits.of(Timeout.coerce(None), stream=True).each_read is None


# connect ----------------------------------------------------------------------------------

@pytest.fixture
def unaccepting_port() -> Iterator[int]:
    """A loopback port whose accept queue is full: connecting hangs."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    fillers = []
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            s.connect(("127.0.0.1", port))
        fillers.append(s)
    yield port
    for s in fillers:
        s.close()
    srv.close()


def test_connect_timeout(make_client: Any, unaccepting_port: int) -> None:
    c = make_client(base_url=f"http://127.0.0.1:{unaccepting_port}/api/v1", max_retries=1,
                    timeout=Timeout(connect=0.2, read=5, idle=5))
    with pytest.raises(APITimeoutError) as info:
        c.chat.completions.create(model=MODEL, messages=USER)
    assert "connect" in str(info.value)


# read: the wait for an answer, and whole bodies that are not a started stream -------------

def test_read_timeout_before_the_answer(make_client, emu) -> None:
    c = make_client(timeout=Timeout(connect=5, read=0.3, idle=0.3))
    emu.inject(Fault(stall=3))
    with pytest.raises(APITimeoutError):
        chat(c)
    assert emu.count() == 1  # the request was sent: not retried


class Trickle:
    """Answers with ``head`` (no length: the body ends with the connection), then one byte
    each 20 ms; ``finished`` tells whether it got to send them all."""

    def __init__(self, head: bytes) -> None:
        self.head = head
        self.finished = threading.Event()

    def __call__(self, conn: RawConn) -> None:
        if conn.read_request() is None:
            return
        try:
            conn.sock.sendall(self.head)
            for _ in range(TRICKLE):
                if conn.server._stopped:
                    return
                time.sleep(0.02)
                conn.sock.sendall(b" ")
        except OSError:
            return  # the client hung up
        self.finished.set()


def _stream(client: Any) -> None:
    for _ in client.chat.completions.create(model="m", messages=USER, stream=True):
        pass


def test_a_trickled_error_body_ending_with_the_connection_is_bounded_by_read(
        make_client: Callable[..., Any], raw_server: Callable[..., RawServer]) -> None:
    trickle = Trickle(b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\n\r\n")
    srv = raw_server(trickle)
    client = make_client(base_url=srv.base_url, max_retries=0,
                         timeout=Timeout(read=0.5, idle=5, first_event=5))
    with pytest.raises(InternalServerError):
        _stream(client)
    assert not trickle.finished.is_set()
    assert srv.count("POST") == 1


def test_a_trickled_json_answer_to_a_stream_request_is_bounded_by_read(
        make_client: Callable[..., Any], raw_server: Callable[..., RawServer]) -> None:
    trickle = Trickle(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                      b"connection: close\r\n\r\n")
    srv = raw_server(trickle)
    client = make_client(base_url=srv.base_url, max_retries=2,
                         timeout=Timeout(read=0.5, idle=5, first_event=5))
    with pytest.raises(APITimeoutError) as info:
        _stream(client)
    assert info.value.answer_cut is True  # a 2xx head came: never re-sent
    assert not trickle.finished.is_set()
    assert srv.count("POST") == 1


def test_a_deadline_during_a_body_cut_at_the_limit_is_a_timeout(make_client, emu) -> None:
    emu.inject(Fault(trickle=0.1))
    c = make_client(max_response_bytes=200, timeout=Timeout(connect=2, read=0.6, idle=30))
    with pytest.raises(nanogpt.APITimeoutError):
        c.chat.completions.create(model=MODEL, messages=USER)


# idle: silence inside a stream ------------------------------------------------------------

def test_silence_mid_stream_raises_timeout(make_client, emu) -> None:
    c = make_client(timeout=Timeout(connect=5, read=5, idle=0.3))
    emu.inject(Fault(stall_after_chunks=3, stall=3))
    s = c.chat.completions.create(model=MODEL, messages=USER, stream=True)
    with pytest.raises(APITimeoutError) as info:
        list(s)
    assert isinstance(info.value, StreamTimeoutError)
    assert info.value.partial_text == "Hello from "
    assert emu.count() == 1


# total: the whole call with its retries, up to the start of a stream ----------------------

def test_total_timeout_stops_retrying(make_client: Any, emu: Emulator) -> None:
    emu.inject(Fault(status=503, retry_after=0.2), times=None)
    c = make_client(max_retries=50, timeout=Timeout(connect=2, read=5, idle=5, total=1.0))
    with pytest.raises(InternalServerError):
        c.chat.completions.create(model=MODEL, messages=USER)
    assert 2 <= emu.count() < 20  # it retried, and stopped when time ran out


def test_total_timeout_bounds_a_silent_server(make_client: Any, emu: Emulator) -> None:
    emu.inject(Fault(stall=5))
    c = make_client(timeout=Timeout(connect=2, read=30, idle=30, total=0.5))
    with pytest.raises(APITimeoutError):
        c.chat.completions.create(model=MODEL, messages=USER)


def test_total_timeout_does_not_cut_a_running_stream(make_client: Any, emu: Emulator) -> None:
    emu.inject(Fault(stall_after_chunks=3, stall=0.6))
    c = make_client(timeout=Timeout(connect=2, read=5, idle=5, total=0.3))
    s = c.chat.completions.create(model=MODEL, messages=USER, stream=True)
    assert s.get_final_completion().text == EXPECTED


def test_total_timeout_is_a_deadline_even_when_the_server_trickles(make_client, emu) -> None:
    emu.inject(Fault(trickle=0.5))  # ~40 pieces, 20 s in all, never 1 s of silence
    c = make_client(timeout=Timeout(connect=2, read=60, idle=60, total=0.5))
    t = time.monotonic()
    with pytest.raises(nanogpt.APITimeoutError):
        c.chat.completions.create(model=MODEL, messages=USER)
    assert time.monotonic() - t < 10  # it did not wait for the 20 s trickle
    emu.inject(Fault(trickle=0.05))
    c2 = make_client(timeout=Timeout(connect=2, read=0.5, idle=30))
    with pytest.raises(nanogpt.APITimeoutError):
        c2.chat.completions.create(model=MODEL, messages=USER)
    assert c2.chat.completions.create(model=MODEL, messages=USER).text  # client still fine


def test_waiting_for_a_slot_counts_against_the_total_timeout(make_client, emu) -> None:
    c = make_client(max_concurrency=1, timeout=Timeout(connect=2, read=5, idle=5, total=0.3))
    s = c.chat.completions.create(model=MODEL, messages=USER, stream=True)  # holds the slot
    with pytest.raises(nanogpt.APITimeoutError, match="slot"):
        c.chat.completions.create(model=MODEL, messages=USER)
    s.close()
    assert c.chat.completions.create(model=MODEL, messages=USER).text


def test_total_bounds_a_trickled_json_answer_to_a_stream_request(make_client, emu) -> None:
    emu.inject(Fault(body='{"error": {"message": "' + "x" * 600 + '", "status": 502}}',
                     trickle=0.2))  # ~40 pieces: 8 s
    c = make_client(timeout=Timeout(connect=2, read=30, idle=30, total=1.0))
    t = time.monotonic()
    with pytest.raises(nanogpt.APITimeoutError):
        c.chat.completions.create(model=MODEL, messages=USER, stream=True)
    assert time.monotonic() - t < 6


def test_total_bounds_a_trickled_error_body(make_client, emu) -> None:
    emu.inject(Fault(status=400, message="y" * 600, trickle=0.2))  # ~40 pieces: 8 s
    c = make_client(timeout=Timeout(connect=2, read=30, idle=30, total=1.0))
    t = time.monotonic()
    with pytest.raises(APIStatusError) as info:
        c.chat.completions.create(model=MODEL, messages=USER)
    assert info.value.status_code == 400
    assert time.monotonic() - t < 6


def test_total_does_not_bound_a_started_stream_that_ends_with_the_connection(
        make_client: Callable[..., Any], raw_server: Callable[..., RawServer]) -> None:
    def late_answer(conn: RawConn) -> None:
        if conn.read_request() is None:
            return
        conn.send(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                  b"connection: close\r\n\r\n")
        time.sleep(1.0)  # well past `total`: the stream had started, `idle` is off
        conn.send(FRAME + b"data: [DONE]\n\n")

    srv = raw_server(late_answer)
    client = make_client(base_url=srv.base_url, max_retries=0,
                         timeout=Timeout(total=0.3, idle=None, first_event=None))
    s = client.chat.completions.create(model="m", messages=USER, stream=True)
    assert s.get_final_completion().choices[0].message.content == "hi"


# first_event and stream_total -------------------------------------------------------------

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
                        Timeout(connect=5, idle=idle, first_event=1.5))
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


# drain: the end of the body after [DONE] --------------------------------------------------

def test_stream_does_not_wait_for_a_server_that_holds_the_body_after_done(make_client,
                                                                          emu) -> None:
    c = make_client(max_concurrency=1)
    emu.inject(Fault(hold_after_done=30))
    t = time.monotonic()
    final = c.chat.completions.create(model=MODEL, messages=USER,
                                      stream=True).get_final_completion()
    assert final.text.endswith("hi there")
    assert time.monotonic() - t < 15  # bounded by the drain wait, not the server's 30 s
    assert c.chat.completions.create(model=MODEL, messages=USER).text  # slot was given back


def test_drain_after_done_is_bounded_even_with_keep_alives(make_client, emu) -> None:
    emu.inject(Fault(hold_after_done=30))
    c = make_client()
    t = time.monotonic()
    assert c.chat.completions.create(model=MODEL, messages=USER,
                                     stream=True).get_final_completion().text
    assert time.monotonic() - t < 15  # not the server's 30 s
