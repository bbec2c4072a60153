"""Request headers are checked before anything is sent, the same way for both clients: a bad
name or value is an InvalidParameterError naming the header and never showing the value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conftest import USER
from nanogpt import InvalidParameterError, NanoGPT
from nanogpt.emulator import Emulator

SECRET = "sk-proxy-token-4242"

BAD_VALUES = [
    pytest.param(SECRET + "\r\nX-Injected: 1", "line break", id="crlf"),
    pytest.param(SECRET + "\r\n X-Injected: 1", "line break", id="obs-fold"),
    pytest.param(SECRET + "\nX-Injected: 1", "line break", id="lf"),
    pytest.param(SECRET + "\x00", "NUL", id="nul"),
    pytest.param(SECRET + "\x7f", "control", id="del"),
    pytest.param(SECRET + "\u2713", "non-ASCII", id="non-latin-1"),
    pytest.param(SECRET + "\xe9", "non-ASCII", id="latin-1"),
]
BAD_NAMES = [pytest.param("X Bad", id="space"), pytest.param("X-A:b", id="colon"),
             pytest.param("", id="empty"), pytest.param("X-\u00e9", id="non-ascii"),
             pytest.param("X-A\r\nX-Injected", id="crlf")]


def refused(info: pytest.ExceptionInfo[InvalidParameterError], param: str) -> str:
    text = str(info.value)
    assert info.value.param == param
    assert SECRET not in text and SECRET not in repr(info.value.args)
    return text


@pytest.mark.parametrize("value,why", BAD_VALUES)
def test_bad_extra_header_value_is_refused_before_sending(make_client: Callable[..., Any],
                                                         emu: Emulator, value: str,
                                                         why: str) -> None:
    client = make_client()
    for stream in (False, True):
        with pytest.raises(InvalidParameterError) as info:
            client.chat.completions.create(model="openai/gpt-5-nano", messages=USER,
                                           stream=stream, extra_headers={"X-Proxy": value})
        text = refused(info, "extra_headers")
        assert "x-proxy" in text.lower() and why in text
    assert emu.count() == 0


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_extra_header_name_is_refused_before_sending(make_client: Callable[..., Any],
                                                        emu: Emulator, name: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        make_client().chat.completions.create(model="openai/gpt-5-nano", messages=USER,
                                              extra_headers={name: SECRET})
    assert "header name" in refused(info, "extra_headers")
    assert emu.count() == 0


@pytest.mark.parametrize("value,why", BAD_VALUES)
def test_bad_default_header_is_refused_at_construction(make_client: Callable[..., Any],
                                                      emu: Emulator, value: str,
                                                      why: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        make_client(default_headers={"Proxy-Authorization": value})
    assert why in refused(info, "default_headers")
    assert emu.count() == 0


@pytest.mark.parametrize("headers", [{"X-A": 5}, {5: "x"}, {"X-A": None}, ["X-A"]])
def test_header_types_are_checked(headers: Any) -> None:
    with pytest.raises(InvalidParameterError):
        NanoGPT("k", base_url="http://127.0.0.1:1/api/v1", default_headers=headers)


def test_good_headers_reach_the_server(make_client: Callable[..., Any], emu: Emulator) -> None:
    client = make_client(default_headers={"X-Team": "a b\tc", "X-Odd_Name~1": "!#$%&'*+"})
    client.chat.completions.create(model="openai/gpt-5-nano", messages=USER,
                                   extra_headers={"X-Trace": "t-1"})
    rec = emu.requests[-1]
    assert rec.headers["x-team"] == "a b\tc" and rec.headers["x-odd_name~1"] == "!#$%&'*+"
    assert rec.headers["x-trace"] == "t-1"
    assert emu.count() == 1


TRANSPORT_HEADERS = [{"Content-Length": "0"}, {"content-length": "5"},
                     {"Transfer-Encoding": "chunked"}, {"Expect": "100-continue"},
                     {"Connection": "close"}, {"Upgrade": "h2c"}, {"TE": "trailers"},
                     {"Keep-Alive": "timeout=5"}, {"Trailer": "X-A"}]


@pytest.mark.parametrize("headers", TRANSPORT_HEADERS, ids=lambda h: next(iter(h)))
def test_framing_headers_are_refused_before_sending(make_client: Callable[..., Any],
                                                   emu: Emulator, headers: dict[str, str]
                                                   ) -> None:
    """A caller's Content-Length (or Transfer-Encoding, Expect...) made the wire disagree with
    the body sent: with ``Content-Length: 0`` both clients sent the JSON after an empty request,
    where the server would read it as the start of the next one."""
    client = make_client(timeout=5, max_retries=0)
    with pytest.raises(InvalidParameterError) as info:
        client.chat.completions.create(model="openai/gpt-5-nano", messages=USER,
                                       extra_headers=headers)
    assert "set by the HTTP library" in refused(info, "extra_headers")
    with pytest.raises(InvalidParameterError):
        make_client(default_headers=headers)
    assert emu.count() == 0
