"""The emulator's usage endpoint is the key's, as documented ("scoped to the authenticated API
key"): what one key spent never shows in another key's usage."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nanogpt import NanoGPT
from nanogpt.emulator import Emulator


@pytest.fixture
def fresh() -> Iterator[Emulator]:
    """An emulator of its own: an empty ledger."""
    with Emulator() as e:
        yield e


def test_usage_counts_only_what_the_asking_key_was_charged(fresh) -> None:
    alice = NanoGPT(api_key="sk-nano-alice", base_url=fresh.base_url)
    bob = NanoGPT(api_key="sk-nano-bob", base_url=fresh.base_url)
    try:
        alice.chat.completions.create(model="openai/gpt-5-nano",
                                      messages=[{"role": "user", "content": "hi"}])
        bob.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
        bob.web.search("x")
        mine, theirs = alice.usage(), bob.usage()
    finally:
        alice.close()
        bob.close()
    assert mine.totals.requests == 1 and [r.model for r in mine.by_model] == ["GPT-5 Nano"]
    assert theirs.totals.requests == 2
    assert sorted(r.model for r in theirs.by_model) == ["text-embedding-3-small",
                                                        "web-search/linkup"]
    # the ledger keeps every charge, each with the id of the key it billed
    assert len(fresh.ledger.entries()) == 3


def test_a_charge_made_from_python_counts_for_any_key(fresh) -> None:
    fresh.ledger.charge("openai/gpt-5-mini", "chat", 0.25, input_tokens=3)
    with NanoGPT(api_key="sk-nano-anyone", base_url=fresh.base_url) as client:
        assert client.usage().totals.requests == 1
