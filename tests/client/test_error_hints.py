"""Error texts that tell a user what they did not know: a base URL missing its ``/api/v1``,
a status said once, a fallback host named as one. On both clients."""

from __future__ import annotations

from typing import Any

import pytest

import nanogpt
from conftest import USER, dead_url
from rawserver import answering


def test_a_base_url_without_its_path_gets_a_404_that_says_so(make_client, emu) -> None:
    client = make_client(base_url=emu.base_url.removesuffix("/api/v1"))
    with pytest.raises(nanogpt.NotFoundError) as info:
        client.chat.completions.create(model="openai/gpt-5-mini", messages=USER)
    text = str(info.value)
    assert "does not end in /api/v1" in text
    assert "https://nano-gpt.com/api/v1" in text
    assert emu.requests[-1].path == "/chat/completions"


def test_a_base_url_with_a_path_past_api_v1_gets_a_hint_that_is_true(make_client, emu) -> None:
    """Was: "probably missing its path", for a URL that had too much of one."""
    client = make_client(base_url=emu.base_url + "/chat/completions")
    with pytest.raises(nanogpt.NotFoundError) as info:
        client.chat.completions.create(model="openai/gpt-5-mini", messages=USER)
    text = str(info.value)
    assert "does not end in /api/v1" in text
    assert "missing" not in text


def test_a_missing_model_gets_no_path_hint(make_client) -> None:
    with pytest.raises(nanogpt.NotFoundError) as info:
        make_client().chat.completions.create(model="no/such-model", messages=USER)
    assert info.value.code == "model_not_found"
    assert "/api/v1" not in str(info.value)


def test_a_text_404_says_its_status_once(make_client, raw_server: Any) -> None:
    srv = raw_server(answering(b"HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\n"
                               b"content-length: 14\r\n\r\n404: Not Found"))
    client = make_client(base_url=srv.base_url.removesuffix("/api/v1"))
    with pytest.raises(nanogpt.NotFoundError) as info:
        client.balance()
    text = str(info.value)
    assert text.startswith("404: Not Found; the base URL")
    assert "404 404" not in text
    assert srv.count("POST") == 1


def test_a_connection_error_at_a_fallback_host_says_it_is_one(make_client) -> None:
    primary, fallback = dead_url(), dead_url()
    client = make_client(base_url=primary, fallback_base_urls=[fallback], max_retries=0)
    with pytest.raises(nanogpt.APIConnectionError) as info:
        client.balance()
    text = str(info.value)
    assert fallback.removesuffix("/api/v1") in text
    assert f"a fallback host, tried after {primary} failed" in text


def test_a_connection_error_at_the_primary_host_names_no_fallback(make_client) -> None:
    primary = dead_url()
    client = make_client(base_url=primary, fallback_base_urls=[], max_retries=0)
    with pytest.raises(nanogpt.APIConnectionError) as info:
        client.balance()
    assert primary.removesuffix("/api/v1") in str(info.value)
    assert "fallback" not in str(info.value)
