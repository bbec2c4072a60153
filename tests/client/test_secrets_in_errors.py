"""No credential header reaches an error: a key in ``extra_headers`` and a proxy token in
``default_headers`` stay out of str(), repr() and the traceback (causes and contexts included,
even suppressed ones) when a server answers with a malformed response."""

from __future__ import annotations

import traceback
from collections.abc import Iterator

import msgspec
import pytest

from conftest import KEY, USER
from nanogpt import NanoGPTError
from nanogpt._core.redact import is_credential_header, mask_credentials
from rawserver import RawConn, RawServer

EXTRA_KEY = "sk-extra-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
PROXY_TOKEN = "proxy-tok-9a8b7c6d5e4f30211203f4e5d6c7b8a9"
COOKIE = "sess-1122334455667788"

MALFORMED = {
    "bad-status-line": b"HTTP/1.1 2x0 OK\r\ncontent-length: 2\r\n\r\n{}",
    "bad-header": b"HTTP/1.1 200 OK\r\nbad header line\r\ncontent-length: 2\r\n\r\n{}",
    "duplicate-length": b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}",
    "bad-chunk": (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                  b"transfer-encoding: chunked\r\n\r\n5\r\n{\"a\":\r\nZZZ\r\n"),
}


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [error]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [x for x in (e.__cause__, e.__context__) if x is not None]


@pytest.mark.parametrize("answer", list(MALFORMED), ids=list(MALFORMED))
def test_credential_headers_never_reach_an_error(make_client, answer) -> None:
    response = MALFORMED[answer]

    def handler(conn: RawConn) -> None:
        conn.read_request()
        conn.send(response)

    with RawServer(handler) as srv:
        client = make_client(base_url=srv.base_url, max_retries=0,
                             default_headers={"Proxy-Authorization": "Bearer " + PROXY_TOKEN})
        headers = {"X-Api-Key": EXTRA_KEY, "Cookie": "session=" + COOKIE}
        with pytest.raises(NanoGPTError) as info:
            client.chat.completions.create(model="m", messages=USER, extra_headers=headers)
    error = info.value
    texts = ["".join(traceback.format_exception(error))]
    for e in _chain(error):
        texts += [str(e), repr(e), repr(vars(e)) if hasattr(e, "__dict__") else ""]
    text = "\n".join(texts)
    for secret in (EXTRA_KEY, PROXY_TOKEN, COOKIE):
        assert secret not in text, f"{secret} leaked:\n{text}"


def test_which_headers_count_as_credentials() -> None:
    for name in ("Authorization", "proxy-authorization", "X-API-Key", "api-key", "Cookie",
                 "X-Auth-Token", "X-Session-Id", "X-Client-Secret", "X-Amz-Signature"):
        assert is_credential_header(name), name
    for name in ("accept", "content-type", "user-agent", "x-request-id", "x-title"):
        assert not is_credential_header(name), name
    headers = {"x-api-key": "abc", "accept": "text/plain"}
    mask_credentials(headers)
    assert headers == {"x-api-key": "abc", "accept": "text/plain"}  # still sent as is
    assert repr(headers) == "{'x-api-key': '***', 'accept': 'text/plain'}"


def test_no_credential_header_follows_a_redirect_to_another_host(make_client) -> None:
    """A 307 to another origin is followed without the key, and without any other header that
    carries a credential (a proxy token or custom token from default_headers, a cookie or
    session header from extra_headers): the other host gets none of them."""
    received: list[dict[str, str]] = []
    answer = b'{"choices": [{"index": 0, "message": {"content": "hi"}}]}'

    def other_host(conn: RawConn) -> None:
        req = conn.read_request()
        if req is not None:
            received.append(req.headers)
            conn.send(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                      b"content-length: %d\r\n\r\n" % len(answer) + answer)

    with RawServer(other_host) as target:
        location = f"http://localhost:{target.port}/api/v1/chat/completions".encode()

        def redirecting(conn: RawConn) -> None:
            if conn.read_request() is not None:
                conn.send(b"HTTP/1.1 307 Temporary Redirect\r\nlocation: " + location
                          + b"\r\ncontent-length: 0\r\n\r\n")

        with RawServer(redirecting) as srv:
            client = make_client(base_url=srv.base_url, max_retries=0,
                                 default_headers={"Proxy-Authorization": f"Bearer {PROXY_TOKEN}",
                                                  "X-Gateway-Token": PROXY_TOKEN})
            r = client.chat.completions.create(
                model="m", messages=USER,
                extra_headers={"cookie": f"s={COOKIE}", "X-Session-Id": COOKIE,
                               "X-Other-Api-Key": EXTRA_KEY})
            assert r.text == "hi"
    assert len(received) == 1
    sent = received[0]
    assert sent.get("content-type") == "application/json"  # the request itself went on
    assert [name for name in sent if is_credential_header(name)] == []
    for secret in (PROXY_TOKEN, COOKIE, EXTRA_KEY, "Bearer "):
        assert not any(secret in value for value in sent.values()), secret


