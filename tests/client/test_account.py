"""What the key spent (``client.usage``), the subscription's quotas
(``client.subscription.usage``) and token counts (``client.messages.count_tokens``), on both
clients against the emulator: typed results, the documented errors, bad input refused before
anything is sent, faults."""

from __future__ import annotations

import datetime as dt
import inspect
import json
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest

from conftest import USER, SyncProxy
from nanogpt import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    InvalidParameterError,
)
from nanogpt.emulator import INVALID_API_KEY, Emulator, SubscriptionPlan
from nanogpt.types import Quota, SubscriptionUsage, TokenCount, UsageReport, UsageRow

UTC = dt.timezone.utc


def today() -> dt.date:
    return dt.datetime.now(UTC).date()


def chat(client: Any, model: str, text: str = "hello there friend") -> Any:
    return client.chat.completions.create(model=model,
                                          messages=[{"role": "user", "content": text}])


# usage ----------------------------------------------------------------------------------------

def test_usage_reflects_the_chats_served_and_their_cost(client, emu) -> None:
    before = client.usage(group_by="model")
    charged = len(emu.ledger.entries())
    chat(client, "openai/gpt-5-mini")
    chat(client, "openai/gpt-5-nano")
    chat(client, "openai/gpt-5-nano")
    new = emu.ledger.entries()[charged:]
    after = client.usage()
    assert isinstance(after, UsageReport) and after.group_by == "day,model"
    assert after.to == today() and after.from_ == today() - dt.timedelta(days=29)
    assert after.totals.requests - before.totals.requests == 3
    spent = sum(Decimal(str(c.amount)) for c in new)
    assert after.totals.cost - before.totals.cost == pytest.approx(spent, abs=Decimal("1e-9"))
    assert after.totals.input_tokens - before.totals.input_tokens == sum(
        c.input_tokens for c in new)
    assert isinstance(after.totals.cost, Decimal)
    rows = {(r.date, r.model): r for r in after.by_day_model}
    assert all(isinstance(r, UsageRow) for r in after.rows)
    assert rows[(today(), "GPT-5 Nano")].requests >= 2  # public labels, as documented
    assert after.by_day[-1].date == today() and after.by_model
    assert after.request_id and after.raw["object"] == "usage"


def test_usage_sends_dates_as_utc_days(client, emu) -> None:
    start = today() - dt.timedelta(days=3)
    # 23:30 at UTC-2 is the next UTC day
    late = dt.datetime.combine(start, dt.time(23, 30), dt.timezone(dt.timedelta(hours=-2)))
    report = client.usage(from_=late, to=today().isoformat(), group_by="model")
    query = emu.requests[-1].path.split("?", 1)[1]
    assert query == (f"from={start + dt.timedelta(days=1)}&to={today()}&group_by=model")
    assert report.by_model is not None and report.by_day == [] and report.by_day_model == []
    client.usage(from_=f"{start}T12:00:00Z")  # `to` alone is filled: today, UTC
    assert emu.requests[-1].path.endswith(f"?from={start}&to={today()}")


@pytest.mark.parametrize("kwargs, param", [
    ({"from_": "2026-05-10", "to": "2026-05-01"}, "to"),
    ({"from_": "2024-01-01", "to": "2025-01-02"}, "from_"),  # 368 days
    ({"from_": "May 1st"}, "from_"),
    ({"to": 20260501}, "to"),
    ({"group_by": "week"}, "group_by"),
    ({"api_key_id": True}, "api_key_id"),
])
def test_usage_bad_input_is_refused_before_sending(client, emu, kwargs, param) -> None:
    with pytest.raises(InvalidParameterError) as e:
        client.usage(**kwargs)
    assert e.value.param == param
    assert emu.count() == 0


def test_usage_documented_400s_are_not_retried(client, emu) -> None:
    with pytest.raises(BadRequestError, match="future"):
        client.usage(from_=today(), to=today() + dt.timedelta(days=2))
    with pytest.raises(BadRequestError, match="different API key"):
        client.usage(api_key_id=0)
    assert emu.count("/usage") == 2


