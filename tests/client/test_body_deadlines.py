"""Whole bodies read under a stream request (an error body, or a JSON answer instead of a
stream) are bounded by ``read`` also when they end with the connection (no content-length,
no chunks), and ``total`` stops bounding a stream once it started, however its body is
delimited. Raw servers trickle the bodies; no assertion here is on wall time: each asserts
what the client raised and that it hung up before the server had sent everything."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from conftest import USER
from nanogpt import APITimeoutError, InternalServerError, Timeout
from rawserver import RawConn, RawServer

FRAME = b'data: {"choices": [{"index": 0, "delta": {"content": "hi"}}]}\n\n'
TRICKLE = 400  # bytes, one per 20 ms: 8 s, far beyond the 0.5 s `read` of these tests


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
