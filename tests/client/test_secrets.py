"""The key and every other credential: never in a repr, an error, a traceback (captured locals
included) or a log line; refused with spaces or line breaks without being echoed; no plain http
off-host. A malformed answer or a server that echoes our headers cannot carry a credential
header into what we raise. What a redirect may carry is in test_redirects.py."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator

import msgspec
import pytest

import nanogpt
from conftest import COOKIE, EXTRA_KEY, KEY, PROXY_TOKEN, USER, dead_url
from nanogpt import InvalidParameterError, NanoGPTError
from nanogpt._core.redact import is_credential_header, mask_credentials
from nanogpt.emulator import Fault
from rawserver import RawConn, RawServer

SECRET = "sk-nano-5ec2e7aa-0000-4bad-8bad-feedfacecafe"
MALFORMED = {
    "bad-status-line": b"HTTP/1.1 2x0 OK\r\ncontent-length: 2\r\n\r\n{}",
    "bad-header": b"HTTP/1.1 200 OK\r\nbad header line\r\ncontent-length: 2\r\n\r\n{}",
    "duplicate-length": b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}",
    "bad-chunk": (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                  b"transfer-encoding: chunked\r\n\r\n5\r\n{\"a\":\r\nZZZ\r\n"),
}


# repr, errors, tracebacks and logs --------------------------------------------------------

def test_repr_hides_the_key(kind) -> None:
    cls = nanogpt.NanoGPT if kind == "sync" else nanogpt.AsyncNanoGPT
    c = cls(SECRET, base_url="http://127.0.0.1:9/api/v1")
    assert SECRET not in repr(c) and "***" in repr(c)
    assert SECRET not in repr(c._core.api_key) and SECRET not in str(vars(c._core))
    req = c._core.chat_request("m", USER, stream=False, params={}, extra_body=None,
                               extra_headers=None, timeout=None)
    assert SECRET not in repr(req)


def _failures(client, emu):
    """Provoke every kind of error; yield each exception."""
    chat = client.chat.completions.create
    for fault in (Fault(status=401), Fault(status=402, error_shape="legacy"),
                  Fault(status=503), Fault(reset=True), Fault(non_json=True),
                  Fault(error_frame_after=2), Fault(no_done=True)):
        emu.inject(fault, times=None)
        try:
            stream = fault.frames.error_frame_after is not None or fault.frames.no_done
            r = chat(model="openai/gpt-5-mini", messages=USER, stream=stream)
            if stream:
                list(r)
        except NanoGPTError as e:
            yield e
        emu.clear_faults()
    c2 = type(client)(SECRET, base_url=dead_url(), max_retries=0) if isinstance(
        client, nanogpt.NanoGPT) else None
    if c2 is not None:
        with pytest.raises(NanoGPTError) as info:
            c2.chat.completions.create(model="m", messages=USER)
        yield info.value


def test_key_absent_from_errors_tracebacks_and_debug_logs(make_client, emu, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(api_key=SECRET, max_retries=1)
    errors = list(_failures(client, emu))
    assert len(errors) >= 7
    for e in errors:
        text = "".join(traceback.TracebackException.from_exception(
            e, capture_locals=True).format())
        assert SECRET not in text, text
        assert SECRET not in repr(e) and SECRET not in str(getattr(e, "body", ""))
        assert SECRET not in repr(vars(e))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "retry" in logged  # debug logging did happen
    assert SECRET not in logged and SECRET not in caplog.text


def test_key_is_not_in_locals_when_the_constructor_fails(kind) -> None:
    cls = nanogpt.NanoGPT if kind == "sync" else nanogpt.AsyncNanoGPT
    with pytest.raises(InvalidParameterError) as info:
        cls(SECRET, base_url="ftp://nope")
    text = "".join(traceback.TracebackException.from_exception(
        info.value, capture_locals=True).format())
    assert SECRET not in text


BAD_PROXIES = ("socks5://alice:pr0xy-pa55word@127.0.0.1:1080",  # (globals: not in a frame)
               "http://alice:pr0xy-pa55word@127.0.0.1:99999")


@pytest.mark.parametrize("which", range(len(BAD_PROXIES)))
def test_a_bad_proxy_in_the_environment_shows_neither_key_nor_password_in_locals(
        kind, which, monkeypatch) -> None:
    """The proxy rules read the environment: a traceback with captured locals of the frame
    that read it would show all of it, the key in NANOGPT_API_KEY included."""
    monkeypatch.setenv("NANOGPT_API_KEY", SECRET)
    monkeypatch.setenv("HTTPS_PROXY", BAD_PROXIES[which])
    cls = nanogpt.NanoGPT if kind == "sync" else nanogpt.AsyncNanoGPT
    with pytest.raises(InvalidParameterError) as info:
        cls(base_url="https://127.0.0.1:9/api/v1")
    text = "".join(traceback.TracebackException.from_exception(
        info.value, capture_locals=True).format())
    assert "HTTPS_PROXY" in text and "alice:***@" in text  # the error still says which
    assert SECRET not in text and "pr0xy-pa55word" not in text


@pytest.mark.parametrize("bad", [SECRET + "\nsecond line", "sk nano", "sk-nano-\x00x"])
def test_keys_with_line_breaks_or_spaces_are_refused_without_echo(kind, bad) -> None:
    cls = nanogpt.NanoGPT if kind == "sync" else nanogpt.AsyncNanoGPT
    with pytest.raises(InvalidParameterError) as info:
        cls(bad, base_url="http://127.0.0.1:9/api/v1")
    assert "sk" not in str(info.value).replace("spaces", "")
    assert cls(SECRET + "\n", base_url="http://127.0.0.1:9/api/v1")  # a trailing newline is ok


# credential headers in errors -------------------------------------------------------------

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


# plain http -------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["http://nano-gpt.com/api/v1", "http://10.0.0.5:8080/api/v1",
                                 "ftp://nano-gpt.com/api/v1", "nano-gpt.com",
                                 "https://user:pw@nano-gpt.com/api/v1"])
def test_insecure_or_odd_base_urls_are_refused_before_connecting(kind, url) -> None:
    cls = nanogpt.NanoGPT if kind == "sync" else nanogpt.AsyncNanoGPT
    with pytest.raises(InvalidParameterError):
        cls("k", base_url=url)
    with pytest.raises(InvalidParameterError):
        cls("k", base_url="https://nano-gpt.com/api/v1", fallback_base_urls=[url])


def test_plain_http_is_allowed_on_loopback_or_by_opt_in(kind) -> None:
    cls = nanogpt.NanoGPT if kind == "sync" else nanogpt.AsyncNanoGPT
    for url in ("http://127.0.0.1:8080/api/v1", "http://localhost/api/v1", "http://[::1]/x"):
        cls("k", base_url=url)
    cls("k", base_url="http://10.0.0.5/api/v1", allow_insecure_http=True)


_BEYOND_CHAT = {
    "embeddings": lambda c: c.embeddings.create(model="m", input="hi"),
    "embedding-models": lambda c: c.embeddings.models(),
    "images": lambda c: c.images.generate(model="m", prompt="a cat"),
    "speech": lambda c: c.audio.speech.create(model="m", input="hi", voice="v"),
    "transcription": lambda c: c.audio.transcriptions.create(model="m",
                                                             file_url="https://a/b.mp3"),
    "audio-models": lambda c: c.audio.models(),
    "usage": lambda c: c.usage(),
    "quota": lambda c: c.subscription.usage(),
    "providers": lambda c: c.models.providers("m"),
    "search": lambda c: c.web.search("q"),
}


@pytest.mark.parametrize("call", list(_BEYOND_CHAT), ids=list(_BEYOND_CHAT))
def test_an_echoed_key_is_masked_in_a_malformed_answer_of_every_capability(make_client,
                                                                           call) -> None:
    """A 2xx answer that is not what the endpoint returns, with the request's headers in it:
    every capability's decoder masks the key in the excerpt it puts in its error (each used
    to make that error itself, and two forgot)."""
    def echoing(conn: RawConn) -> None:
        while (req := conn.read_request()) is not None:
            sent = req.headers["authorization"]
            body = f'"not an answer (authorization: {sent})"'.encode()
            conn.send(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                      b"content-length: %d\r\n\r\n" % len(body) + body)

    with RawServer(echoing) as srv:
        client = make_client(KEY, base_url=srv.base_url, max_retries=0)
        with pytest.raises(NanoGPTError) as info:
            _BEYOND_CHAT[call](client)
    shown = str(info.value) + repr(info.value) + "".join(traceback.format_exception(info.value))
    assert "not an answer" in shown and "***" in shown
    assert KEY not in shown
