"""``client.web.search``: typed results, the documented errors, bad input refused before
sending, the money rules (billed: never sent twice once it may have reached the server), and
the ``:online`` suffix's price in chat; both clients against the emulator."""

from __future__ import annotations

import datetime
import subprocess
import sys
from decimal import Decimal

import pytest

from conftest import SyncProxy
from nanogpt import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    InsufficientBalanceError,
    InternalServerError,
    InvalidParameterError,
    model_id,
)
from nanogpt.emulator import INVALID_API_KEY, Fault
from nanogpt.types import SearchResult, WebSearch


def test_search_results_are_typed_and_cost_is_reported(make_client, emu) -> None:
    before = len(emu.ledger.entries())
    r = make_client().web.search("rust async runtimes", max_results=3,
                                 include_domains=["example.org"])
    assert isinstance(r, WebSearch) and len(r.results) == 3
    assert all(isinstance(x, SearchResult) and x.type == "text" for x in r.results)
    assert all(x.url and x.url.startswith("https://example.org/") for x in r.results)
    assert r.metadata.provider == "linkup" and r.metadata.depth == "standard"
    assert r.metadata.output_type == "searchResults" and r.metadata.query == \
        "rust async runtimes"
    assert r.cost == Decimal("0.006") and r.request_id and r.raw["metadata"]["cost"] == 0.006
    charges = emu.ledger.entries()[before:]
    assert [(c.kind, c.amount) for c in charges] == [("search", 0.006)]
    req = emu.requests[-1]
    assert req.method == "POST" and req.path == "/api/web"
    assert req.body == {"query": "rust async runtimes", "maxResults": 3,
                        "includeDomains": ["example.org"]}  # only what was set


def test_the_same_query_gives_the_same_results(make_client) -> None:
    c = make_client()
    assert c.web.search("q").to_dict() == c.web.search("q").to_dict()


def test_sourced_answer_deep_and_dates(make_client, emu) -> None:
    r = make_client().web.search("news", depth="deep", output_type="sourcedAnswer",
                                 from_date=datetime.date(2026, 1, 1), to_date="2026-02-01")
    assert r.answer and r.sources and r.sources[0].url and r.results == []
    assert r.cost == Decimal("0.06") and isinstance(r.metadata.cost, Decimal)
    assert emu.requests[-1].body["fromDate"] == "2026-01-01"


def test_structured_output_takes_a_schema_dict(make_client, emu) -> None:
    schema = {"type": "object", "properties": {"tools": {"type": "array",
              "items": {"type": "string"}}}, "required": ["tools"]}
    r = make_client().web.search("ai tools", output_type="structured",
                                 structured_output_schema=schema)
    assert isinstance(r.data, dict) and "tools" in r.data
    assert isinstance(emu.requests[-1].body["structuredOutputSchema"], str)


def test_images_are_typed_too(make_client) -> None:
    r = make_client().web.search("cats", provider="tavily", include_images=True)
    assert r.results[-1].type == "image" and r.results[-1].image_url
    assert r.cost == Decimal("0.008")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"query": ""}, r"query: must be a non-empty string"),
    ({"query": "q", "provider": "linkupp"}, r"provider: .*did you mean 'linkup'"),
    ({"query": "q", "provider": "openai-native"}, r"provider: must be one of"),
    ({"query": "q", "depth": "deeper"}, r"depth: must be one of standard, deep"),
    ({"query": "q", "output_type": "structured"}, r"structured_output_schema: is required"),
    ({"query": "q", "from_date": "2026-13-01"}, r"from_date: is not a calendar date"),
    ({"query": "q", "to_date": "yesterday"}, r"to_date: must be a date"),
    ({"query": "q", "include_domains": "example.com"}, r"include_domains: must be a list"),
    ({"query": "q", "max_results": 0}, r"max_results: must be an integer from 1 to 20"),
    ({"query": "q", "topic": "sports"}, r"topic: must be one of general, news"),
])
def test_bad_input_is_refused_before_sending(make_client, emu, kwargs, match) -> None:
    kwargs = dict(kwargs)
    query = kwargs.pop("query")
    with pytest.raises(InvalidParameterError, match=match):
        make_client().web.search(query, **kwargs)
    assert emu.count() == 0


