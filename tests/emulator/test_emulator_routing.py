"""What the emulator answers for provider routing and web search: providers that are the same
on every run, the documented 404 of an unencoded id, ``X-Provider`` honoured, a routing object's
documented 400s, and web search's checks and prices."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from nanogpt.emulator import Emulator
from nanogpt.emulator._catalog import BY_ID
from nanogpt.emulator._routing import model_providers

AUTH = {"Authorization": "Bearer sk-nano-test"}
OPEN = "moonshotai/kimi-k2-thinking"
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def plain() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


def root(emu: Emulator) -> str:
    return emu.base_url.removesuffix("/v1")


def get(emu: Emulator, path: str) -> Any:
    return urllib3.request("GET", root(emu) + path, headers=AUTH)


def post(emu: Emulator, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    return urllib3.request("POST", root(emu) + path, headers={**AUTH, **(headers or {})},
                           json=body)


def test_providers_are_deterministic_and_priced_with_the_markup(plain) -> None:
    r = get(plain, "/models/moonshotai%2Fkimi-k2-thinking/providers")
    assert r.status == 200
    body = r.json()
    assert body == model_providers(BY_ID[OPEN])  # the same on every run
    assert body["supportsProviderSelection"] is True
    default = body["defaultPrice"]["inputPer1kTokens"]
    for row in body["providers"]:
        assert set(row) <= {"provider", "available", "pricing", "distillationPolicy"}
        assert 0.8 * 1.05 * default <= row["pricing"]["inputPer1kTokens"] <= 1.4 * 1.05 * default


def test_an_unencoded_slash_is_a_path_separator(plain) -> None:
    assert get(plain, "/models/moonshotai/kimi-k2-thinking/providers").status == 404


def test_providers_want_a_key(plain) -> None:
    r = urllib3.request("GET", root(plain) + "/models/x/providers")
    assert r.status == 401 and r.json()["error"]["code"] == "missing_api_key"


def test_x_provider_header_chooses_the_provider(plain) -> None:
    rows = model_providers(BY_ID[OPEN])["providers"]
    name = rows[1]["provider"]
    r = post(plain, "/v1/chat/completions", {"model": OPEN, "messages": HI},
             {"X-Provider": name})
    assert r.status == 200 and r.json()["provider"] == name
    bad = post(plain, "/v1/chat/completions", {"model": OPEN, "messages": HI},
               {"X-Provider": "nope"})
    assert bad.status == 400 and bad.json()["error"]["code"] == "provider_unknown_provider"


@pytest.mark.parametrize(("routing", "param"), [
    ({"order": "novita"}, "provider.order"),
    ({"quantizations": []}, "provider.quantizations"),
    ({"min_quantization": "unknown"}, "provider.min_quantization"),
    ({"allow_fallbacks": "no"}, "provider.allow_fallbacks"),
    ({"max_price": {"prompt": -1}}, "provider.max_price"),
    ({"only": ["not-a-provider"]}, "provider.only"),
])
def test_a_bad_routing_object_is_a_400_naming_the_field(plain, routing, param) -> None:
    r = post(plain, "/v1/chat/completions", {"model": OPEN, "messages": HI,
                                              "provider": routing})
    assert r.status == 400
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["param"] == param


def test_constraints_nothing_satisfies_are_refused(plain) -> None:
    r = post(plain, "/v1/chat/completions", {"model": OPEN, "messages": HI,
                                              "provider": {"max_price": {"prompt": 0}}})
    assert r.status == 400 and r.json()["error"]["code"] == "no_fallback_available"


def test_ignore_and_max_price_pick_the_cheapest_remaining(plain) -> None:
    rows = [r for r in model_providers(BY_ID[OPEN])["providers"] if r["available"]]
    cheapest = min(rows, key=lambda r: r["pricing"]["inputPer1kTokens"]
                   + r["pricing"]["outputPer1kTokens"])
    r = post(plain, "/v1/chat/completions", {"model": OPEN, "messages": HI,
                                              "provider": {"ignore": [cheapest["provider"]]}})
    assert r.status == 200 and r.json()["provider"] not in (cheapest["provider"],
                                                            "nanogpt-emulator")


@pytest.mark.parametrize(("body", "param"), [
    ({}, "query"),
    ({"query": "q", "provider": "openai-native"}, "provider"),
    ({"query": "q", "depth": "deeper"}, "depth"),
    ({"query": "q", "provider": "exa", "outputType": "sourcedAnswer"}, "outputType"),
    ({"query": "q", "outputType": "structured"}, "structuredOutputSchema"),
    ({"query": "q", "maxResults": 500}, "maxResults"),
])
def test_web_search_checks(plain, body, param) -> None:
    r = post(plain, "/web", body)
    assert r.status == 400 and r.json()["error"]["param"] == param


def test_web_search_prices_follow_the_docs(plain) -> None:
    for provider, depth, cost in (("linkup", "standard", 0.006), ("linkup", "deep", 0.06),
                                  ("sofya", "standard", 0.01575)):
        r = post(plain, "/web", {"query": "q", "provider": provider, "depth": depth})
        meta = r.json()["metadata"]
        assert (meta["provider"], meta["depth"], meta["cost"]) == (provider, depth, cost)
    assert [c.amount for c in plain.ledger.entries()[-3:]] == [0.006, 0.06, 0.01575]
