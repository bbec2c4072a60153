"""Compressed request bodies (``compress_requests``), on both clients against the emulator:
large chat bodies go gzip-compressed, small ones plain; a 415 to a compressed body is answered
by one plain send that is not a retry, and the host is remembered as refusing; the setting and
the Content-Encoding header are checked before anything is sent.

(test_compression.py is about compressed *answers*.)"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from typing import Any

import pytest

from conftest import USER
from nanogpt import APIStatusError, InvalidParameterError
from nanogpt._core.compression import DEFAULT_THRESHOLD
from nanogpt.emulator import Emulator, Fault

MODEL = "openai/gpt-5-mini"
# about 60 KB of JSON: a long conversation, well over the default threshold
LONG = [{"role": "user" if i % 2 == 0 else "assistant",
         "content": f"turn {i}: " + "the quick brown fox jumps over the lazy dog " * 30}
        for i in range(40)]
SHORT = [{"role": "user", "content": "hello " * 200}]  # 1.2 KB: under the default threshold


def chats(emu: Emulator) -> list[Any]:
    return [r for r in emu.requests if r.path.endswith("/chat/completions")]


def test_a_long_conversation_goes_gzip_compressed(make_client: Callable[..., Any],
                                                  emu: Emulator) -> None:
    client = make_client()
    r = client.chat.completions.create(model=MODEL, messages=LONG)
    assert r.choices[0].message.content
    [req] = chats(emu)
    assert req.content_encoding == "gzip"
    assert req.body == {"model": MODEL, "messages": LONG}  # decoded: what the caller sent
    assert req.body_size > DEFAULT_THRESHOLD
    assert req.wire_size * 5 < req.body_size  # the bytes that travelled


def test_a_short_conversation_goes_plain(make_client: Callable[..., Any],
                                         emu: Emulator) -> None:
    make_client().chat.completions.create(model=MODEL, messages=SHORT)
    [req] = chats(emu)
    assert req.content_encoding is None and req.wire_size == req.body_size


@pytest.mark.parametrize("setting,messages,coded", [
    pytest.param(None, LONG, False, id="None-never"),
    pytest.param(False, LONG, False, id="False-never"),
    pytest.param(0, SHORT, True, id="0-always"),
    pytest.param(True, LONG, True, id="True-default"),
    pytest.param(10**9, LONG, False, id="above-the-body"),
])
def test_the_threshold_decides(make_client: Callable[..., Any], emu: Emulator, setting: Any,
                               messages: Any, coded: bool) -> None:
    make_client(compress_requests=setting).chat.completions.create(model=MODEL,
                                                                   messages=messages)
    [req] = chats(emu)
    assert (req.content_encoding == "gzip") is coded
    assert req.body["messages"] == messages


def test_a_stream_request_goes_compressed_too(make_client: Callable[..., Any],
                                              emu: Emulator) -> None:
    with make_client().chat.completions.create(model=MODEL, messages=LONG, stream=True) as s:
        text = "".join(c.choices[0].delta.content or "" for c in s if c.choices)
    assert text
    [req] = chats(emu)
    assert req.content_encoding == "gzip" and req.body["stream"] is True


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_415_falls_back_to_one_plain_send_that_is_not_a_retry(
        make_client: Callable[..., Any], emu: Emulator, stream: bool) -> None:
    emu.request_encodings = frozenset()  # the server refuses every compressed body
    client = make_client(max_retries=0)  # the fallback must not need a retry
    if stream:
        with client.chat.completions.create(model=MODEL, messages=LONG, stream=True) as s:
            assert "".join(c.choices[0].delta.content or "" for c in s if c.choices)
    else:
        assert client.chat.completions.create(model=MODEL, messages=LONG).choices
    first, second = chats(emu)
    assert first.content_encoding == "gzip"  # answered 415: not processed
    assert second.content_encoding is None and second.body["messages"] == LONG
    assert second.api_key == first.api_key


def test_the_host_that_refused_gets_plain_bodies_from_then_on(
        make_client: Callable[..., Any], emu: Emulator) -> None:
    emu.request_encodings = frozenset()
    client = make_client()
    for _ in range(3):
        client.chat.completions.create(model=MODEL, messages=LONG)
    assert [r.content_encoding for r in chats(emu)] == ["gzip", None, None, None]
    # another client knows nothing of it: it tries compressing once itself
    make_client().chat.completions.create(model=MODEL, messages=LONG)
    assert [r.content_encoding for r in chats(emu)][4:] == ["gzip", None]


def test_a_415_to_a_plain_body_is_an_error_sent_once(make_client: Callable[..., Any],
                                                     emu: Emulator) -> None:
    emu.inject(Fault(status=415))
    with pytest.raises(APIStatusError) as info:
        make_client().chat.completions.create(model=MODEL, messages=USER)
    assert info.value.status_code == 415
    assert len(chats(emu)) == 1


def test_a_second_415_after_the_fallback_is_not_sent_again(make_client: Callable[..., Any],
                                                           emu: Emulator) -> None:
    emu.request_encodings = frozenset()
    emu.inject(Fault(status=415), times=2)  # the plain send is refused too
    with pytest.raises(APIStatusError) as info:
        make_client().chat.completions.create(model=MODEL, messages=LONG)
    assert info.value.status_code == 415
    assert [r.content_encoding for r in chats(emu)] == ["gzip", None]


def test_model_lists_and_the_balance_are_never_compressed(make_client: Callable[..., Any],
                                                         emu: Emulator) -> None:
    client = make_client(compress_requests=0)
    client.balance()
    client.models.list()
    assert emu.requests and all(r.content_encoding is None for r in emu.requests)


@pytest.mark.parametrize("value", [-1, 1.5, "16k", [1]])
def test_a_bad_setting_is_refused(make_client: Callable[..., Any], emu: Emulator,
                                  value: Any) -> None:
    with pytest.raises(InvalidParameterError) as info:
        make_client(compress_requests=value)
    assert info.value.param == "compress_requests"


@pytest.mark.parametrize("where", ["extra_headers", "default_headers"])
def test_a_content_encoding_header_from_the_caller_is_refused_before_sending(
        make_client: Callable[..., Any], emu: Emulator, where: str) -> None:
    headers = {"Content-Encoding": "gzip"}
    with pytest.raises(InvalidParameterError) as info:
        if where == "default_headers":
            make_client(default_headers=headers)
        else:
            make_client().chat.completions.create(model=MODEL, messages=USER,
                                                  extra_headers=headers)
    assert "compress_requests" in str(info.value)
    assert emu.count() == 0


def test_a_body_compression_would_not_shrink_goes_plain(make_client: Callable[..., Any],
                                                         emu: Emulator) -> None:
    make_client(compress_requests=0).chat.completions.create(model=MODEL, messages=USER)
    [req] = chats(emu)
    assert req.content_encoding is None and req.body["messages"] == USER


def test_the_compressed_body_is_plain_gzip() -> None:
    """What any server's gzip decoder reads (no timestamp: the same body, the same bytes)."""
    from nanogpt._core.compression import gzip_body

    body = b'{"messages": "' + b"x" * 1000 + b'"}'
    assert gzip.decompress(gzip_body(body)) == body
    assert gzip_body(body) == gzip_body(body)
