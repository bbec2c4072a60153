"""``nanogpt models providers ID`` and ``nanogpt search QUERY``, run as the real command against
the emulator: text and ``--json``, the one-line errors, and ``nanogpt models`` unchanged."""

from __future__ import annotations

import json

from nanogpt.emulator import Fault
from test_cli import assert_one_line_error


def test_models_providers_lists_prices_and_warns_about_paygo(run, emu) -> None:
    r = run("models", "providers", "deepseek/deepseek-v3.2")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("deepseek/deepseek-v3.2: default price 0.28 in, 0.42 out")
    assert lines[1].split() == ["provider", "available", "$/M", "in", "$/M", "out",
                                "distillation"]
    assert len(lines) >= 5 and all(ln.split()[1] in ("yes", "no") for ln in lines[2:])
    assert "pay-as-you-go" in r.stderr and "subscription" in r.stderr
    assert emu.requests[-1].path == "/api/models/deepseek%2Fdeepseek-v3.2/providers"


def test_models_providers_json_is_the_answer(run) -> None:
    r = run("models", "providers", "openai/gpt-5-mini", "--json")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["supportsProviderSelection"] is False and body["providers"] == []


def test_models_providers_of_a_model_without_selection_says_so(run) -> None:
    r = run("models", "providers", "openai/gpt-5-mini")
    assert "no provider selection" in r.stdout and r.stderr == ""


def test_models_providers_errors_are_one_line(run) -> None:
    assert_one_line_error(run("models", "providers", "no-such-model"), "400",
                          "invalid_model_id")
    r = run("models", "--json", "providers", "x")
    assert_one_line_error(r, "do not apply to 'models providers'")
    assert r.returncode == 2


def test_models_listing_still_works_as_a_group(run) -> None:
    r = run("models", "-q", "deepseek", "--json")
    assert r.returncode == 0, r.stderr
    assert {m["id"] for m in json.loads(r.stdout)} >= {"deepseek/deepseek-v3.2"}
    assert "providers" in run("models", "--help").stdout


def test_search_prints_results_and_the_cost_on_stderr(run, emu) -> None:
    r = run("search", "-n", "2", "--domain", "example.org", "rust", "async")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "rust async (1)" and lines[1] == "  https://example.org/search/" + \
        lines[1].rsplit("/", 1)[-1]
    assert len([ln for ln in lines if not ln.startswith(" ")]) == 2
    assert r.stderr.strip() == "$0.006 · linkup standard"
    assert emu.requests[-1].body == {"query": "rust async", "maxResults": 2,
                                     "includeDomains": ["example.org"]}


def test_search_answer_deep_and_json(run, emu) -> None:
    r = run("search", "--answer", "--deep", "--from", "2026-01-01", "what", "changed", "--json")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["metadata"]["cost"] == 0.06 and body["data"]["answer"]
    assert "$0.06" in r.stderr
    sent = emu.requests[-1].body
    assert sent["depth"] == "deep" and sent["outputType"] == "sourcedAnswer"
    assert sent["fromDate"] == "2026-01-01"


def test_search_errors_are_one_line(run, emu) -> None:
    assert_one_line_error(run("search", "--provider", "exa", "--answer", "q"), "400",
                          "searchResults")
    emu.inject(Fault(status=402), times=1)
    assert_one_line_error(run("search", "q"))
    r = run("search", "--from", "yesterday", "q")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert emu.count("/api/web") == 2  # the bad date was refused before sending
