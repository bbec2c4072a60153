"""Chat completions against the emulator, on both clients: what is sent, parameters refused
before sending, typed answers, and a bad answer body. Streams are in test_streams.py."""

from __future__ import annotations

from decimal import Decimal

import pytest

from conftest import USER
from nanogpt import APIResponseValidationError, ChatCompletion, InvalidParameterError
from nanogpt.emulator import Fault

MODEL = "openai/gpt-5-mini"
EXPECTED = f"Hello from the NanoGPT emulator ({MODEL}). You said: hi there"


def test_sends_exactly_what_the_caller_set(client, emu) -> None:
    client.chat.completions.create(model=MODEL, messages=USER)
    assert emu.requests[-1].body == {"model": MODEL, "messages": USER}
    client.chat.completions.create(
        model=MODEL, messages=USER, temperature=0.3, top_k=40, min_p=0.05,
        repetition_penalty=1.1, top_a=0.2, tfs=0.9, typical_p=0.8, mirostat_mode=2,
        mirostat_tau=5.0, mirostat_eta=0.1, reasoning_effort="low", seed=7, max_tokens=50,
        presence_penalty=None, web_search={"enabled": True}, extra_body={"memory": True},
        extra_headers={"X-Trace": "t1"})
    req = emu.requests[-1]
    assert req.body == {"model": MODEL, "messages": USER, "temperature": 0.3, "top_k": 40,
                        "min_p": 0.05, "repetition_penalty": 1.1, "top_a": 0.2, "tfs": 0.9,
                        "typical_p": 0.8, "mirostat_mode": 2, "mirostat_tau": 5.0,
                        "mirostat_eta": 0.1, "reasoning_effort": "low", "seed": 7,
                        "max_tokens": 50, "webSearch": {"enabled": True}, "memory": True}
    assert req.headers["x-trace"] == "t1"
    assert req.headers["authorization"].startswith("Bearer sk-nano-")
    assert req.headers["content-type"] == "application/json"


@pytest.mark.parametrize("param,value", [
    ("temperature", 2.5), ("temperature", -0.1), ("temperature", "hot"), ("temperature", True),
    ("temperature", float("nan")), ("top_p", 1.5), ("min_p", -0.1), ("min_p", 1.01),
    ("top_k", 0), ("top_k", -2), ("top_k", 1.5), ("frequency_penalty", 2.1),
    ("presence_penalty", -2.1), ("max_tokens", 0), ("reasoning_effort", "extreme"),
    ("mirostat_mode", 3), ("typical_p", 2), ("tfs", -1), ("stop", 5), ("n", 0),
])
def test_out_of_range_values_raise_before_sending(client, emu, param, value) -> None:
    with pytest.raises(InvalidParameterError) as info:
        client.chat.completions.create(model=MODEL, messages=USER, **{param: value})
    assert isinstance(info.value, ValueError)
    assert info.value.param == param and param in str(info.value)
    assert emu.count() == 0


@pytest.mark.parametrize("kwargs,param", [
    ({"model": "", "messages": USER}, "model"),
    ({"model": None, "messages": USER}, "model"),
    ({"model": MODEL, "messages": []}, "messages"),
    ({"model": MODEL, "messages": "hi"}, "messages"),
    ({"model": MODEL, "messages": [{"content": "no role"}]}, "messages[0].role"),
    ({"model": MODEL, "messages": ["hi"]}, "messages[0]"),
])
def test_bad_model_or_messages_raise_before_sending(client, emu, kwargs, param) -> None:
    with pytest.raises(InvalidParameterError) as info:
        client.chat.completions.create(**kwargs)
    assert info.value.param == param
    assert emu.count() == 0


def test_boundary_values_are_accepted(client, emu) -> None:
    client.chat.completions.create(model=MODEL, messages=USER, temperature=0, top_p=1,
                                   min_p=0, top_k=-1, frequency_penalty=-2, presence_penalty=2)
    client.chat.completions.create(model=MODEL, messages=USER, temperature=2, top_k=1)
    assert emu.count() == 2


