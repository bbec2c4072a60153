"""``answer_cut`` says whether the answer had started (a 2xx head came: the call may be billed),
the same way in both clients and on every error class that carries it."""

from __future__ import annotations

import time

import pytest

from conftest import USER
from nanogpt import APIConnectionError, APITimeoutError, StreamError, StreamTimeoutError, Timeout
from nanogpt.emulator import Fault
from rawserver import RawConn, RawServer

MODEL = "openai/gpt-5-mini"
EVENT = (b'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m",'
         b'"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n')
BAD_CHUNK = b"ZZZ\r\n"  # not a chunk size


def _sending(response: bytes):
    def handler(conn: RawConn) -> None:
        conn.read_request()
        conn.send(response)  # head and body in one write: one read for the client

    return handler


def test_bad_body_in_the_first_read_is_an_answer_cut(make_client) -> None:
    response = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"transfer-encoding: chunked\r\n\r\n5\r\n{\"id\"\r\n" + BAD_CHUNK)
    with RawServer(_sending(response)) as srv:
        client = make_client(base_url=srv.base_url, max_retries=2)
        with pytest.raises(APIConnectionError) as info:
            client.chat.completions.create(model=MODEL, messages=USER)
        assert info.value.answer_cut is True
        assert srv.count("POST") == 1


def test_bad_stream_body_in_the_first_read_is_an_answer_cut(make_client, kind) -> None:
    response = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"transfer-encoding: chunked\r\n\r\n"
                + b"%x\r\n%s\r\n" % (len(EVENT), EVENT) + BAD_CHUNK)
    with RawServer(_sending(response)) as srv:
        client = make_client(base_url=srv.base_url, max_retries=2)
        with pytest.raises(StreamError) as info:
            for _ in client.chat.completions.create(model=MODEL, messages=USER, stream=True):
                pass
        assert info.value.answer_cut is True
        assert srv.count("POST") == 1
    if kind == "sync":  # aiohttp drops a head and its body together when the body is bad
        assert info.value.partial_text == "Hel"


def test_stream_timeout_is_an_answer_cut(make_client, emu) -> None:
    emu.inject(Fault(stall_after_chunks=2, stall=3), path="/chat")
    client = make_client(timeout=Timeout(idle=0.3))
    with pytest.raises(StreamTimeoutError) as info:
        for _ in client.chat.completions.create(model=MODEL, messages=USER, stream=True):
            pass
    assert info.value.answer_cut is True
    assert info.value.partial_text


def test_errors_before_the_answer_are_not_answer_cuts(make_client, emu) -> None:
    emu.inject(Fault(reset=True), path="/chat")
    client = make_client(max_retries=0)
    with pytest.raises(APIConnectionError) as info:
        client.chat.completions.create(model=MODEL, messages=USER)
    assert info.value.answer_cut is False
    with RawServer(_sending(b"HTTP/1.1 2x0 OK\r\ncontent-length: 2\r\n\r\n{}")) as srv:
        client = make_client(base_url=srv.base_url, max_retries=0)
        with pytest.raises(APIConnectionError) as info:
            client.chat.completions.create(model=MODEL, messages=USER)
        assert info.value.answer_cut is False


def _head_then(head: bytes, body: bytes):
    def handler(conn: RawConn) -> None:
        conn.read_request()
        conn.send(head)
        time.sleep(0.2)  # the client has the head (and may hand it over) before the body
        conn.send(body)
        conn.sock.close()

    return handler


def test_malformed_body_after_the_head_never_hangs(make_client) -> None:
    """aiohttp stops the read timer on a malformed chunk and never fails the body's reader:
    the call must still end, as a cut answer with what had arrived."""
    head = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n")
    with RawServer(_head_then(head, b"%x\r\n%s\r\n" % (len(EVENT), EVENT) + BAD_CHUNK)) as srv:
        client = make_client(base_url=srv.base_url, timeout=Timeout(idle=30, read=30))
        with pytest.raises(StreamError) as info:
            for _ in client.chat.completions.create(model=MODEL, messages=USER, stream=True):
                pass
        assert info.value.answer_cut is True and info.value.partial_text == "Hel"
    head = head.replace(b"text/event-stream", b"application/json")
    with RawServer(_head_then(head, b"5\r\n{\"id\"\r\n" + BAD_CHUNK)) as srv:
        client = make_client(base_url=srv.base_url, timeout=Timeout(idle=30, read=30))
        with pytest.raises(APIConnectionError) as info2:
            client.chat.completions.create(model=MODEL, messages=USER)
        assert info2.value.answer_cut is True
        assert not isinstance(info2.value, APITimeoutError)


def test_total_striking_as_a_sync_stream_starts_is_an_answer_cut(monkeypatch) -> None:
    """The deadline of `total` can strike between the 2xx head and the stream's start (a race
    of microseconds, forced here): the answer had started, so the error says so."""
    import nanogpt
    from nanogpt._sync.http import Response

    monkeypatch.setattr(Response, "streaming", lambda self, idle: False)  # "it struck"
    response = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"content-length: %d\r\n\r\n" % len(EVENT) + EVENT)
    with RawServer(_sending(response)) as srv:
        client = nanogpt.NanoGPT("k", base_url=srv.base_url, max_retries=2,
                                 timeout=Timeout(total=60))
        with pytest.raises(APITimeoutError) as info:
            client.chat.completions.create(model=MODEL, messages=USER, stream=True)
        assert info.value.answer_cut is True
        assert srv.count("POST") == 1
        client.close()
