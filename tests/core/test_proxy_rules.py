"""Which proxy a request goes through (``nanogpt._core.proxies``): the environment read as
``requests``/``httpx`` read it, ``NO_PROXY`` matching, the ``proxy=`` argument, and proxy
credentials kept out of every text. Pure: the environment is a dict here."""

from __future__ import annotations

import base64

import pytest

import nanogpt
from nanogpt import InvalidParameterError
from nanogpt._core.proxies import parse_proxy, proxy_rules

PROXY = "http://proxy.corp:3128"


def _through(env: dict[str, str], url: str, *, proxy: str | None = None,
             trust_env: bool = True) -> str | None:
    chosen = proxy_rules(proxy, trust_env, env).for_url(url)
    return None if chosen is None else chosen.url


def test_each_scheme_has_its_variable_and_all_proxy_fills_in() -> None:
    env = {"HTTPS_PROXY": "http://s:1", "HTTP_PROXY": "http://p:2"}
    assert _through(env, "https://nano-gpt.com/api/v1") == "http://s:1"
    assert _through(env, "http://127.0.0.1:8/api/v1") == "http://p:2"
    assert _through({"ALL_PROXY": "http://a:3"}, "https://nano-gpt.com") == "http://a:3"
    assert _through({"ALL_PROXY": "http://a:3", "https_proxy": "http://s:1"},
                    "https://nano-gpt.com") == "http://s:1"
    assert _through({"HTTP_PROXY": "http://p:2"}, "https://nano-gpt.com") is None


def test_the_lower_case_name_wins_and_an_empty_one_unsets() -> None:
    assert _through({"https_proxy": "http://low:1", "HTTPS_PROXY": "http://up:2"},
                    "https://h") == "http://low:1"
    assert _through({"https_proxy": "", "HTTPS_PROXY": "http://up:2"}, "https://h") is None
    assert _through({"HTTPS_PROXY": "  "}, "https://h") is None


def test_upper_case_http_proxy_is_ignored_under_cgi() -> None:
    """httpoxy: under CGI a request's ``Proxy:`` header arrives as ``HTTP_PROXY``."""
    env = {"HTTP_PROXY": "http://evil:1", "REQUEST_METHOD": "GET"}
    assert _through(env, "http://127.0.0.1/x") is None
    assert _through({**env, "http_proxy": "http://ok:2"}, "http://127.0.0.1/x") == "http://ok:2"


def test_trust_env_false_reads_nothing_and_proxy_overrides_the_environment() -> None:
    env = {"HTTPS_PROXY": "http://s:1", "NO_PROXY": "nano-gpt.com"}
    assert _through(env, "https://x.example", trust_env=False) is None
    # an explicit proxy is used for every host; the environment (NO_PROXY too) is not read
    assert _through(env, "https://nano-gpt.com", proxy="http://mine:9") == "http://mine:9"
    assert _through({}, "http://127.0.0.1/x", proxy="http://mine:9", trust_env=False) == \
        "http://mine:9"


@pytest.mark.parametrize(("no_proxy", "url", "bypassed"), [
    ("*", "https://nano-gpt.com", True),
    ("nano-gpt.com", "https://nano-gpt.com/api/v1", True),
    ("nano-gpt.com", "https://cake.nano-gpt.com/api/v1", True),
    ("nano-gpt.com", "https://notnano-gpt.com/api/v1", False),
    (".nano-gpt.com", "https://cake.nano-gpt.com", True),
    (".nano-gpt.com", "https://nano-gpt.com", True),
    ("*.nano-gpt.com", "https://cake.nano-gpt.com", True),
    ("NANO-GPT.COM", "https://Nano-GPT.com.", True),
    ("other.com, nano-gpt.com", "https://nano-gpt.com", True),
    ("other.com nano-gpt.com", "https://nano-gpt.com", True),
    ("nano-gpt.com:443", "https://nano-gpt.com", True),
    ("nano-gpt.com:8443", "https://nano-gpt.com", False),
    ("127.0.0.1", "http://127.0.0.1:8000/api/v1", True),
    ("127.0.0.1:9000", "http://127.0.0.1:8000/api/v1", False),
    ("127.0.0.0/8", "http://127.0.0.5:8000/api/v1", True),
    ("10.0.0.0/8", "http://127.0.0.1:8000/api/v1", False),
    ("::1", "http://[::1]:8000/api/v1", True),
    ("[::1]:8000", "http://[::1]:8000/api/v1", True),
    ("http://127.0.0.1", "http://127.0.0.1:8000/api/v1", True),  # httpx's URL form
    ("localhost", "http://localhost:8000", True),
    ("", "https://nano-gpt.com", False),
    # loopback is not bypassed by default (as with requests and httpx)
    ("other.com", "http://127.0.0.1:8000/api/v1", False),
    ("other.com", "http://localhost:8000/api/v1", False),
])
def test_no_proxy_matching(no_proxy: str, url: str, bypassed: bool) -> None:
    env = {"ALL_PROXY": PROXY, "NO_PROXY": no_proxy}
    assert (_through(env, url) is None) is bypassed


def test_a_proxy_url_without_a_scheme_is_http_and_its_credentials_become_basic_auth() -> None:
    proxy = parse_proxy("us%40er:p%3Ass@proxy.corp:3128", "proxy")
    assert (proxy.host, proxy.port, proxy.url) == ("proxy.corp", 3128, "http://proxy.corp:3128")
    expected = "Basic " + base64.b64encode(b"us@er:p:ss").decode()
    assert proxy.headers() == {"proxy-authorization": expected}
    assert "p%3Ass" not in repr(proxy) and "***" in repr(proxy)
    assert repr(proxy.headers()["proxy-authorization"]) == "'***'"
    assert parse_proxy("http://proxy.corp", "proxy").port == 80


@pytest.mark.parametrize("url", ["https://u:s3cretpw@proxy:443", "socks5://u:s3cretpw@proxy:1080",
                                 "http://u:s3cretpw@:3128", "http://u:s3cretpw@proxy:99999"])
def test_an_unusable_proxy_is_refused_before_anything_is_sent(url: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        nanogpt.NanoGPT("k", proxy=url)
    assert "s3cretpw" not in str(info.value)
    assert "proxy" in str(info.value)


def test_a_bad_proxy_in_the_environment_names_the_variable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks5://u:s3cretpw@proxy:1080")
    with pytest.raises(InvalidParameterError) as info:
        nanogpt.NanoGPT("k")
    assert "HTTPS_PROXY" in str(info.value) and "s3cretpw" not in str(info.value)
    nanogpt.NanoGPT("k", trust_env=False)  # the way out


def test_options_and_client_reprs_show_no_proxy_password() -> None:
    client = nanogpt.NanoGPT("k", proxy="http://me:s3cretpw@proxy.corp:3128")
    assert "s3cretpw" not in repr(client._core.options)
    assert "me:***@proxy.corp" in repr(client._core.options)
    assert "s3cretpw" not in repr(client._core.proxies)
    with pytest.raises(InvalidParameterError):
        nanogpt.NanoGPT("k", trust_env="no")  # type: ignore[arg-type]
