"""The emulator's usage endpoints as the docs describe them: ``GET /api/v1/usage`` summing its
ledger by UTC day and model, its documented 400s, ``GET /api/subscription/v1/usage`` and
``POST /api/v1/messages/count_tokens``."""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from nanogpt.emulator import Emulator, SubscriptionPlan
from nanogpt.emulator._charges import Charge, aggregate

UTC = dt.timezone.utc
KEY = "sk-nano-usage"


@pytest.fixture
def fresh() -> Iterator[Emulator]:
    """An emulator of its own: an empty ledger."""
    with Emulator() as e:
        yield e


def call(emu: Emulator, path: str, body: Any = None, key: str = KEY) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(emu.url + path, data=data, method="GET" if body is None
                                 else "POST", headers={"Authorization": f"Bearer {key}",
                                                       "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def at(day: dt.date, hour: int = 12) -> float:
    return dt.datetime.combine(day, dt.time(hour), UTC).timestamp()


def test_usage_sums_the_ledger_by_day_and_model(fresh) -> None:
    today = dt.datetime.now(UTC).date()
    yesterday = today - dt.timedelta(days=1)
    fresh.ledger.charge("openai/gpt-5-mini", "chat", 0.25, input_tokens=10, output_tokens=5,
                        at=at(yesterday))
    fresh.ledger.charge("openai/gpt-5-mini", "chat", 0.5, input_tokens=20, output_tokens=1,
                        at=at(today, 0))
    fresh.ledger.charge("text-embedding-3-small", "embedding", 0.125, input_tokens=7,
                        at=at(today))
    fresh.ledger.charge("openai/gpt-5-mini", "chat", 9.0, at=at(today - dt.timedelta(days=40)))
    status, body = call(fresh, "/api/v1/usage")
    assert status == 200 and body["object"] == "usage" and body["groupBy"] == "day,model"
    assert body["from"] == str(today - dt.timedelta(days=29)) and body["to"] == str(today)
    assert body["timezone"] == "UTC" and body["asOf"].endswith("Z")
    assert body["totals"] == {"requests": 3, "costUsd": 0.875, "refundedUsd": 0,
                              "netCostUsd": 0.875, "inputTokens": 37, "outputTokens": 6,
                              "reasoningTokens": 0, "totalTokens": 43}
    assert [(d["date"], d["requests"]) for d in body["byDay"]] == [
        (str(yesterday), 1), (str(today), 2)]
    # model values are public labels; a model outside the chat catalog keeps its id
    assert {m["model"]: m["costUsd"] for m in body["byModel"]} == {
        "GPT-5 Mini": 0.75, "text-embedding-3-small": 0.125}
    assert len(body["byDayModel"]) == 3
    assert str(today) in body["source"]["liveDays"]


def test_usage_group_by_and_explicit_range(fresh) -> None:
    today = dt.datetime.now(UTC).date()
    fresh.ledger.charge("openai/gpt-5-nano", "chat", 0.5, at=at(today))
    status, body = call(fresh, f"/api/v1/usage?from={today}&to={today}&group_by=model")
    assert status == 200 and body["groupBy"] == "model"
    assert "byDay" not in body and "byDayModel" not in body
    assert body["byModel"][0]["model"] == "GPT-5 Nano"
    _, alias = call(fresh, f"/api/v1/usage?from={today}&to={today}&group_by=model,day")
    assert alias["groupBy"] == "day,model"


@pytest.mark.parametrize("query, says", [
    ("?from=2026-01-01", "together"),
    ("?from=2026-1-1&to=2026-01-02", "YYYY-MM-DD"),
    ("?from=2026-01-05&to=2026-01-02", "on or after"),
    ("?from=2020-01-01&to=2021-01-02", "366"),
    ("?from=2026-01-01&to=2999-01-01", "future"),
    ("?group_by=week", "group_by"),
    ("?page=2", "Unsupported parameter: page"),
    ("?scope=account", "scope"),
    ("?api_key_id=999999999", "different API key"),
])
def test_usage_documented_400s(fresh, query, says) -> None:
    status, body = call(fresh, "/api/v1/usage" + query)
    assert status == 400 and says in body["error"]["message"]
    assert body["error"]["type"] == "invalid_request_error"


def test_usage_wants_a_key(fresh) -> None:
    status, body = call(fresh, "/api/v1/usage", key="sk-nano-invalid")
    assert status == 401 and body["error"]["code"] == "invalid_api_key"


def test_aggregate_skips_days_outside_the_range() -> None:
    day = dt.date(2026, 5, 1)
    charges = [Charge(at(day), "a", "chat", 1.0, 1, 2), Charge(at(day, 23), "b", "chat", 2.0),
               Charge(at(day + dt.timedelta(days=1)), "a", "chat", 4.0)]
    agg = aggregate(charges, day, day, label=str.upper)
    assert agg.totals.requests == 2 and agg.totals.cost == 3.0
    assert list(agg.by_model) == ["A", "B"] and list(agg.by_day) == [day]


def test_subscription_answers_for_a_plan_and_for_no_plan(fresh) -> None:
    status, body = call(fresh, "/api/subscription/v1/usage")
    assert status == 200 and body["active"] is True and body["state"] == "active"
    daily = body["dailyInputTokens"]
    assert daily["used"] == 0 and daily["remaining"] == body["limits"]["dailyInputTokens"]
    tomorrow = dt.datetime.combine(dt.datetime.now(UTC).date() + dt.timedelta(days=1),
                                   dt.time(), UTC)
    assert daily["resetAt"] == int(tomorrow.timestamp() * 1000)
    fresh.ledger.charge("openai/gpt-5-nano", "chat", 0.1, input_tokens=40)  # subscription
    fresh.ledger.charge("openai/gpt-5-mini", "chat", 0.1, input_tokens=500)  # pay as you go
    _, body = call(fresh, "/api/v1/subscription/usage")  # the alias
    assert body["dailyInputTokens"]["used"] == 40 and body["weeklyInputTokens"]["used"] == 40
    fresh.subscription = None
    _, body = call(fresh, "/api/subscription/v1/usage")
    assert body["active"] is False and body["state"] == "inactive"
    assert body["dailyInputTokens"] is None and body["routing"]["recommendedMode"] == "paygo"
    fresh.subscription = SubscriptionPlan(daily_input_tokens=10, used_daily_input_tokens=12)
    _, body = call(fresh, "/api/subscription/v1/usage")
    assert body["dailyInputTokens"]["remaining"] == 0
    assert body["dailyInputTokens"]["percentUsed"] == (12 + 40) / 10  # may exceed 1


def test_count_tokens_counts_like_chat_and_checks_the_body(fresh) -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": "three words here"}]}]
    status, body = call(fresh, "/api/v1/messages/count_tokens",
                        {"model": "openai/gpt-5-mini", "messages": messages})
    assert status == 200 and body == {"input_tokens": 6}
    _, with_system = call(fresh, "/api/v1/messages/count_tokens",
                          {"model": "m", "messages": messages, "system": "be brief"})
    assert with_system["input_tokens"] == 6 + 2 + 3
    assert fresh.ledger.entries() == []  # counting is free
    status, body = call(fresh, "/api/v1/messages/count_tokens", {"model": "m"})
    assert status == 400 and body["error"]["param"] == "messages"


def test_reset_stats_empties_the_ledger(emu) -> None:
    """The plugin resets the session's emulator before each test: its ledger too, so that a
    test's usage (and ``emu.ledger``) holds only what that test was served."""
    emu.ledger.charge("openai/gpt-5-mini", "chat", 0.5)
    emu.reset_stats()
    assert emu.ledger.entries() == []
    _, body = call(emu, "/api/v1/usage")
    assert body["totals"]["requests"] == 0
