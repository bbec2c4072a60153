"""Money-safe retries, on both clients against the emulator: which statuses and connection
failures are retried (and only before an answer started), how many times, and how long
``Retry-After`` is slept on. Moving to another host is in test_failover.py; the plan itself, with
a fake clock, in core/test_plan.py."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import pytest

from conftest import USER, dead_url
from nanogpt import APIConnectionError, APITimeoutError, InternalServerError, RateLimitError
from nanogpt.emulator import Emulator, Fault

MODEL = "openai/gpt-5-mini"


def chat(client, **kw):
    return client.chat.completions.create(model=MODEL, messages=USER, **kw)


@pytest.mark.parametrize("status", [408, 429, 503])
def test_transient_statuses_are_retried(client, emu, status) -> None:
    emu.inject(Fault(status=status, retry_after=0), times=2)
    assert chat(client).text.startswith("Hello")
    assert emu.count() == 3


@pytest.mark.parametrize("status", [500, 502, 504])
def test_statuses_that_may_hide_a_run_are_not_retried_for_chat(make_client, emu,
                                                                status) -> None:
    """A gateway 504 (or a 500/502) may come after the origin got the POST and ran the model:
    re-sending it could bill twice, so by default a chat call is not retried on it."""
    emu.inject(Fault(status=status), times=2)
    with pytest.raises(InternalServerError):
        chat(make_client())
    assert emu.count("/chat") == 1
    # read-only calls retry them, and a caller who accepts the risk can opt in
    assert make_client().models.list(refresh=True)
    assert emu.count("/models") == 2
    emu.inject(Fault(status=status), times=2)
    assert chat(make_client(retry_statuses={408, 429, 500, 502, 503, 504})).text
    assert emu.count("/chat") == 1 + 3


def test_retries_give_up_after_max_retries(make_client, emu) -> None:
    emu.inject(Fault(status=503), times=None)
    with pytest.raises(InternalServerError):
        chat(make_client(max_retries=2))
    assert emu.count() == 3
    emu.reset_stats()
    with pytest.raises(InternalServerError):
        chat(make_client(max_retries=0))
    assert emu.count() == 1


def test_rate_limit_error_carries_retry_after(make_client, emu) -> None:
    emu.inject(Fault(status=429, retry_after="0.01"), times=None)
    with pytest.raises(RateLimitError) as info:
        chat(make_client(max_retries=1))
    assert info.value.retry_after == pytest.approx(0.01)
    assert emu.count() == 2


def test_daily_limit_429_is_not_slept_on(client, emu) -> None:
    emu.inject(Fault(status=429, retry_after=7 * 3600, code="daily_rpd_limit_exceeded"))
    t = time.monotonic()
    with pytest.raises(RateLimitError) as info:
        chat(client)
    assert info.value.retry_after == 7 * 3600 and info.value.code == "daily_rpd_limit_exceeded"
    assert emu.count() == 1
    assert time.monotonic() - t < 60  # it did not wait (a sanity bound, not a speed claim)


def test_retry_after_as_http_date_and_ms(client, emu) -> None:
    far = email.utils.formatdate(time.time() + 6 * 3600, usegmt=True)
    emu.inject(Fault(status=503, retry_after=far))
    with pytest.raises(InternalServerError):
        chat(client)
    assert emu.count() == 1
    emu.reset_stats()
    emu.inject(Fault(status=429, retry_after_ms=5))
    assert chat(client).text
    assert emu.count() == 2


def test_reset_before_the_answer_is_not_retried_for_chat(client, emu) -> None:
    emu.inject(Fault(reset=True))
    with pytest.raises(APIConnectionError, match="billed twice"):
        chat(client)
    assert emu.count() == 1


def test_reset_before_the_answer_is_retried_for_reads(client, emu) -> None:
    emu.inject(Fault(reset=True), path="/models")
    assert client.models.list(refresh=True)
    assert emu.count("/models") == 2


def test_connection_refused_is_retried_then_raises(make_client, emu) -> None:
    c = make_client(base_url=dead_url(), max_retries=2)
    with pytest.raises(APIConnectionError) as info:
        chat(c)
    assert not isinstance(info.value, APITimeoutError)
    assert "connect" in str(info.value)


def test_reset_before_any_answer_on_every_attempt_is_typed(make_client: Any,
                                                           emu: Emulator) -> None:
    emu.inject(Fault(reset=True), times=None)
    c = make_client()
    with pytest.raises(APIConnectionError):
        c.chat.completions.create(model=MODEL, messages=USER)
    with pytest.raises(APIConnectionError):
        c.models.list(refresh=True)
    assert emu.count("/models") == 3  # reads are retried
