"""``nanogpt usage`` and ``nanogpt quota``, run as the real command against the emulator: the
table, the bar chart of spend per day (plain characters, width-aware, no colour needed), JSON,
and one-line errors (a key without a subscription gets advice that fits)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import msgspec
import pytest

from conftest import KEY
from nanogpt import NanoGPT
from nanogpt.cli._account import bar_chart, relative
from nanogpt.emulator import INVALID_API_KEY
from nanogpt.types import UsageReport

UTC = dt.timezone.utc


def spend(emu: Any, model: str = "openai/gpt-5-nano") -> None:
    with NanoGPT(KEY, base_url=emu.base_url) as c:
        c.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])


def test_usage_prints_a_table_and_a_chart_of_spend_per_day(run, emu) -> None:
    spend(emu)
    r = run("usage", "--by", "model", COLUMNS="60", NO_COLOR="1")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[1].split() == ["model", "requests", "input", "tokens", "output", "tokens",
                                "cost"]
    assert any(line.startswith("GPT-5 Nano") for line in lines)
    assert any(line.startswith("total") for line in lines)
    chart = lines[lines.index("spend per day (UTC)") + 1:]
    today = str(dt.datetime.now(UTC).date())
    assert chart[-1].startswith(today) and chart[-1].rstrip().endswith(tuple("0123456789"))
    assert all(len(line) <= 60 for line in chart)
    assert "\x1b[" not in r.stdout


def test_usage_by_day_and_as_json(run, emu) -> None:
    spend(emu)
    r = run("usage", "--json")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["object"] == "usage" and body["totals"]["requests"] >= 1
    table = run("usage", "--from", body["from"], "--to", body["to"])
    assert f"{body['from']} to {body['to']} (UTC)" in table.stdout
    assert emu.requests[-1].path.endswith(f"?from={body['from']}&to={body['to']}"
                                          "&group_by=day%2Cmodel")


def test_usage_bad_dates_are_one_line_and_nothing_sent(run, emu) -> None:
    r = run("usage", "--from", "2026-05-10", "--to", "2026-05-01")
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and "'--to'" in r.stderr
    r = run("usage", "--from", "yesterday")
    assert r.returncode == 2 and "'--from'" in r.stderr and "ISO 8601" in r.stderr
    assert emu.count("/usage") == 0


def test_usage_retries_a_503_and_a_refused_key_is_one_line(run, emu) -> None:
    emu.inject(status=503, retry_after=0, path="/usage")
    assert run("usage").returncode == 0
    assert emu.count("/usage") == 2
    r = run("usage", NANOGPT_API_KEY=INVALID_API_KEY)
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1
    assert "API key was refused" in r.stderr


def test_quota_shows_limits_remaining_and_reset_times(run, emu) -> None:
    r = run("quota", TZ="UTC")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["quota", "used", "limit", "remaining", "resets"]
    daily = next(line for line in lines if line.startswith("daily input tokens"))
    tomorrow = dt.datetime.now(UTC).date() + dt.timedelta(days=1)
    assert "1,000,000" in daily and f"{tomorrow} 00:00 UTC (in " in daily
    assert lines[-1].startswith("subscription: active")
    data = json.loads(run("quota", "--json").stdout)
    assert data["active"] is True and "dailyInputTokens" in data


@pytest.fixture
def no_subscription(emu: Any) -> Any:
    saved = emu.subscription
    emu.subscription = None
    yield
    emu.subscription = saved


def test_quota_without_a_subscription_says_what_to_do(run, emu, no_subscription) -> None:
    r = run("quota")
    assert r.returncode == 1 and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1
    assert "no active subscription" in r.stderr and "nanogpt balance" in r.stderr
    assert json.loads(run("quota", "--json").stdout)["active"] is False


def _report(days: dict[str, str], to: str) -> UsageReport:
    body = {"to": to, "byDay": [{"date": d, "costUsd": c} for d, c in days.items()]}
    return msgspec.convert(body, UsageReport, strict=False)


def test_bar_chart_is_plain_proportional_and_fits_the_width() -> None:
    report = _report({"2026-05-01": "0.5", "2026-05-03": "2"}, "2026-05-04")
    lines = bar_chart(report, width=40, unicode=False)
    assert [line[:10] for line in lines] == ["2026-05-01", "2026-05-02", "2026-05-03",
                                             "2026-05-04"]
    bars = [line[12:].split(" $")[0] for line in lines]
    assert bars[2].strip() == "#" * len(bars[2].strip()) and bars[1].strip() == ""
    assert abs(len(bars[0].strip()) * 4 - len(bars[2].strip())) <= 2  # a quarter, rounded
    assert all(len(line) <= 40 for line in lines)
    assert bar_chart(_report({"2026-05-01": "0"}, "2026-05-01"), width=80) == []
    blocks = bar_chart(report, width=200, unicode=True)
    assert blocks[2].count("█") == 60  # the longest bar, however wide the terminal


def test_relative_times() -> None:
    now = dt.datetime(2026, 5, 1, 12, tzinfo=UTC)
    assert relative(now + dt.timedelta(hours=3, minutes=5), now) == "in 3 h"
    assert relative(now + dt.timedelta(minutes=45), now) == "in 45 min"
    assert relative(now + dt.timedelta(days=2, hours=1), now) == "in 2 d"
    assert relative(now + dt.timedelta(seconds=20), now) == "now"
    assert relative(now - dt.timedelta(hours=2), now) == "2 h ago"
