"""Redirects, on both clients: the key and every other credential header stay with the host
they were meant for (a same-host redirect keeps the key, a retry after a redirect goes back with
it); a POST is not re-sent on 302; plain http elsewhere, an invalid URL or a password in the
target are refused without being sent or echoed."""

from __future__ import annotations

import traceback
from collections.abc import Callable

import pytest

from conftest import COOKIE, EXTRA_KEY, KEY, PROXY_TOKEN, USER
from nanogpt import APIStatusError, AuthenticationError, NanoGPTError
from nanogpt._core.plan import CallPlan, HostPool, RetryPolicy
from nanogpt._core.redact import is_credential_header
from nanogpt.emulator import Fault
from rawserver import RawConn, RawServer, answering, http_response

MODEL = "openai/gpt-5-mini"


def _redirecting_to(location: bytes) -> Callable[[RawConn], None]:
    """A server that answers every request with a 307 to ``location`` (sent as given)."""
    return answering(http_response(307, b"", reason="Temporary Redirect",
                                   headers={"location": location.decode("latin-1")}))


def chat(client, **kw):
    return client.chat.completions.create(model=MODEL, messages=USER, **kw)


def test_cross_host_redirect_never_carries_the_key(client, emu, emu2) -> None:
    emu.inject(Fault(redirect_to=emu2.base_url + "/chat/completions", redirect_status=307))
    with pytest.raises(AuthenticationError):
        chat(client)
    [seen] = emu2.requests
    assert seen.api_key is None
    assert "authorization" not in seen.headers and "x-api-key" not in seen.headers


def test_same_host_redirect_keeps_the_key(client, emu) -> None:
    emu.inject(Fault(redirect_to=emu.base_url + "legacy/chat/completions", redirect_status=308))
    assert chat(client).text
    assert emu.requests[-1].path.startswith("/api/v1legacy/")
    assert emu.requests[-1].api_key is not None


def test_retry_after_a_redirected_attempt_goes_back_with_the_key(client, emu, emu2) -> None:
    emu.inject(Fault(redirect_to=emu2.base_url + "/chat/completions"))
    emu2.inject(Fault(status=503, retry_after=0))
    assert client.chat.completions.create(model=MODEL, messages=USER).text
    assert emu.count() == 2 and emu2.count() == 1
    assert emu.requests[-1].api_key == KEY
    assert emu2.requests[0].api_key is None


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

        with RawServer(_redirecting_to(location)) as srv:
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


def test_a_password_in_a_redirect_is_neither_sent_nor_echoed(make_client) -> None:
    password = "redirect-pw-5566778899"
    received: list[dict[str, str]] = []

    def other_host(conn: RawConn) -> None:
        req = conn.read_request()
        if req is not None:
            received.append(req.headers)  # and hang up: the error names the URL

    with RawServer(other_host) as target:
        location = f"http://user:{password}@localhost:{target.port}/api/v1/x".encode()

        with RawServer(_redirecting_to(location)) as srv:
            client = make_client(base_url=srv.base_url, max_retries=0)
            with pytest.raises(NanoGPTError) as info:
                client.chat.completions.create(model="m", messages=USER)
    assert len(received) == 1 and "authorization" not in received[0]
    shown = "".join(traceback.format_exception(info.value)) + repr(info.value.__dict__)
    assert password not in shown


@pytest.mark.parametrize("location", [b"http://[::1/x", b"http://127.0.0.1:99999/x",
                                      b"http://127.0.0.1:abc/x", b"/api/v1/a b",
                                      b"/api/v1/\x7f\xff"],
                         ids=["broken-ipv6", "port-out-of-range", "port-not-a-number",
                              "space", "control-and-latin-1"])
def test_a_redirect_to_an_invalid_url_is_a_typed_refusal(make_client, location) -> None:
    with RawServer(_redirecting_to(location)) as srv:
        client = make_client(base_url=srv.base_url, max_retries=2)
        with pytest.raises(NanoGPTError) as info:
            client.chat.completions.create(model="m", messages=USER)
        assert getattr(info.value, "status_code", None) == 307  # nothing was sent elsewhere
        assert srv.count("POST") == 1


def test_redirect_to_plain_http_elsewhere_is_refused() -> None:
    pool = HostPool(["https://a/api/v1"])
    p = CallPlan(method="GET", path="/models", headers={}, pool=pool, policy=RetryPolicy(),
                 idempotent=True)
    with pytest.raises(APIStatusError, match="plain http"):
        p.after_status(307, {"location": "http://evil.example/collect"}, b"")
    p2 = CallPlan(method="GET", path="/models", headers={}, pool=pool, policy=RetryPolicy(),
                  idempotent=True, allow_insecure_http=True)
    assert p2.after_status(307, {"location": "http://evil.example/collect"}, b"") == 0.0


def test_post_is_not_re_sent_on_302(client, emu) -> None:
    emu.inject(Fault(redirect_to=emu.base_url + "/chat/completions", redirect_status=302))
    with pytest.raises(APIStatusError, match="not followed"):
        chat(client)
    assert emu.count() == 1
