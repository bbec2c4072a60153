"""Both clients through a real proxy process on loopback (``tests/proxyserver.py``).

https base URLs go through a ``CONNECT`` tunnel: the far end is a TLS endpoint on loopback with
a self-signed certificate (``TLSFront``, made with ``cryptography``) that forwards to the
emulator; the test's clients trust that certificate. Plain-http base URLs (loopback) go in
absolute form. What is checked: what the proxy saw (the key never in a ``CONNECT``; the
proxy's own credentials only to the proxy), counts (a refused tunnel is not retried, a dead
host fails over through the proxy), and that no proxy password is ever shown.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import KEY, USER, dead_url
from nanogpt import APIConnectionError, ProxyError
from nanogpt.emulator import Emulator
from proxyserver import ProxyServer, TLSFront, self_signed

MODEL = "openai/gpt-5-nano"
PASSWORD = "pr0xy-s3cret-pass"
BASIC = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()


@pytest.fixture
def proxy() -> Iterator[ProxyServer]:
    with ProxyServer(user="alice", password=PASSWORD) as p:
        yield p


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    pytest.importorskip("cryptography")
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def trusted(cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Both clients trust the test certificate (and nothing else) for this test."""
    import aiohttp.connector

    from nanogpt._sync.http import ConnectionPool

    ctx = ssl.create_default_context(cafile=str(cert[0]))
    monkeypatch.setattr(ConnectionPool, "_context", lambda self: ctx)
    monkeypatch.setattr(aiohttp.connector, "_SSL_CONTEXT_VERIFIED", ctx)


@pytest.fixture
def https_emu(emu: Emulator, cert: tuple[Path, Path], trusted: None) -> Iterator[str]:
    """An https:// base URL on loopback that reaches ``emu`` (through TLS)."""
    with TLSFront(emu.port, *cert) as front:
        yield f"https://127.0.0.1:{front.port}/api/v1"


def test_https_goes_through_a_connect_tunnel_and_the_key_stays_inside(
        make_client: Callable[..., Any], emu: Emulator, proxy: ProxyServer,
        https_emu: str) -> None:
    client = make_client(base_url=https_emu, proxy=proxy.url)
    r = client.chat.completions.create(model=MODEL, messages=USER)
    assert r.choices[0].message.content
    chunks = list(client.chat.completions.create(model=MODEL, messages=USER, stream=True))
    assert chunks
    connects = [h for h in proxy.heads if h.method == "CONNECT"]
    assert len(proxy.heads) == len(connects) == 1  # one tunnel, kept alive for both calls
    for head in connects:
        assert head.target == https_emu.split("/")[2]
        assert head.headers.get("proxy-authorization") == BASIC
        assert KEY not in str(head.headers) and "authorization" not in head.headers
    assert emu.count() == 2
    for rec in emu.requests:
        assert rec.headers["authorization"] == f"Bearer {KEY}"
        assert "proxy-authorization" not in rec.headers


def test_interim_answers_to_connect_are_skipped(make_client: Callable[..., Any],
                                               emu: Emulator, https_emu: str) -> None:
    """A ``1xx`` before the ``200`` is no refusal (HTTP wants every client to skip them; aiohttp
    does): both clients open the tunnel, once."""
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nx-a: b\r\n\r\n"
    with ProxyServer(interim=interim) as proxy:
        client = make_client(base_url=https_emu, proxy=proxy.url, max_retries=0)
        assert client.chat.completions.create(model=MODEL, messages=USER).text
        assert proxy.count("CONNECT") == 1
    assert emu.count() == 1