def test_usage_retries_a_503_and_a_429(client, emu) -> None:
    emu.inject(status=503, code="usage_not_ready", retry_after=0, path="/usage")
    emu.inject(status=429, retry_after=0, path="/usage")
    assert client.usage().object == "usage"
    assert emu.count("/usage") == 3


def test_usage_keeps_added_fields_and_survives_odd_values(client, emu) -> None:
    body = {"object": "usage", "from": "2026-05-01", "to": "2026-05-02", "groupBy": "day",
            "newField": {"x": 1},
            "totals": {"requests": 2, "costUsd": 0.1, "inputTokens": None, "future": 1},
            "byDay": [{"date": "2026-05-01", "requests": 2, "costUsd": "0.1"},
                      {"date": "not a date", "requests": "many", "costUsd": 1.5}]}
    emu.inject(body=json.dumps(body), path="/usage")
    report = client.usage()
    assert report.raw["newField"] == {"x": 1} and report.to == dt.date(2026, 5, 2)
    assert report.totals.cost == Decimal("0.1") and report.totals.input_tokens == 0
    assert report.by_day[0].date == dt.date(2026, 5, 1)
    assert report.by_day[1].date is None and report.by_day[1].cost == Decimal("1.5")


# subscription ---------------------------------------------------------------------------------

@pytest.fixture
def no_subscription(emu) -> Any:
    saved = emu.subscription
    emu.subscription = None
    yield emu
    emu.subscription = saved


def test_subscription_quotas_are_typed_with_aware_reset_times(client, emu) -> None:
    usage = client.subscription.usage()
    assert isinstance(usage, SubscriptionUsage) and usage.subscribed and usage.state == "active"
    daily = usage.quotas["dailyInputTokens"]
    assert isinstance(daily, Quota) and daily.limit == 1_000_000
    assert daily.remaining == daily.limit - daily.used and not daily.unknown
    assert daily.reset_at is not None and daily.reset_at.tzinfo is not None
    assert daily.reset_at > dt.datetime.now(UTC)
    assert set(usage.quotas) == {"dailyInputTokens", "weeklyInputTokens", "dailyImages"}
    assert usage.period_end == dt.datetime(2099, 1, 1, tzinfo=UTC)
    assert usage.recommended_mode == "subscription" and usage.request_id


def test_subscription_use_grows_with_chat_on_subscription_models(client, emu) -> None:
    used = client.subscription.usage().quotas["dailyInputTokens"].used
    reply = chat(client, "openai/gpt-5-nano")  # on the subscription
    chat(client, "openai/gpt-5-mini")  # not on it: pay as you go
    now = client.subscription.usage().quotas
    assert now["dailyInputTokens"].used == used + reply.usage.prompt_tokens
    assert now["weeklyInputTokens"].used >= now["dailyInputTokens"].used


def test_a_key_without_subscription_gets_an_inactive_answer(client, no_subscription) -> None:
    usage = client.subscription.usage()
    assert not usage.subscribed and usage.state == "inactive" and usage.quotas == {}
    assert usage.recommended_mode == "paygo" and usage.period_end is None


def test_subscription_with_a_degraded_and_an_added_window(client, emu) -> None:
    body = {"active": True, "state": "grace", "graceUntil": "2026-12-01T00:00:00Z",
            "limits": {"dailyInputTokens": 100},
            "dailyInputTokens": {"used": None, "remaining": None, "percentUsed": None,
                                 "resetAt": 1788652800000, "degraded": True},
            "hourlyThings": {"used": 3, "remaining": 7, "resetAt": "2026-12-01T01:00:00Z"},
            "routing": {"recommendedMode": "subscription", "reason": "unknown"}}
    emu.inject(body=json.dumps(body), path="/subscription/")
    usage = client.subscription.usage()
    assert usage.quotas["dailyInputTokens"].unknown
    assert usage.quotas["dailyInputTokens"].reset_at == dt.datetime(2026, 9, 6, tzinfo=UTC)
    assert usage.quotas["hourlyThings"].remaining == 7
    assert usage.grace_ends == dt.datetime(2026, 12, 1, tzinfo=UTC)


def test_subscription_with_a_refused_key_is_one_401(make_client, emu) -> None:
    with pytest.raises(AuthenticationError):
        make_client(api_key=INVALID_API_KEY).subscription.usage()
    assert emu.count("/subscription/") == 1


