"""The model catalog and the balance, odd or unreadable values in them included."""

from __future__ import annotations

import pickle
from decimal import Decimal

import msgspec
import pytest

import nanogpt
from conftest import KEY
from nanogpt import APIResponseValidationError, Balance, MissingAPIKeyError, Model
from nanogpt.emulator import Emulator


def test_models_are_typed_and_need_no_key(make_client, emu) -> None:
    c = make_client(api_key=None)
    models = c.models.list()
    assert all(isinstance(m, Model) for m in models)
    m = {m.id: m for m in models}["openai/gpt-5-mini"]
    assert m.name == "GPT-5 Mini" and m.context_length == 400000
    assert m.max_output_tokens == 128000
    assert m.pricing.prompt == 0.25 and m.pricing.completion == 2.0
    assert m.pricing.unit == "per_million_tokens"
    assert m.capabilities.vision and m.capabilities.tool_calling
    assert not m.capabilities.reasoning
    assert m.architecture == {"input_modalities": ["text", "image"]}  # undeclared, reachable
    assert "detailed=true" in emu.requests[-1].path
    assert "authorization" not in emu.requests[-1].headers


def test_catalog_is_cached_and_refresh_refetches(client, emu) -> None:
    a = client.models.list()
    b = client.models.list()
    assert [m.id for m in a] == [m.id for m in b]
    assert emu.count("/models") == 1
    client.models.list(refresh=True)
    assert emu.count("/models") == 2


def test_subscription_paid_and_personalized_lists(make_client, emu) -> None:
    c = make_client()
    sub = {m.id for m in c.models.list("subscription")}
    paid = {m.id for m in c.models.list("paid")}
    everything = {m.id for m in c.models.list()}
    assert sub and paid and not sub & paid and sub | paid == everything
    assert {m.id for m in c.models.list("personalized")} == everything
    assert emu.requests[-1].path.startswith("/api/personalized/v1/models")
    with pytest.raises(MissingAPIKeyError):
        make_client(api_key=None).models.list("personalized")
    with pytest.raises(ValueError):
        c.models.list("bogus")


def test_balance_is_a_decimal(client, emu) -> None:
    b = client.balance()
    assert isinstance(b, Decimal) and isinstance(b, Balance)
    assert b == Decimal("129.46956147") and b.usd_balance == Decimal("129.46956147")
    assert b.nano_balance == Decimal("26.71801147")
    assert b.nano_deposit_address.startswith("nano_")
    assert b + 1 == Decimal("130.46956147")
    req = emu.requests[-1]
    assert req.method == "POST" and req.path == "/api/check-balance"
    assert req.headers["x-api-key"] == KEY


def test_missing_key_fails_at_the_first_call_that_needs_one(make_client, emu,
                                                            monkeypatch) -> None:
    monkeypatch.delenv("NANOGPT_API_KEY", raising=False)
    c = make_client(api_key=None)  # constructing is fine
    with pytest.raises(MissingAPIKeyError, match="NANOGPT_API_KEY"):
        c.chat.completions.create(model="openai/gpt-5-mini",
                                  messages=[{"role": "user", "content": "x"}])
    with pytest.raises(MissingAPIKeyError, match="NANOGPT_API_KEY"):
        c.balance()
    assert emu.count() == 0
    assert c.models.list()  # but the catalog works


def test_key_and_base_url_from_the_environment(kind, emu, monkeypatch, loop_thread) -> None:
    import nanogpt

    monkeypatch.setenv("NANOGPT_API_KEY", KEY)
    monkeypatch.setenv("NANOGPT_BASE_URL", emu.base_url)
    cls = nanogpt.NanoGPT if kind == "sync" else nanogpt.AsyncNanoGPT
    c = cls()
    assert c.base_url == emu.base_url
    assert c._core.base_urls == [emu.base_url]  # an explicit base URL has no fallbacks
    if kind == "sync":
        assert c.balance() == Decimal("129.46956147")
        c.close()
    assert emu.count() == (1 if kind == "sync" else 0)


def test_default_base_url_and_fallbacks(monkeypatch) -> None:
    import nanogpt

    monkeypatch.delenv("NANOGPT_BASE_URL", raising=False)
    c = nanogpt.NanoGPT("k")
    assert c._core.base_urls == [
        "https://nano-gpt.com/api/v1", "https://ai.bitcoin.com/api/v1",
        "https://bcashgpt.com/api/v1", "https://cake.nano-gpt.com/api/v1"]
    assert nanogpt.NanoGPT("k", fallback_base_urls=[])._core.base_urls == [
        "https://nano-gpt.com/api/v1"]


def test_unreadable_balance_is_an_error_not_zero(kind, loop_thread) -> None:
    with Emulator(balance="N/A") as emu:
        c = nanogpt.NanoGPT(KEY, base_url=emu.base_url)
        with pytest.raises(APIResponseValidationError):
            c.balance()
    with Emulator() as emu:
        b = nanogpt.NanoGPT(KEY, base_url=emu.base_url).balance()
    again = pickle.loads(pickle.dumps(b))
    assert again == b == Decimal("129.46956147") and again.nano_balance == b.nano_balance


def test_one_odd_catalog_entry_does_not_hide_the_rest() -> None:
    from nanogpt._core.client import ClientCore
    from nanogpt._core.options import ClientOptions

    core = ClientCore(None, ClientOptions(base_url="http://127.0.0.1:9/api/v1"))
    body = msgspec.json.encode({"data": [{"id": "a/ok", "context_length": 5},
                                         {"id": "b/odd", "capabilities": None,
                                          "context_length": "lots"}]})
    models = core.decode_models("all", 200, {}, body)
    assert [m.id for m in models] == ["a/ok", "b/odd"]
    assert models[1].raw["context_length"] == "lots"


def test_every_model_list_has_one_shape(make_client) -> None:
    """The catalog and the embedding, image and audio model lists are one kind of page: a list
    of typed models that reads as ``openai``'s page, finds a model by id, names its ids, and
    carries its answer's request id and top-level object."""
    from nanogpt.types import ModelPage

    client = make_client()
    pages = [client.models.list(), client.embeddings.models(), client.images.models(),
             client.audio.models()]
    for page in pages:
        assert isinstance(page, ModelPage) and isinstance(page, list) and len(page) > 0
        first = page[0]
        assert page.data is page and page.ids[0] == first.id and page[first.id] is first
        assert page.get(first.id) is first and page.get("no/such-model") is None
        assert page.request_id and first.request_id == page.request_id
        assert page.raw["data"] and page.to_dict()["object"] == "list"
        assert repr(page).startswith(type(page).__name__ + "(")
        with pytest.raises(KeyError):
            page["no/such-model"]
