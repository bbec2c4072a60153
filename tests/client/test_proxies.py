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