def test_the_documented_errors(make_client, emu) -> None:
    c = make_client()
    with pytest.raises(BadRequestError):  # only Linkup answers beyond searchResults
        c.web.search("q", provider="brave", output_type="sourcedAnswer")
    with pytest.raises(AuthenticationError):
        make_client(api_key=INVALID_API_KEY).web.search("q")
    emu.inject(Fault(status=402), times=1)
    with pytest.raises(InsufficientBalanceError):
        c.web.search("q")
    assert emu.count("/api/web") == 3  # none retried


def test_a_503_before_the_search_ran_is_retried_once_it_answers(make_client, emu) -> None:
    emu.inject(Fault(status=503, retry_after=0), times=1)
    before = len(emu.ledger.entries())
    assert make_client().web.search("q").cost == Decimal("0.006")
    assert emu.count("/api/web") == 2
    assert len(emu.ledger.entries()) == before + 1  # billed once


def test_a_504_is_not_retried_the_search_may_have_run(make_client, emu) -> None:
    emu.inject(Fault(status=504), times=1)
    with pytest.raises(InternalServerError):
        make_client().web.search("q")
    assert emu.count("/api/web") == 1


def test_a_cut_answer_is_never_sent_again(make_client, emu) -> None:
    emu.inject(Fault(reset_after_chunks=0), times=1)
    with pytest.raises(APIConnectionError) as e:
        make_client().web.search("q")
    assert e.value.answer_cut
    assert emu.count("/api/web") == 1


def test_online_suffix_adds_the_search_price_to_chat(make_client, emu) -> None:
    c = make_client()
    hi = [{"role": "user", "content": "Hi"}]
    plain = c.chat.completions.create(model="openai/gpt-5-mini", messages=hi)
    online = c.chat.completions.create(model=model_id("openai/gpt-5-mini", online="linkup",
                                                      deep=True), messages=hi)
    assert emu.requests[-1].body["model"] == "openai/gpt-5-mini:online/linkup-deep"
    assert online.raw["x_nanogpt_pricing"]["amount"] == pytest.approx(
        plain.raw["x_nanogpt_pricing"]["amount"] + 0.06)
    assert emu.ledger.entries()[-1].amount == pytest.approx(
        plain.raw["x_nanogpt_pricing"]["amount"] + 0.06)


def test_web_namespace_is_lazy_and_works_on_copies(make_client) -> None:
    c = make_client()
    copy, raw_view = c.with_options(timeout=30), c.with_raw_response
    if isinstance(c, SyncProxy):  # the async client's copies, made blocking for the test
        copy, raw_view = SyncProxy(copy, c._runner), SyncProxy(raw_view, c._runner)
    assert copy.web.search("q").cost == Decimal("0.006")
    raw = raw_view.web.search("q")
    parsed = raw.parse()
    if isinstance(c, SyncProxy):
        parsed = c._runner.run(parsed)
    assert raw.status_code == 200 and parsed.cost == Decimal("0.006")
    code = ("import sys, nanogpt; c = nanogpt.NanoGPT(api_key='k'); c.chat; "
            "assert 'nanogpt._web' not in sys.modules; c.web; "
            "assert 'nanogpt._web' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_readme_example_runs(emu, monkeypatch) -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("#### Provider routing and web search", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    monkeypatch.setenv("NANOGPT_API_KEY", "sk-nano-test")
    monkeypatch.setenv("NANOGPT_BASE_URL", emu.base_url)
    scope: dict[str, object] = {}
    exec(compile(code.group(1), "README.md", "exec"), scope)
    assert scope["model"] == "openai/gpt-5-mini:online/linkup-deep:memory-30"
    assert scope["r"].raw["provider"] == scope["rows"].available[0]


def test_usage_reflects_searches_and_routed_chats(make_client) -> None:
    c = make_client()
    c.web.search("q", depth="deep")
    c.chat.completions.create(model="deepseek/deepseek-v3.2", provider="together",
                              messages=[{"role": "user", "content": "Hi"}])
    by_model = {row["model"]: row for row in c.usage(group_by="model").raw["byModel"]}
    assert by_model["web-search/linkup"]["costUsd"] == 0.06
    assert by_model["DeepSeek V3.2"]["requests"] == 1
