"""A server that echoes the request's credentials back (a debugging proxy's error page does) in
its error body and headers: the key must appear nowhere in the error, its ``body`` and
``headers`` included (they are in ``vars(e)``, and so in a debugger or a log of ``e.body``).
Both clients, on the new endpoints' calls."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from typing import Any

import pytest

from nanogpt import APIStatusError
from rawserver import RawConn, http_response

SECRET = "sk-nano-echoed-0123456789abcdef"


def _echo(conn: RawConn) -> None:
    while (req := conn.read_request()) is not None:
        auth = req.headers.get("authorization", "")
        body = {"error": {"message": f"bad key {auth}", "seen": {"headers": [auth]}},
                "detail": f"you sent {auth}"}
        conn.send(http_response(400, json.dumps(body).encode(), headers={"x-echo": auth}))


CALLS: list[Callable[[Any], Any]] = [
    lambda c: c.embeddings.create(model="m", input=["a"]),
    lambda c: c.audio.speech.create(model="tts-1", input="hi", voice="alloy"),
    lambda c: c.audio.transcriptions.create(model="w", file=b"RIFF", filename="a.wav"),
    lambda c: c.web.search("q"),
]


@pytest.mark.parametrize("call", CALLS)
def test_an_echoed_key_is_in_no_part_of_the_error(make_client, raw_server, call) -> None:
    srv = raw_server(_echo)
    client = make_client(api_key=SECRET, base_url=srv.base_url)
    with pytest.raises(APIStatusError) as info:
        call(client)
    e = info.value
    assert srv.count("POST") == 1  # a 400 is never re-sent
    text = "".join(traceback.format_exception(e))
    assert SECRET not in text and SECRET not in repr(e) and SECRET not in str(e)
    assert SECRET not in repr(vars(e)), vars(e)
    assert "***" in e.headers["x-echo"] and "***" in json.dumps(e.body)


def _echo_in_a_2xx(conn: RawConn) -> None:
    """A 2xx whose body is not the answer, but the request's credentials."""
    while (req := conn.read_request()) is not None:
        auth = req.headers.get("authorization", "")
        conn.send(http_response(200, f"<pre>debug: {auth}</pre>".encode(),
                                content_type="application/json"))


@pytest.mark.parametrize("call", CALLS[:1] + CALLS[2:])  # speech takes any 2xx body as audio
def test_an_echoed_key_in_a_2xx_body_is_in_no_part_of_the_error(make_client, raw_server,
                                                                call) -> None:
    from nanogpt import APIResponseValidationError

    srv = raw_server(_echo_in_a_2xx)
    client = make_client(api_key=SECRET, base_url=srv.base_url)
    with pytest.raises(APIResponseValidationError) as info:
        call(client)
    e = info.value
    assert SECRET not in str(e) and SECRET not in repr(e), str(e)
    assert SECRET not in repr(vars(e)), vars(e)
    assert SECRET not in "".join(traceback.format_exception(e))