# token counts ---------------------------------------------------------------------------------

def test_count_tokens_matches_what_chat_bills(client, emu) -> None:
    messages = [{"role": "user", "content": "count these five words"}]
    count = client.messages.count_tokens(model="openai/gpt-5-mini", messages=messages,
                                         system="be brief")
    assert isinstance(count, TokenCount) and count.request_id
    billed = client.chat.completions.create(
        model="openai/gpt-5-mini",
        messages=[{"role": "system", "content": "be brief"}, *messages]).usage.prompt_tokens
    assert count.input_tokens == billed
    sent = emu.requests[-2].body
    assert sent == {"model": "openai/gpt-5-mini", "messages": messages, "system": "be brief"}


@pytest.mark.parametrize("kwargs, param", [
    ({"model": "", "messages": USER}, "model"),
    ({"model": "m", "messages": []}, "messages"),
    ({"model": "m", "messages": "hi"}, "messages"),
    ({"model": "m", "messages": [{"role": "system", "content": "x"}]}, "messages[0]"),
    ({"model": "m", "messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
    ({"model": "m", "messages": USER, "tools": {"name": "x"}}, "tools"),
    ({"model": "m", "messages": USER, "system": 5}, "system"),
])
def test_count_tokens_bad_input_is_refused_before_sending(client, emu, kwargs, param) -> None:
    with pytest.raises(InvalidParameterError) as e:
        client.messages.count_tokens(**kwargs)
    assert e.value.param == param
    assert emu.count() == 0


def test_count_tokens_is_retried_like_a_get(client, emu) -> None:
    """It runs no model: a connection reset after sending is retried (a chat is not)."""
    emu.inject(reset=True, path="count_tokens")
    count = client.messages.count_tokens(model="openai/gpt-5-mini", messages=USER)
    assert count.input_tokens > 0 and emu.count("count_tokens") == 2
    emu.inject(reset=True, path="/chat/")
    with pytest.raises(APIConnectionError):
        chat(client, "openai/gpt-5-mini")
    assert emu.count("/chat/") == 1


def test_count_tokens_bad_request_is_one_400(client, emu) -> None:
    emu.inject(status=400, message="unknown model", path="count_tokens")
    with pytest.raises(BadRequestError):
        client.messages.count_tokens(model="nope", messages=USER)
    assert emu.count("count_tokens") == 1


# the namespaces -------------------------------------------------------------------------------

def test_namespaces_work_on_copies_and_raw_views(client, emu, kind, loop_thread) -> None:
    def done(value: Any) -> Any:  # an async raw view's parse() is awaited
        return loop_thread.run(value) if inspect.iscoroutine(value) else value

    target = client._target if isinstance(client, SyncProxy) else client
    copy = target.with_options(timeout=30)
    copy = copy if kind == "sync" else SyncProxy(copy, loop_thread)
    assert copy.subscription.usage().subscribed
    assert copy.messages.count_tokens(model="m", messages=USER).input_tokens > 0
    raw = client.with_raw_response.messages.count_tokens(model="m", messages=USER)
    assert raw.status_code == 200 and done(raw.parse()).input_tokens > 0
    assert isinstance(done(client.with_raw_response.usage().parse()), UsageReport)
    assert done(client.with_raw_response.subscription.usage().parse()).subscribed


def test_the_account_module_loads_on_first_use() -> None:
    code = ("import sys, nanogpt; c = nanogpt.NanoGPT('k'); "
            "a = 'nanogpt._account' in sys.modules; c.subscription; c.messages; "
            "print(a, 'nanogpt._account' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["False", "True"]


def test_a_plan_set_on_the_emulator_is_answered() -> None:
    plan = SubscriptionPlan(daily_input_tokens=100, used_daily_input_tokens=100)
    with Emulator(subscription=plan) as emu:
        from nanogpt import NanoGPT

        with NanoGPT("sk-nano-test", base_url=emu.base_url) as c:
            usage = c.subscription.usage()
    assert usage.quotas["dailyInputTokens"].remaining == 0
    assert usage.recommended_mode == "paygo"