def test_unknown_keyword_is_a_type_error(client, emu) -> None:
    with pytest.raises(TypeError, match="extra_body"):
        client.chat.completions.create(model=MODEL, messages=USER, temprature=0.5)
    assert emu.count() == 0


def test_typed_completion(client) -> None:
    r = client.chat.completions.create(model=MODEL, messages=USER)
    assert isinstance(r, ChatCompletion)
    assert r.choices[0].message.content == EXPECTED == r.text
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].finish_reason == "stop" == r.finish_reason
    assert r.model == MODEL and r.id.startswith("chatcmpl-")
    assert r.usage.completion_tokens == 10 and r.usage.prompt_tokens == 5
    assert r.usage.total_tokens == 15 and r.usage.cached_tokens == 0
    assert r.pricing.input_tokens == 5 and r.pricing.currency == "USD"
    assert isinstance(r.cost, Decimal) and r.cost == Decimal("0.00002125")
    # fields the typed object does not declare stay reachable
    assert r.provider == "nanogpt-emulator" == r.raw["provider"]
    assert r.usage.prompt_tokens_details == {"cached_tokens": 0}
    with pytest.raises(AttributeError):
        r.not_a_field  # noqa: B018


def test_reasoning_is_read_from_reasoning_and_from_reasoning_content(make_client, emu) -> None:
    for base in (emu.base_url, emu.base_url + "legacy"):
        c = make_client(base_url=base)
        r = c.chat.completions.create(model="deepseek/deepseek-r1", messages=USER)
        assert r.choices[0].message.reasoning.startswith("The user wrote: hi there")
    assert "reasoning_content" in emu.requests[-1].path or True


def test_tool_calls(client) -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
    r = client.chat.completions.create(model=MODEL, messages=USER, tools=tools)
    call = r.choices[0].message.tool_calls[0]
    assert call.function.name == "lookup" and call.function.arguments == '{"input": "hi there"}'
    assert r.finish_reason == "tool_calls"


def test_max_tokens_cuts_with_finish_reason_length(client) -> None:
    r = client.chat.completions.create(model=MODEL, messages=USER, max_tokens=3)
    assert r.finish_reason == "length" and r.text == "Hello from the "


def test_non_json_200_is_a_validation_error_and_not_retried(client, emu) -> None:
    emu.inject(Fault(non_json=True))
    with pytest.raises(APIResponseValidationError) as info:
        client.chat.completions.create(model=MODEL, messages=USER)
    assert info.value.status_code == 200 and b"<html>" in info.value.body
    assert emu.count() == 1


def test_body_cut_off_midway_raises_and_is_not_retried(client, emu) -> None:
    emu.inject(Fault(reset_after_chunks=0))
    with pytest.raises(Exception) as info:
        client.chat.completions.create(model=MODEL, messages=USER)
    from nanogpt import APIConnectionError
    assert isinstance(info.value, APIConnectionError)
    assert emu.count() == 1


# streams -----------------------------------------------------------------------------------


def test_extra_body_may_not_smuggle_stream(client, emu) -> None:
    with pytest.raises(InvalidParameterError):
        client.chat.completions.create(model=MODEL, messages=USER, extra_body={"stream": True})
    assert emu.count() == 0


@pytest.mark.parametrize("call", ["chat", "embeddings", "images", "web"])
def test_an_extra_body_that_is_no_mapping_is_refused_even_when_empty(client, emu,
                                                                    call: str) -> None:
    """One check (``add_extra_body``) for every call: an empty list is as wrong as a full one
    (audio refused it already; the other calls let it through, sending nothing extra)."""
    send = {
        "chat": lambda: client.chat.completions.create(model=MODEL, messages=USER,
                                                       extra_body=[]),
        "embeddings": lambda: client.embeddings.create(model="text-embedding-3-small",
                                                       input="hi", extra_body=[]),
        "images": lambda: client.images.generate(prompt="a lighthouse", extra_body=[]),
        "web": lambda: client.web.search("rust", extra_body=[]),
    }[call]
    with pytest.raises(InvalidParameterError, match="extra_body"):
        send()
    assert emu.count() == 0
