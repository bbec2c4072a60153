"""What a user of the ``openai`` SDK reaches for (issue 11): ``models.list().data``,
``models.retrieve``, ``.request_id`` on results, ``with_raw_response``, ``with_options``,
``create``'s signature in ``help()``, readable reprs, ``to_dict()``/``to_json()``.

Each behaviour runs on both clients (``make_client``) against the emulator over loopback.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import pydoc
import typing
from typing import Any

import pytest

import nanogpt
from conftest import KEY, USER, SyncProxy
from nanogpt import InvalidParameterError, NotFoundError
from nanogpt.emulator import Emulator, Fault
from nanogpt.types import ChatCompletion, Model, ModelList, RawResponse

MODEL = "openai/gpt-5-mini"


def _resolved(value: Any, loop_thread: Any) -> Any:
    """``value``, awaited on the test loop when the async client handed a coroutine back
    (``await raw.parse()``)."""
    return loop_thread.run(value) if inspect.iscoroutine(value) else value


def _as_client(obj: Any, kind: str, loop_thread: Any) -> Any:
    """A client a method returned (``with_options``), behind the blocking proxy for async."""
    target = obj._target if isinstance(obj, SyncProxy) else obj
    return target if kind == "sync" else SyncProxy(target, loop_thread)


# models ---------------------------------------------------------------------------------------

def test_models_list_is_a_list_with_data_and_a_request_id(client, emu) -> None:
    models = client.models.list()
    assert isinstance(models, list) and isinstance(models, ModelList)
    assert models.data is models and models.object == "list"
    assert all(isinstance(m, Model) for m in models.data)
    assert isinstance(models.request_id, str) and models.request_id
    again = client.models.list()  # from the cache: the request id of the answer it came from
    assert again.request_id == models.request_id and emu.count("/models") == 1
    assert json.loads(models.to_json())["data"][0]["id"] == models[0].id


def test_models_retrieve_reads_the_cache(client, emu) -> None:
    m = client.models.retrieve(MODEL)
    assert isinstance(m, Model) and m.id == MODEL and m.context_length == 400000
    assert client.models.retrieve("deepseek/deepseek-r1").id == "deepseek/deepseek-r1"
    assert emu.count("/models") == 1  # one catalog fetch, then the cache


def test_models_retrieve_refreshes_on_a_miss(client, emu, monkeypatch) -> None:
    from nanogpt.emulator import _catalog

    client.models.list()
    new = dict(_catalog.MODELS[0], id="acme/brand-new-1", name="Brand New")
    monkeypatch.setattr(_catalog, "MODELS", [*_catalog.MODELS, new])
    assert client.models.retrieve("acme/brand-new-1").name == "Brand New"
    assert emu.count("/models") == 2


def test_models_retrieve_unknown_names_close_matches(client, emu) -> None:
    client.models.list()
    with pytest.raises(NotFoundError) as e:
        client.models.retrieve("openai/gpt-5-mnii")
    assert "'openai/gpt-5-mini'" in str(e.value) and "did you mean" in str(e.value)
    assert e.value.status_code == 404 and e.value.code == "model_not_found"
    assert emu.count("/models") == 2  # the cache missed: fetched once more, never again
    with pytest.raises(NotFoundError) as e:
        client.models.retrieve("zzzz")
    assert "did you mean" not in str(e.value)


@pytest.mark.parametrize("bad", ["", "  ", None, 3])
def test_models_retrieve_refuses_a_bad_id_before_sending(client, emu, bad) -> None:
    client.models.list()
    with pytest.raises(InvalidParameterError):
        client.models.retrieve(bad)
    assert emu.count("/models") == 1


def test_cli_takes_closest_ids_from_the_sdk() -> None:
    from nanogpt import _contract
    from nanogpt._core import fuzzy
    from nanogpt.cli import _chat

    assert _chat.closest_ids is _contract.closest_ids
    assert _contract.closest_ids("gpt-5-mini", ["openai/gpt-5-mini"]) == \
        fuzzy.closest_ids("gpt-5-mini", ["openai/gpt-5-mini"])


# request ids ----------------------------------------------------------------------------------

def test_every_result_carries_its_request_id(client, emu) -> None:
    a = client.chat.completions.create(model=MODEL, messages=USER)
    b = client.chat.completions.create(model=MODEL, messages=USER)
    assert a.request_id and b.request_id and a.request_id != b.request_id
    with client.chat.completions.create(model=MODEL, messages=USER, stream=True) as s:
        final = s.get_final_completion()
    assert s.request_id and final.request_id == s.request_id
    balance = client.balance()
    assert balance.request_id and balance.request_id not in (a.request_id, s.request_id)
    page = client.batches.list()
    assert page.request_id
    assert client.models.retrieve(MODEL).request_id == client.models.list().request_id


def test_request_id_is_the_servers_header(client, emu) -> None:
    raw = client.with_raw_response.chat.completions.create(model=MODEL, messages=USER)
    assert raw.request_id == raw.headers["x-request-id"]
    assert client.chat.completions.create(model=MODEL, messages=USER).request_id != \
        raw.request_id


# with_raw_response ----------------------------------------------------------------------------

def test_with_raw_response_exposes_status_headers_and_parse(client, emu, loop_thread) -> None:
    raw = client.with_raw_response.chat.completions.create(model=MODEL, messages=USER)
    assert isinstance(raw, (nanogpt.types.RawResponse, nanogpt.types.AsyncRawResponse))
    assert raw.status_code == 200 and "json" in raw.headers["content-type"]
    assert raw.json()["choices"][0]["message"]["content"] == json.loads(raw.text)[
        "choices"][0]["message"]["content"]
    parsed = _resolved(raw.parse(), loop_thread)
    assert isinstance(parsed, ChatCompletion) and parsed.text
    assert parsed.request_id == raw.request_id
    assert _resolved(raw.parse(), loop_thread) is parsed
    assert emu.count("/chat/completions") == 1  # parsing sends nothing
    assert "request_id" in repr(raw) and KEY not in repr(raw)


def test_with_raw_response_covers_every_namespace(client, emu, loop_thread) -> None:
    models = _resolved(client.with_raw_response.models.list().parse(), loop_thread)
    assert isinstance(models, ModelList)
    balance = client.with_raw_response.balance()
    assert balance.status_code == 200 and _resolved(balance.parse(), loop_thread) > 0
    page = client.with_raw_response.batches.list()
    assert page.status_code == 200 and _resolved(page.parse(), loop_thread).object == "list"
    # plain calls stay plain
    assert isinstance(client.chat.completions.create(model=MODEL, messages=USER),
                      ChatCompletion)


def test_with_raw_response_parse_gives_the_structured_completion(client, emu,
                                                                 loop_thread) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}},
              "required": ["name"], "additionalProperties": False}
    raw = client.with_raw_response.chat.completions.parse(model=MODEL, messages=USER,
                                                          response_format=schema)
    assert raw.status_code == 200 and raw.request_id
    done = _resolved(raw.parse(), loop_thread)
    assert isinstance(done.choices[0].message.parsed, dict)
    assert done.request_id == raw.request_id
    plain = client.chat.completions.parse(model=MODEL, messages=USER, response_format=schema)
    assert plain.request_id and plain.request_id != raw.request_id


def test_with_raw_response_errors_are_still_typed(client, emu) -> None:
    emu.inject(Fault(status=400, code="bad", message="nope"))
    with pytest.raises(nanogpt.BadRequestError):
        client.with_raw_response.chat.completions.create(model=MODEL, messages=USER)
    with pytest.raises(InvalidParameterError):
        client.with_raw_response.chat.completions.create(model=MODEL, messages=USER,
                                                         temperature=9)
    assert emu.count("/chat/completions") == 1


def test_with_raw_response_stream_sync(emu) -> None:
    with nanogpt.NanoGPT(KEY, base_url=emu.base_url) as c:
        raw = c.with_raw_response.chat.completions.create(model=MODEL, messages=USER,
                                                          stream=True)
        assert isinstance(raw, RawResponse) and raw.status_code == 200
        assert raw.headers["content-type"].startswith("text/event-stream")
        with pytest.raises(TypeError):
            raw.content  # noqa: B018 - the body is read through the stream
        with raw.parse() as s:
            text = "".join(ch.choices[0].delta.content or "" for ch in s if ch.choices)
        assert text and s.request_id == raw.request_id


def test_with_raw_response_stream_async(emu) -> None:
    async def main() -> tuple[str, str | None, str | None]:
        async with nanogpt.AsyncNanoGPT(KEY, base_url=emu.base_url) as c:
            raw = await c.with_raw_response.chat.completions.create(
                model=MODEL, messages=USER, stream=True)
            assert raw.status_code == 200
            async with await raw.parse() as s:
                final = await s.get_final_completion()
            return final.text, final.request_id, raw.request_id

    text, rid, raw_rid = asyncio.run(main())
    assert text and rid == raw_rid


# with_options ---------------------------------------------------------------------------------

def test_with_options_makes_a_configured_copy(client, emu, kind, loop_thread) -> None:
    copy = _as_client(client.with_options(max_retries=0, timeout=7), kind, loop_thread)
    assert copy._core.options.max_retries == 0 and copy._core.timeout.read == 7
    assert client._core.options.max_retries != 0  # the original is unchanged
    emu.inject(Fault(status=503), times=1)
    with pytest.raises(nanogpt.InternalServerError):
        copy.chat.completions.create(model=MODEL, messages=USER)  # not retried
    assert client.chat.completions.create(model=MODEL, messages=USER).text  # retries
    assert emu.count("/chat/completions") == 2
    assert KEY not in repr(copy) and copy.has_api_key


def test_with_options_base_url_goes_elsewhere(client, emu, kind, loop_thread) -> None:
    with Emulator() as other:
        copy = _as_client(client.with_options(base_url=other.base_url), kind, loop_thread)
        assert copy.chat.completions.create(model=MODEL, messages=USER).text
        assert other.count("/chat/completions") == 1 and emu.count() == 0
        copy.close()


def test_with_options_shares_the_connection_pool(client, emu, kind, loop_thread) -> None:
    copy = _as_client(client.with_options(timeout=30), kind, loop_thread)
    client.chat.completions.create(model=MODEL, messages=USER)
    copy.chat.completions.create(model=MODEL, messages=USER)
    client.balance()
    assert emu.count() == 3 and len(emu.peers) == 1  # one connection for both
    copy.close()  # closing either closes the shared connections; both stay usable
    client.chat.completions.create(model=MODEL, messages=USER)
    copy.chat.completions.create(model=MODEL, messages=USER)
    assert len(emu.peers) == 2


def test_with_options_shares_the_concurrency_slots(emu) -> None:
    with nanogpt.NanoGPT(KEY, base_url=emu.base_url, max_concurrency=1) as c:
        copy = c.with_options(max_retries=0)  # (a `total` timeout would wait it out)
        # this thread holds the only slot, shared with the copy: no wait for ever
        with c.chat.completions.create(model=MODEL, messages=USER, stream=True), \
                pytest.raises(nanogpt.ConcurrencyDeadlockError):
            copy.chat.completions.create(model=MODEL, messages=USER)
        assert copy.chat.completions.create(model=MODEL, messages=USER).text


@pytest.mark.parametrize(("changes", "error"), [
    ({"max_retries": -1}, InvalidParameterError),
    ({"timeout": "soon"}, InvalidParameterError),
    ({"max_concurrency": 5}, InvalidParameterError),
    ({"no_such_option": 1}, TypeError),
])
def test_with_options_checks_before_sending(client, emu, changes, error) -> None:
    with pytest.raises(error):
        client.with_options(**changes)
    assert emu.count() == 0


def test_with_options_new_key_is_never_shown(client, emu, kind, loop_thread) -> None:
    other_key = "sk-other-5a5a5a5a5a5a5a5a5a5a5a5a"
    copy = _as_client(client.with_options(api_key=other_key), kind, loop_thread)
    copy.chat.completions.create(model=MODEL, messages=USER)
    assert emu.requests[-1].headers["authorization"] == f"Bearer {other_key}"
    assert other_key not in repr(copy)


# signature and help ---------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [nanogpt.NanoGPT, nanogpt.AsyncNanoGPT])
def test_create_signature_lists_every_parameter_with_its_type(cls) -> None:
    from nanogpt._core.params import PARAMS, ChatParams

    create = cls(KEY).chat.completions.create
    sig = inspect.signature(create)
    assert list(sig.parameters)[:6] == ["model", "messages", "stream", "extra_body",
                                        "extra_headers", "timeout"]
    assert set(sig.parameters) - {"model", "messages", "stream", "extra_body",
                                  "extra_headers", "timeout"} == set(PARAMS)
    hints = typing.get_type_hints(ChatParams)
    for name in PARAMS:
        p = sig.parameters[name]
        assert p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is None
        assert p.annotation == hints[name] | None
    doc = pydoc.render_doc(create, renderer=pydoc.plaintext)
    assert "top_k: int | None = None" in doc and "temperature: float | None = None" in doc
    assert "reasoning_effort: Optional[Literal['none'" in doc


# reprs and to_dict / to_json ------------------------------------------------------------------

def _public(text: str) -> None:
    for private in ("_usage", "_pricing", "_raw_json", "_raw_dict", "_request_id"):
        assert private not in text, text


def test_reprs_use_public_names(client) -> None:
    r = client.chat.completions.create(model=MODEL, messages=USER)
    text = repr(r)
    assert text.startswith("ChatCompletion(") and "usage=Usage(" in text
    assert "cost=Decimal(" in text
    _public(text)
    with client.chat.completions.create(model=MODEL, messages=USER, stream=True,
                                        stream_options={"include_usage": True}) as s:
        chunks = list(s)
    for ch in chunks:
        _public(repr(ch))
    assert any("usage=Usage(" in repr(ch) for ch in chunks)
    _public(repr(client.models.list()))
    _public(repr(client.models.retrieve(MODEL)))


def test_to_dict_and_to_json_on_every_result(client) -> None:
    r = client.chat.completions.create(model=MODEL, messages=USER)
    with client.chat.completions.create(model=MODEL, messages=USER, stream=True) as s:
        chunk = next(iter(s))
        final = s.get_final_completion()
    results = [r, chunk, final, client.models.list(), client.models.retrieve(MODEL),
               client.balance(), client.batches.list()]
    for obj in results:
        d = obj.to_dict()
        assert isinstance(d, dict)
        assert json.loads(obj.to_json()) == json.loads(json.dumps(d))
        assert "\n" not in obj.to_json(indent=0)
    assert r.to_dict()["usage"] == r.usage.to_dict()
    assert "x_nanogpt_pricing" in r.to_dict()