@pytest.mark.parametrize("location", [b"http://[::1/x", b"http://127.0.0.1:99999/x",
                                      b"http://127.0.0.1:abc/x", b"/api/v1/a b",
                                      b"/api/v1/\x7f\xff"],
                         ids=["broken-ipv6", "port-out-of-range", "port-not-a-number",
                              "space", "control-and-latin-1"])
def test_a_redirect_to_an_invalid_url_is_a_typed_refusal(make_client, location) -> None:
    def redirecting(conn: RawConn) -> None:
        while conn.read_request() is not None:
            conn.send(b"HTTP/1.1 307 Temporary Redirect\r\nlocation: " + location
                      + b"\r\ncontent-length: 0\r\n\r\n")

    with RawServer(redirecting) as srv:
        client = make_client(base_url=srv.base_url, max_retries=2)
        with pytest.raises(NanoGPTError) as info:
            client.chat.completions.create(model="m", messages=USER)
        assert getattr(info.value, "status_code", None) == 307  # nothing was sent elsewhere
        assert srv.count("POST") == 1


def test_a_password_in_a_redirect_is_neither_sent_nor_echoed(make_client) -> None:
    password = "redirect-pw-5566778899"
    received: list[dict[str, str]] = []

    def other_host(conn: RawConn) -> None:
        req = conn.read_request()
        if req is not None:
            received.append(req.headers)  # and hang up: the error names the URL

    with RawServer(other_host) as target:
        location = f"http://user:{password}@localhost:{target.port}/api/v1/x".encode()

        def redirecting(conn: RawConn) -> None:
            if conn.read_request() is not None:
                conn.send(b"HTTP/1.1 307 Temporary Redirect\r\nlocation: " + location
                          + b"\r\ncontent-length: 0\r\n\r\n")

        with RawServer(redirecting) as srv:
            client = make_client(base_url=srv.base_url, max_retries=0)
            with pytest.raises(NanoGPTError) as info:
                client.chat.completions.create(model="m", messages=USER)
    assert len(received) == 1 and "authorization" not in received[0]
    shown = "".join(traceback.format_exception(info.value)) + repr(info.value.__dict__)
    assert password not in shown


@pytest.mark.parametrize("stream", [False, True], ids=["answer", "stream"])
def test_credentials_a_server_echoes_are_masked_in_errors(make_client, stream) -> None:
    """A debugging proxy answers with the request's headers in its error message: the key
    and every other credential sent are masked in what we raise (status errors, error frames
    in a stream, excerpts of a malformed answer)."""
    def echoing(conn: RawConn) -> None:
        while (req := conn.read_request()) is not None:
            echoed = "; ".join(f"{k}: {v}" for k, v in req.headers.items())
            message = msgspec.json.encode({"error": {"message": f"denied ({echoed})"}})
            if stream:
                payload = b"data: " + message + b"\n\ndata: [DONE]\n\n"
                conn.send(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                          b"content-length: %d\r\n\r\n" % len(payload) + payload)
            else:
                conn.send(b"HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\n"
                          b"content-length: %d\r\n\r\n" % len(message) + message)

    with RawServer(echoing) as srv:
        client = make_client(KEY, base_url=srv.base_url, max_retries=0,
                             default_headers={"Proxy-Authorization": f"Bearer {PROXY_TOKEN}"})
        with pytest.raises(NanoGPTError) as info:
            s = client.chat.completions.create(model="m", messages=USER, stream=stream,
                                               extra_headers={"cookie": f"s={COOKIE}"})
            for _ in s:
                pass
    shown = str(info.value) + repr(info.value) + "".join(traceback.format_exception(info.value))
    assert "denied" in shown and "***" in shown
    for secret in (KEY, PROXY_TOKEN, COOKIE):
        assert secret not in shown
