"""A chat stream in a content coding the client does not decode (the sync client decodes
none, the async one no ``br``) is a ``StreamError`` that names the coding, on both clients:
never its bytes read as events (the sync one said "ended before [DONE]"), never re-sent, and
the connection and the concurrency slot go back."""

from __future__ import annotations

import socket

import pytest

from nanogpt import StreamError
from rawserver import RawConn, completion, http_response

pytestmark = pytest.mark.timeout(30)

USER = [{"role": "user", "content": "hi"}]
CODED = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-encoding: br\r\n"
         b"content-length: 4\r\n\r\nzzzz")


def test_a_coded_stream_is_refused_by_name_and_frees_the_slot(make_client, raw_server) -> None:
    posts = [0]

    def handler(conn: RawConn) -> None:
        while conn.read_request() is not None:
            posts[0] += 1
            if posts[0] == 1:
                conn.send(CODED)
                conn.sock.shutdown(socket.SHUT_RDWR)
                return
            conn.send(http_response(200, completion("ok")))

    srv = raw_server(handler)
    client = make_client(base_url=srv.base_url, max_concurrency=1)
    with pytest.raises(StreamError, match="'br'"):
        for _ in client.chat.completions.create(model="m", messages=USER, stream=True):
            pass
    assert srv.count("POST") == 1
    answer = client.chat.completions.create(model="m", messages=USER)
    assert answer.choices[0].message.content == "ok"
