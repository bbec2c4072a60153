"""Hostile 2xx bodies: whatever a server puts in an answer, only our typed errors escape, and a
finished answer is never lost to odd values in its usage or pricing (they read as None)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import USER
from nanogpt import APIResponseValidationError, NanoGPTError
from nanogpt._core.client import ClientCore
from nanogpt._core.options import ClientOptions
from nanogpt._core.stream import StreamCore
from nanogpt._core.types import Usage
from nanogpt.emulator import Emulator, Fault
from rawserver import RawServer, answering

HUGE_INT = "9" * 5000
ANSWER = '"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, ' \
         '"finish_reason": "stop"}]'
USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens", "reasoning_tokens",
                "cached_tokens")
PRICING_FIELDS = ("amount", "cost", "currency", "input_tokens", "output_tokens",
                  "payment_source")


def body(extra: str) -> str:
    return "{" + ANSWER + ", " + extra + "}"


# (extra JSON members, usage expected: None = no usage object, or {field: value}, cost)
GOOD_ANSWERS = [
    pytest.param(f'"x_unknown": {HUGE_INT}', None, None, id="5000-digit-int-unknown-field"),
    pytest.param('"x_unknown": 1e999', None, None, id="1e999-unknown-field"),
    pytest.param('"x_unknown": [-1e999, {"a": ' + HUGE_INT + "}]", None, None,
                 id="nested-odd-numbers"),
    pytest.param('"usage": {"prompt_tokens": "n/a", "completion_tokens": [1], '
                 '"total_tokens": 1e999, "reasoning_tokens": -3, "cached_tokens": {}}',
                 {"prompt_tokens": None, "completion_tokens": None, "total_tokens": None,
                  "reasoning_tokens": None, "cached_tokens": None}, None, id="odd-usage"),
    pytest.param(f'"usage": {{"prompt_tokens": {HUGE_INT}, "completion_tokens": 2.5}}',
                 {"prompt_tokens": None, "completion_tokens": None, "total_tokens": None},
                 None, id="usage-huge-and-fractional"),
    pytest.param('"usage": {"prompt_tokens": "7", "completion_tokens": 3.0}',
                 {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}, None,
                 id="usage-numeric-forms-kept"),
    pytest.param('"usage": "n/a", "x_nanogpt_pricing": [1]', None, None,
                 id="usage-and-pricing-not-objects"),
    pytest.param('"x_nanogpt_pricing": {"costUsd": "n/a", "inputTokens": true}', None, None,
                 id="pricing-odd-cost"),
    pytest.param('"x_nanogpt_pricing": {"amount": 1e999, "currency": 5, "paymentSource": []}',
                 None, None, id="pricing-odd-amount"),
    pytest.param(f'"x_nanogpt_pricing": {{"cost": {HUGE_INT}}}', None, None,
                 id="pricing-huge-cost"),
    pytest.param('"x_nanogpt_pricing": {"cost": "0.25"}', None, Decimal("0.25"),
                 id="pricing-string-cost-kept"),
]

BAD_ANSWERS = [
    pytest.param('{"choices": [], "created": 1e999}', id="created-out-of-range"),
    pytest.param('{"choices": "none"}', id="choices-not-a-list"),
    pytest.param("[" * 100000, id="deep-nesting"),
    pytest.param("NaN", id="nan"),
]


def check_reply(reply: Any, usage: dict[str, Any] | None, cost: Decimal | None) -> None:
    """Every documented read of a finished answer: no exception, odd values None."""
    u = reply.usage
    if usage is None:
        if u is not None:
            for name in USAGE_FIELDS:
                assert getattr(u, name) is None or isinstance(getattr(u, name), int)
    else:
        assert u is not None
        for name, value in usage.items():
            assert getattr(u, name) == value, name
    p = reply.pricing
    if p is not None:
        for name in PRICING_FIELDS:
            getattr(p, name)
    assert reply.cost == cost
    if hasattr(reply, "raw"):
        assert isinstance(reply.raw, dict)


@pytest.mark.parametrize("extra,usage,cost", GOOD_ANSWERS)
def test_odd_values_in_a_finished_answer_read_as_none(make_client: Callable[..., Any],
                                                      emu: Emulator, extra: str,
                                                      usage: dict[str, Any] | None,
                                                      cost: Decimal | None) -> None:
    emu.inject(Fault(body=body(extra)), path="/chat")
    r = make_client().chat.completions.create(model="openai/gpt-5-nano", messages=USER)
    assert r.text == "hi"
    check_reply(r, usage, cost)
    if "x_unknown" in extra:
        assert "x_unknown" in r.raw  # the odd number is None, the rest of .raw is kept
    assert emu.count("/chat") == 1


@pytest.mark.parametrize("raw", BAD_ANSWERS)
def test_malformed_answers_raise_typed_errors_and_are_not_retried(
        make_client: Callable[..., Any], emu: Emulator, raw: str) -> None:
    emu.inject(Fault(body=raw), path="/chat")
    with pytest.raises(APIResponseValidationError):
        make_client().chat.completions.create(model="openai/gpt-5-nano", messages=USER)
    assert emu.count("/chat") == 1


def test_error_body_with_odd_numbers_is_a_typed_error(make_client: Callable[..., Any],
                                                      emu: Emulator) -> None:
    emu.inject(Fault(status=400, body='{"error": {"message": "no", "code": 1e999}}'),
               path="/chat")
    with pytest.raises(NanoGPTError) as info:
        make_client().chat.completions.create(model="openai/gpt-5-nano", messages=USER)
    assert getattr(info.value, "status_code", None) == 400


def test_catalog_with_odd_fields_keeps_every_model(make_client: Callable[..., Any],
                                                   emu: Emulator) -> None:
    catalog = ('{"object": "list", "data": ['
               '{"id": "a/ok", "context_length": 8192, "pricing": {"prompt": 1, "completion": 2}},'
               '{"id": "b/odd", "name": "Odd", "context_length": "n/a", "created": 1e999, '
               '"pricing": {"prompt": [1], "completion": 3}, "capabilities": {"vision": "?"}},'
               f'{{"id": "c/huge", "context_length": {HUGE_INT}, "x": 1e999}},'
               '{"id": 5}, null, "text"]}')
    emu.inject(Fault(body=catalog), path="/models")
    models = make_client().models.list(refresh=True)
    assert [m.id for m in models] == ["a/ok", "b/odd", "c/huge", "5"]
    ok, odd, huge, _ = models
    assert ok.context_length == 8192 and ok.pricing.prompt == 1.0
    assert odd.name == "Odd" and odd.context_length is None and odd.created is None
    assert odd.pricing.prompt is None and odd.pricing.completion == 3.0
    assert odd.raw["context_length"] == "n/a"
    assert huge.context_length is None and huge.raw["x"] is None


@pytest.mark.parametrize("raw,usd,nano", [
    ('{"usd_balance": "5.5", "nano_balance": "n/a", "nanoDepositAddress": [1], "x": 1e999}',
     Decimal("5.5"), None),
    (f'{{"usd_balance": 2, "nano_balance": {HUGE_INT}}}', Decimal(2), None),
])
def test_balance_with_odd_extras(make_client: Callable[..., Any], emu: Emulator, raw: str,
                                 usd: Decimal, nano: Decimal | None) -> None:
    emu.inject(Fault(body=raw), path="/check-balance")
    b = make_client().balance()
    assert b == usd and b.nano_balance == nano and b.nano_deposit_address is None


@pytest.mark.parametrize("raw", ['{"usd_balance": 1e999}', '{"usd_balance": "n/a"}',
                                 f'{{"usd_balance": {HUGE_INT}}}', '{"usd_balance": [1]}'])
def test_balance_that_is_not_a_number_is_a_typed_error(make_client: Callable[..., Any],
                                                       emu: Emulator, raw: str) -> None:
    emu.inject(Fault(body=raw), path="/check-balance")
    with pytest.raises(APIResponseValidationError):
        make_client().balance()


# streams: a raw server sends exactly the frames under test --------------------------------

def sse_server(frames: list[str]) -> RawServer:
    payload = "".join(f"data: {f}\n\n" for f in frames).encode() + b"data: [DONE]\n\n"

    return RawServer(answering(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                               b"content-length: " + str(len(payload)).encode()
                               + b"\r\n\r\n" + payload))


@pytest.fixture
def raw_stream(make_client: Callable[..., Any]) -> Iterator[Callable[[list[str]], Any]]:
    opened: list[tuple[Any, RawServer]] = []

    def run(frames: list[str]) -> Any:
        srv = sse_server(frames).start()
        client = make_client(base_url=srv.base_url)
        opened.append((client, srv))
        s = client.chat.completions.create(model="m", messages=USER, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in s if c.choices)
        return s, text, srv

    yield run
    for client, srv in opened:
        client.close()  # first, so that the server's threads end at once
        srv.stop()


CHUNK = '{"choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": null}]}'


@pytest.mark.parametrize("extra,usage,cost", GOOD_ANSWERS)
def test_odd_values_in_a_finished_stream_read_as_none(raw_stream: Callable[..., Any],
                                                      extra: str, usage: dict[str, Any] | None,
                                                      cost: Decimal | None) -> None:
    last = '{"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], ' + extra + "}"
    s, text, srv = raw_stream([CHUNK, last])
    assert text == "hi" and s.completed
    check_reply(s, usage, cost)
    assert srv.count("POST") == 1


@pytest.mark.parametrize("frame", [
    '{"choices": [], "created": 1e999}', '{"choices": "x"}', "[" * 100000],
    ids=["created-out-of-range", "choices-not-a-list", "deep-nesting"])
def test_malformed_frames_raise_only_stream_errors(raw_stream: Callable[..., Any],
                                                   frame: str) -> None:
    from nanogpt import StreamError

    with pytest.raises(StreamError) as info:
        raw_stream([CHUNK, frame])
    assert info.value.partial_text == "hi"


# fuzz: any JSON value in any usage or pricing field --------------------------------------

json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12), st.sampled_from([HUGE_INT, "1e999", "-1e999", "1E400", "-0"]).map(
        lambda s: _Literal(s)))


class _Literal(str):
    """A number literal JSON cannot round-trip through Python (written as is)."""


def to_json(v: Any) -> str:
    import json

    if isinstance(v, _Literal):
        return str(v)
    if isinstance(v, list):
        return "[" + ",".join(map(to_json, v)) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{to_json(x)}" for k, x in v.items()) + "}"
    return json.dumps(v)


json_value = st.recursive(json_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6)
usage_keys = st.sampled_from(["prompt_tokens", "completion_tokens", "total_tokens",
                              "reasoning_tokens", "cached_tokens", "cache_read_input_tokens",
                              "completion_tokens_details", "prompt_tokens_details"])
pricing_keys = st.sampled_from(["amount", "cost", "costUsd", "currency", "inputTokens",
                                "outputTokens", "paymentSource"])


def core() -> ClientCore:
    return ClientCore("k", ClientOptions(base_url="http://127.0.0.1:1/api/v1",
                                         models_cache_ttl=0))


@settings(max_examples=300, deadline=None)
@given(usage=st.one_of(json_value, st.dictionaries(usage_keys, json_value, max_size=5)),
       pricing=st.one_of(json_value, st.dictionaries(pricing_keys, json_value, max_size=5)))
def test_fuzz_usage_and_pricing_never_break_a_finished_answer(usage: Any, pricing: Any) -> None:
    extra = f'"usage": {to_json(usage)}, "x_nanogpt_pricing": {to_json(pricing)}'
    r = core().decode_completion(200, {}, body(extra).encode())
    assert r.text == "hi"
    _read_all(r)
    sc = StreamCore()
    frame = '{"choices": [{"index": 0, "delta": {"content": "hi"}}], ' + extra + "}"
    sc.feed(f"data: {frame}\n\ndata: [DONE]\n\n".encode())
    assert sc.error is None and sc.done
    final = sc.final()
    assert final.text == "hi"
    _read_all(final)
    if sc.acc.usage_raw is not None:
        _read_usage(Usage(sc.acc.usage_raw))


def _read_all(reply: Any) -> None:
    if reply.usage is not None:
        _read_usage(reply.usage)
    if reply.pricing is not None:
        for name in PRICING_FIELDS:
            v = getattr(reply.pricing, name)
            assert v is None or isinstance(v, (int, str, Decimal))
    c = reply.cost
    assert c is None or (isinstance(c, Decimal) and c.is_finite())
    assert isinstance(reply.raw, dict)


def _read_usage(u: Usage) -> None:
    for name in USAGE_FIELDS:
        v = getattr(u, name)
        assert v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0)


# a lone surrogate in raw UTF-8 (ED A0 80) where the type check fails first: the second,
# number-tolerant decode must read UTF-8 as strictly as msgspec does, and fail typed
SURROGATE = b"\xed\xa0\x80"


@pytest.mark.parametrize("stream", [False, True], ids=["answer", "stream"])
def test_a_lone_surrogate_in_a_mistyped_field_is_a_typed_error(
        make_client: Callable[..., Any], stream: bool) -> None:
    from nanogpt import StreamError

    odd = b'"tool_calls": "' + SURROGATE + b'"'
    if stream:
        frame = b'{"choices": [{"index": 0, "delta": {"content": "x", ' + odd + b"}}]}"
        payload = (b"data: " + CHUNK.encode() + b"\n\ndata: " + frame + b"\n\n"
                   b"data: [DONE]\n\n")
        head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
    else:
        payload = b'{"choices": [{"index": 0, "message": {"content": "hi", ' + odd + b"}}]}"
        head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    response = head + b"content-length: %d\r\n\r\n" % len(payload) + payload

    srv = RawServer(answering(response)).start()
    try:
        client = make_client(base_url=srv.base_url)
        expected = StreamError if stream else APIResponseValidationError
        with pytest.raises(expected) as info:
            if stream:
                for _ in client.chat.completions.create(model="m", messages=USER,
                                                        stream=True):
                    pass
            else:
                client.chat.completions.create(model="m", messages=USER)
        if stream:
            assert info.value.partial_text == "hi"
        assert srv.count("POST") == 1
        client.close()
    finally:
        srv.stop()


def test_a_retry_field_of_thousands_of_digits_is_ignored(make_client: Callable[..., Any]
                                                         ) -> None:
    payload = (b"retry: " + b"9" * 5000 + b"\n" + b"data: " + CHUNK.encode() + b"\n\n"
               b"data: [DONE]\n\n")
    response = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"content-length: %d\r\n\r\n" % len(payload) + payload)

    srv = RawServer(answering(response)).start()
    try:
        client = make_client(base_url=srv.base_url)
        s = client.chat.completions.create(model="m", messages=USER, stream=True)
        assert s.get_final_completion().choices[0].message.content == "hi"
        client.close()
    finally:
        srv.stop()
