"""Provider routing: ``models.providers()`` and chat's ``provider=`` (a provider id or the routing
object), on both clients against the emulator."""

from __future__ import annotations

import pytest

from conftest import KEY
from nanogpt import BadRequestError, InvalidParameterError, NotFoundError
from nanogpt.emulator import Fault
from nanogpt.types import ModelProviders

HI = [{"role": "user", "content": "Hi"}]
OPEN = "deepseek/deepseek-v3.2"  # supports provider selection in the emulator
CLOSED = "openai/gpt-5-mini"  # does not


def test_providers_are_typed_and_the_id_is_percent_encoded(make_client, emu) -> None:
    c = make_client()
    p = c.models.providers(OPEN)
    assert isinstance(p, ModelProviders)
    assert p.canonical_id == OPEN and p.display_name == "DeepSeek V3.2"
    assert p.supports_provider_selection is True
    assert p.default_price is not None and p.default_price.prompt_per_million == \
        pytest.approx(0.28)
    assert len(p.providers) >= 3 and all(r.pricing is not None for r in p.providers)
    assert p.available and set(p.available) <= {r.provider for r in p.providers}
    assert p.providers[0].distillation_policy is not None
    assert p.providers[0].distillation_policy.status == "allowed"
    assert p.request_id and p.raw["canonicalId"] == OPEN
    req = emu.requests[-1]
    assert req.method == "GET" and req.path == "/api/models/deepseek%2Fdeepseek-v3.2/providers"
    assert req.headers["authorization"] == f"Bearer {KEY}"


def test_a_model_without_provider_selection_says_so(make_client) -> None:
    p = make_client().models.providers(CLOSED)
    assert p.supports_provider_selection is False and p.providers == [] and p.available == []


def test_an_unknown_model_is_the_documented_400(make_client, emu) -> None:
    with pytest.raises(BadRequestError) as e:
        make_client().models.providers("no/such-model")
    assert not isinstance(e.value, NotFoundError)
    assert emu.count("/providers") == 1  # a 400 is never retried


def test_providers_of_a_bad_id_is_refused_before_sending(make_client, emu) -> None:
    with pytest.raises(InvalidParameterError, match="model"):
        make_client().models.providers("  ")
    assert emu.count() == 0


def test_providers_retry_a_503_since_the_list_is_free(make_client, emu) -> None:
    emu.inject(Fault(status=503, retry_after=0), times=1)
    p = make_client().models.providers(OPEN)
    assert p.supports_provider_selection and emu.count("/providers") == 2


def test_chat_with_a_provider_id_is_served_and_billed_by_it(make_client, emu) -> None:
    c = make_client()
    rows = c.models.providers(OPEN)
    chosen = rows.available[-1]
    price = next(r.pricing for r in rows.providers if r.provider == chosen)
    before = len(emu.ledger.entries())
    r = c.chat.completions.create(model=OPEN, messages=HI, provider=chosen)
    assert r.raw["provider"] == chosen
    assert emu.requests[-1].body["provider"] == chosen
    charge = emu.ledger.entries()[before:]
    assert len(charge) == 1
    expected = (charge[0].input_tokens * price.input_per_1k_tokens
                + charge[0].output_tokens * price.output_per_1k_tokens) / 1000
    assert charge[0].amount == pytest.approx(expected)


def test_chat_with_a_routing_object_goes_as_sent(make_client, emu) -> None:
    c = make_client()
    rows = c.models.providers(OPEN)
    first, second = rows.available[:2]
    routing = {"only": [second], "order": [second, first], "allow_fallbacks": False,
               "max_price": {"prompt": 100, "completion": 100}}
    r = c.chat.completions.create(model=OPEN, messages=HI, provider=routing)
    assert r.raw["provider"] == second
    assert emu.requests[-1].body["provider"] == routing


def test_an_unknown_provider_in_only_is_the_documented_400(make_client, emu) -> None:
    with pytest.raises(BadRequestError) as e:
        make_client().chat.completions.create(model=OPEN, messages=HI,
                                              provider={"only": ["not-a-provider"]})
    assert e.value.code == "provider_unknown_provider"
    assert "not-a-provider" in str(e.value)
    assert emu.count("/chat/completions") == 1


def test_a_provider_for_a_model_without_selection_is_ignored(make_client) -> None:
    r = make_client().chat.completions.create(model=CLOSED, messages=HI, provider="novita")
    assert r.raw["provider"] == "nanogpt-emulator"


@pytest.mark.parametrize(("provider", "match"), [
    ({"orderr": ["novita"]}, r"'orderr'; did you mean 'order'"),
    ({"allow_fallback": False}, r"did you mean 'allow_fallbacks'"),
    ({"only": "novita"}, r"provider\.only: must be a list of provider ids"),
    ({"sort": "cheapest"}, r"provider\.sort: must be one of"),
    ({"quantizations": []}, r"provider\.quantizations: must be a non-empty list"),
    ({"min_quantization": "unknown"}, r"provider\.min_quantization"),
    ({"quantizations": ["fp4"], "min_quantization": "fp8"}, r"nothing at or above"),
    ({"max_price": {"prompt": -1}}, r"provider\.max_price\.prompt: must be a non-negative"),
    ({"max_price": {"promt": 1}}, r"did you mean 'prompt'"),
    ({"allow_fallbacks": "no"}, r"provider\.allow_fallbacks: must be true or false"),
    ("", r"provider: must be a provider id"),
    (["novita"], r"provider: must be a provider id or a routing object"),
])
def test_a_bad_routing_object_is_refused_before_sending(make_client, emu, provider,
                                                        match) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        make_client().chat.completions.create(model=OPEN, messages=HI, provider=provider)
    assert emu.count() == 0


def test_a_routing_suffix_with_a_provider_is_refused_by_the_service(make_client) -> None:
    with pytest.raises(BadRequestError) as e:
        make_client().chat.completions.create(model=OPEN + ":fast", messages=HI,
                                              provider="together")
    assert e.value.code == "speed_suffix_conflict"

