"""Failover over real sockets, on both clients: a dead or failing primary hands the call to a
fallback, which is then used while the primary cools down; a sick host's Retry-After is not
slept on when a healthy host is there, failover works with max_retries=0, and every failure
marks the host. Failover under seeded random faults is in test_chaos_and_soak.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conftest import USER, dead_url
from nanogpt import InternalServerError
from nanogpt.emulator import Emulator, Fault

MODEL = "openai/gpt-5-nano"


def chat(client: Any) -> Any:
    return client.chat.completions.create(model=MODEL, messages=USER)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("retry_after", [5, 7200])
def test_503_with_retry_after_moves_to_the_healthy_host_at_once(
        make_client: Callable[..., Any], emu: Emulator, emu2: Emulator,
        retry_after: int) -> None:
    emu2.inject(Fault(status=503, retry_after=retry_after), times=None)
    c = make_client(base_url=emu2.base_url, fallback_base_urls=[emu.base_url], max_retries=0)
    assert chat(c).text.startswith("Hello")
    assert (emu2.count("/chat"), emu.count("/chat")) == (1, 1)
    assert chat(c).text  # the sick host is skipped while it cools down
    assert (emu2.count("/chat"), emu.count("/chat")) == (1, 2)


def test_503_with_a_long_retry_after_and_no_other_host_keeps_retry_after(
        make_client: Callable[..., Any], emu: Emulator) -> None:
    emu.inject(Fault(status=503, retry_after=7200), times=None)
    with pytest.raises(InternalServerError) as info:
        chat(make_client())
    assert info.value.retry_after == 7200
    assert emu.count("/chat") == 1


def test_a_dead_primary_fails_over_with_max_retries_0(make_client: Callable[..., Any],
                                                       emu: Emulator) -> None:
    c = make_client(base_url=dead_url(), fallback_base_urls=[emu.base_url], max_retries=0)
    assert chat(c).text.startswith("Hello")
    assert emu.count("/chat") == 1


def test_a_504_that_is_not_retried_still_marks_the_host(make_client: Callable[..., Any],
                                                        emu: Emulator, emu2: Emulator) -> None:
    """A chat POST answered 504 is not re-sent (the origin may have run it), but the next call
    goes to the other host."""
    emu2.inject(Fault(status=504), times=None)
    c = make_client(base_url=emu2.base_url, fallback_base_urls=[emu.base_url])
    with pytest.raises(InternalServerError):
        chat(c)
    assert (emu2.count("/chat"), emu.count("/chat")) == (1, 0)
    assert chat(c).text
    assert (emu2.count("/chat"), emu.count("/chat")) == (1, 1)


def test_failover_to_a_fallback_when_the_primary_is_down(make_client, emu) -> None:
    c = make_client(base_url=dead_url(), fallback_base_urls=[emu.base_url])
    assert chat(c).text.startswith("Hello")
    assert emu.count() == 1


def test_failover_on_502_and_the_failed_host_is_skipped_for_a_while(make_client, emu,
                                                                     emu2) -> None:
    c = make_client(base_url=emu2.base_url, fallback_base_urls=[emu.base_url],
                    retry_statuses={429, 502, 503})
    emu2.inject(Fault(status=502), times=None)
    assert chat(c).text
    assert (emu2.count(), emu.count()) == (1, 1)
    assert chat(c).text  # the primary is cooling down: straight to the fallback
    assert (emu2.count(), emu.count()) == (1, 2)


def test_500_is_retried_on_the_same_host(make_client, emu, emu2) -> None:
    c = make_client(base_url=emu2.base_url, fallback_base_urls=[emu.base_url],
                    retry_statuses={500, 503})
    emu2.inject(Fault(status=500))
    assert chat(c).text
    assert (emu2.count(), emu.count()) == (2, 0)