def test_the_environment_chooses_the_proxy_and_no_proxy_or_trust_env_skip_it(
        make_client: Callable[..., Any], emu: Emulator, proxy: ProxyServer,
        https_emu: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    make_client(base_url=https_emu).chat.completions.create(model=MODEL, messages=USER)
    assert proxy.count("CONNECT") == 1
    make_client(base_url=https_emu, trust_env=False).chat.completions.create(
        model=MODEL, messages=USER)
    monkeypatch.setenv("no_proxy", "example.com, 127.0.0.1")
    make_client(base_url=https_emu).chat.completions.create(model=MODEL, messages=USER)
    assert proxy.count("CONNECT") == 1  # the last two went direct
    assert emu.count() == 3


def test_plain_http_goes_in_absolute_form_with_the_proxy_credentials(
        make_client: Callable[..., Any], emu: Emulator, proxy: ProxyServer) -> None:
    client = make_client(proxy=proxy.url)
    client.chat.completions.create(model=MODEL, messages=USER)
    assert client.models.list()
    posts = [h for h in proxy.heads if h.method == "POST"]
    assert [h.target for h in posts] == [f"{emu.base_url}/chat/completions"]
    assert posts[0].headers["proxy-authorization"] == BASIC
    assert proxy.count("GET") == 1 and proxy.count("CONNECT") == 0
    assert emu.count() == 2


@pytest.mark.parametrize("status", [407, 403])
def test_a_refused_tunnel_is_a_proxy_error_never_retried(
        make_client: Callable[..., Any], emu: Emulator, status: int) -> None:
    with ProxyServer(refuse=status, user="alice", password=PASSWORD) as proxy:
        client = make_client(base_url="https://127.0.0.1:9/api/v1", proxy=proxy.url,
                             max_retries=3,
                             fallback_base_urls=["https://localhost:9/api/v1"])
        with pytest.raises(ProxyError) as info:
            client.chat.completions.create(model=MODEL, messages=USER)
        assert proxy.count("CONNECT") == 1  # not retried, no failover: it would refuse again
    error = info.value
    assert error.status_code == status
    assert f"alice:***@127.0.0.1:{proxy.port}" in str(error)
    assert PASSWORD not in str(error) and PASSWORD not in repr(error)
    assert emu.count() == 0


def test_a_proxy_echoing_its_credentials_in_its_refusal_has_them_masked(
        make_client: Callable[..., Any], emu: Emulator) -> None:
    """The reason phrase of a refused ``CONNECT`` is the proxy's text: one that quotes the
    ``Proxy-Authorization`` it got (or the password) shows ``***`` in the error."""
    from rawserver import RawConn, RawServer

    def echo(conn: RawConn) -> None:
        req = conn.read_head()
        if req is not None:
            said = req.headers.get("proxy-authorization", "")
            conn.send(f"HTTP/1.1 403 no tunnel for {said} ({PASSWORD})\r\n"
                      f"content-length: 0\r\nconnection: close\r\n\r\n".encode())

    with RawServer(echo) as srv:
        client = make_client(base_url="https://127.0.0.1:9/api/v1", max_retries=0,
                             proxy=f"http://alice:{PASSWORD}@127.0.0.1:{srv.port}")
        with pytest.raises(ProxyError) as info:
            client.chat.completions.create(model=MODEL, messages=USER)
    shown = str(info.value) + repr(info.value)
    assert "403 no tunnel for Basic ***" in shown
    assert BASIC.split()[1].rstrip("=") not in shown and PASSWORD not in shown
    assert emu.count() == 0


def test_a_plain_http_407_is_a_proxy_error(make_client: Callable[..., Any],
                                           emu: Emulator) -> None:
    from nanogpt.emulator import Fault

    emu.inject(Fault(status=407), times=None)
    with pytest.raises(ProxyError):
        make_client(max_retries=3).models.list()
    assert emu.count() == 1


def test_failover_to_a_fallback_host_goes_through_the_proxy(
        make_client: Callable[..., Any], emu: Emulator, proxy: ProxyServer,
        https_emu: str) -> None:
    dead = dead_url().replace("http://", "https://")
    client = make_client(base_url=dead, fallback_base_urls=[https_emu], proxy=proxy.url,
                         max_retries=0)
    client.chat.completions.create(model=MODEL, messages=USER)  # a POST: failover is safe
    # (the proxy could not reach the dead host: 502 to CONNECT, so nothing was sent)
    targets = [h.target for h in proxy.heads]
    assert targets == [dead.split("/")[2], https_emu.split("/")[2]]
    assert emu.count() == 1


def test_a_dead_proxy_is_a_connection_error_naming_it_without_its_password(
        make_client: Callable[..., Any], emu: Emulator) -> None:
    port = dead_url().split(":")[2].split("/")[0]
    client = make_client(proxy=f"http://alice:{PASSWORD}@127.0.0.1:{port}", max_retries=1)
    with pytest.raises(APIConnectionError) as info:
        client.chat.completions.create(model=MODEL, messages=USER)
    assert not isinstance(info.value, ProxyError)
    assert PASSWORD not in str(info.value) and PASSWORD not in repr(client)
    assert emu.count() == 0


@pytest.mark.timeout(60)
def test_a_proxy_trickling_its_connect_answer_is_cut_by_the_connect_timeout(
        make_client: Callable[..., Any], emu: Emulator) -> None:
    """The connect timeout bounds the proxy's whole answer to ``CONNECT``, not each byte of
    it: a proxy (or a middlebox) sending a byte now and then would otherwise hold the call for
    as long as it likes (64 KiB of head, each byte within the timeout)."""
    import threading

    from nanogpt import APITimeoutError, Timeout
    from rawserver import RawConn, RawServer

    head = b"HTTP/1.1 200 Connection established\r\n" + b"X-Pad: " + b"." * 300 + b"\r\n\r\n"
    done, stop = threading.Event(), threading.Event()

    def trickle(conn: RawConn) -> None:
        conn.read_head()
        for byte in head:
            if stop.wait(0.05):
                return
            try:
                conn.sock.sendall(bytes([byte]))
            except OSError:
                return
        done.set()

    with RawServer(trickle) as srv:
        client = make_client(base_url="https://127.0.0.1:9/api/v1", max_retries=0,
                             proxy=f"http://127.0.0.1:{srv.port}",
                             timeout=Timeout(connect=0.3, read=30, idle=30, first_event=30))
        try:
            with pytest.raises(APITimeoutError) as info:
                client.chat.completions.create(model=MODEL, messages=USER)
            assert not done.is_set()  # cut while the proxy was still answering
        finally:
            stop.set()
        assert srv.count("CONNECT") == 1
    assert "connect" in str(info.value)
    assert emu.count() == 0
