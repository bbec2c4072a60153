"""The emulator's whole-body faults act on every JSON answer its handlers make, not only chat's:
usage, the subscription's quota, a model's providers, the balance, the model list and the token
count each come back not JSON (``non_json``), cut half-way (``reset_after_chunks``) or trickled
(``trickle``) when a fault asks; on both clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import nanogpt
from nanogpt.emulator import Fault

HI = [{"role": "user", "content": "Hi"}]

# (the path the fault is queued for, the call that reaches it)
CALLS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "usage": ("/api/v1/usage", lambda c: c.usage()),
    "quota": ("/api/subscription/v1/usage", lambda c: c.subscription.usage()),
    "providers": ("/providers", lambda c: c.models.providers("deepseek/deepseek-v3.2")),
    "balance": ("/api/check-balance", lambda c: c.balance()),
    "models": ("/models", lambda c: c.models.list(refresh=True)),
    "count_tokens": ("/count_tokens",
                     lambda c: c.messages.count_tokens(model="openai/gpt-5-mini", messages=HI)),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_an_answer_that_is_not_json(make_client, emu, name) -> None:
    path, call = CALLS[name]
    client = make_client()
    emu.inject(Fault(non_json=True), path=path)
    with pytest.raises(nanogpt.APIResponseValidationError):
        call(client)
    assert emu.count(path) == 1


@pytest.mark.parametrize("name", list(CALLS))
def test_an_answer_cut_half_way(make_client, emu, name) -> None:
    path, call = CALLS[name]
    client = make_client()
    emu.inject(Fault(reset_after_chunks=0), path=path)
    with pytest.raises(nanogpt.APIConnectionError) as e:
        call(client)
    assert e.value.answer_cut
    assert emu.count(path) == 1


@pytest.mark.parametrize("name", list(CALLS))
def test_a_trickled_answer_arrives_whole(make_client, emu, name) -> None:
    path, call = CALLS[name]
    client = make_client()
    whole = call(client)
    emu.inject(Fault(trickle=0.001), path=path)
    trickled = call(client)
    assert type(trickled) is type(whole)
    assert emu.requests[-1].fault is not None and emu.requests[-1].fault.body.trickle == 0.001
