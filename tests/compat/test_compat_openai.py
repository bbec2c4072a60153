"""The official ``openai`` SDK, sync and async, against the emulator over real sockets.

The emulator is a stand-in for NanoGPT that applications built on other clients can be tested
against: streams in the documented format, tool calls and structured output that follow the
request's schemas, and errors those clients map to their own classes. Installed with the
``compat`` extra; skipped (with the reason) when ``openai`` is missing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any, Literal

import pytest

from nanogpt.emulator import INVALID_API_KEY, Emulator

openai = pytest.importorskip("openai", reason="the compat extra is not installed: "
                                              "pip install '.[compat]'")
jsonschema = pytest.importorskip("jsonschema", reason="the compat extra is not installed")
pydantic = pytest.importorskip("pydantic", reason="the compat extra is not installed")

MODEL = "openai/gpt-5-mini"
KEY = "sk-nano-test"
USER = [{"role": "user", "content": "hi there"}]
EXPECTED = "Hello from the NanoGPT emulator (openai/gpt-5-mini). You said: hi there"

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
        "where": {"type": "object", "properties": {"lat": {"type": "number"},
                                                   "lon": {"type": "number"}},
                  "required": ["lat", "lon"]},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
    }, "required": ["city", "unit", "days", "where", "tags"], "additionalProperties": False}}}
TIME = {"type": "function", "function": {
    "name": "get_time", "parameters": {"type": "object", "properties": {
        "zone": {"type": "string", "format": "date-time"}}, "required": ["zone"]}}}


@pytest.fixture(scope="module")
def server() -> Iterator[Emulator]:
    """An emulator with the default, documented stream format (no quirks)."""
    with Emulator() as emu:
        yield emu


@pytest.fixture
def client(server: Emulator) -> Iterator[Any]:
    with openai.OpenAI(api_key=KEY, base_url=server.base_url, max_retries=0) as c:
        yield c


def test_create(client: Any) -> None:
    r = client.chat.completions.create(model=MODEL, messages=USER)
    assert r.choices[0].message.content == EXPECTED
    assert r.choices[0].finish_reason == "stop" and r.usage.total_tokens > 0


def test_stream_with_include_usage(client: Any) -> None:
    chunks = list(client.chat.completions.create(
        model=MODEL, messages=USER, stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == EXPECTED
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert chunks[-1].choices[0].finish_reason == "stop"  # usage on the final chunk, as documented


def test_stream_helper_assembles_the_answer(client: Any) -> None:
    with client.chat.completions.stream(model=MODEL, messages=USER) as s:
        for _ in s:
            pass
        final = s.get_final_completion()
    assert final.choices[0].message.content == EXPECTED


def test_tool_call_follows_the_schema(client: Any) -> None:
    r = client.chat.completions.create(model=MODEL, tools=[WEATHER], messages=[
        {"role": "user", "content": "Weather in Paris?"}])
    [call] = r.choices[0].message.tool_calls
    assert r.choices[0].finish_reason == "tool_calls" and call.function.name == "get_weather"
    args = json.loads(call.function.arguments)
    jsonschema.validate(args, WEATHER["function"]["parameters"])
    assert args["unit"] == "celsius" and len(args["tags"]) == 2


def test_streamed_tool_call_in_fragments(client: Any) -> None:
    with client.chat.completions.stream(model=MODEL, tools=[WEATHER], messages=[
            {"role": "user", "content": "Weather in Paris?"}]) as s:
        fragments = sum(1 for e in s if e.type == "tool_calls.function.arguments.delta")
        final = s.get_final_completion()
    assert fragments > 2
    [call] = final.choices[0].message.tool_calls
    jsonschema.validate(json.loads(call.function.arguments), WEATHER["function"]["parameters"])


def test_parallel_tool_calls_then_the_answer_uses_the_results(client: Any) -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "Call get_weather and get_time, please."}]
    r = client.chat.completions.create(model=MODEL, tools=[WEATHER, TIME], messages=messages)
    calls = r.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert len({c.id for c in calls}) == 2
    one = client.chat.completions.create(model=MODEL, tools=[WEATHER, TIME],
                                         parallel_tool_calls=False, messages=messages)
    assert len(one.choices[0].message.tool_calls) == 1
    messages.append(r.choices[0].message.model_dump(exclude_none=True))
    messages += [{"role": "tool", "tool_call_id": c.id, "content": f"result {i}"}
                 for i, c in enumerate(calls)]
    done = client.chat.completions.create(model=MODEL, tools=[WEATHER, TIME], messages=messages)
    assert done.choices[0].finish_reason == "stop" and not done.choices[0].message.tool_calls
    assert "result 0" in done.choices[0].message.content
    assert "result 1" in done.choices[0].message.content


class Person(pydantic.BaseModel):  # type: ignore[misc, name-defined]
    name: str
    age: int
    mood: Literal["happy", "sad"]
    friends: list[str]


def test_parse_with_a_pydantic_model(client: Any) -> None:
    r = client.chat.completions.parse(model=MODEL, messages=USER, response_format=Person)
    person = r.choices[0].message.parsed
    assert isinstance(person, Person) and person.mood == "happy" and person.friends
    again = client.chat.completions.parse(model=MODEL, messages=USER, response_format=Person)
    assert again.choices[0].message.parsed == person  # deterministic


def test_json_object_mode(client: Any) -> None:
    r = client.chat.completions.create(model=MODEL, messages=USER,
                                       response_format={"type": "json_object"})
    assert isinstance(json.loads(r.choices[0].message.content), dict)


def test_n_choices_and_reasoning_exclude(client: Any) -> None:
    r = client.chat.completions.create(model=MODEL, messages=USER, n=3)
    assert [c.index for c in r.choices] == [0, 1, 2]
    assert len({c.message.content for c in r.choices}) == 3
    shown = client.chat.completions.create(model="deepseek/deepseek-r1", messages=USER)
    assert shown.choices[0].message.model_extra.get("reasoning")
    for kw in ({"model": "deepseek/deepseek-r1", "extra_body": {"reasoning": {"exclude": True}}},
               {"model": "deepseek/deepseek-r1:reasoning-exclude"}):
        hidden = client.chat.completions.create(messages=USER, **kw)
        assert "reasoning" not in (hidden.choices[0].message.model_extra or {})


def test_models_list(client: Any) -> None:
    ids = [m.id for m in client.models.list()]
    assert MODEL in ids and "deepseek/deepseek-r1" in ids
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve(MODEL)  # not part of NanoGPT's documented API


def test_errors_map_to_the_sdk_classes(server: Emulator, client: Any) -> None:
    with openai.OpenAI(api_key=INVALID_API_KEY, base_url=server.base_url, max_retries=0) as bad, \
            pytest.raises(openai.AuthenticationError) as e:
        bad.chat.completions.create(model=MODEL, messages=USER)
    assert e.value.code == "invalid_api_key"
    with pytest.raises(openai.NotFoundError) as e2:
        client.chat.completions.create(model="no/such-model", messages=USER)
    assert e2.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=MODEL, messages=USER, temperature=5)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model=MODEL, messages=USER, extra_headers={
            "X-Emulator-Fault": json.dumps({"status": 429, "retry_after": 0})})
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model=MODEL, messages=USER, stream=True, extra_headers={
            "X-Emulator-Fault": json.dumps({"status": 503})})


def test_async_client(server: Emulator) -> None:
    async def main() -> None:
        async with openai.AsyncOpenAI(api_key=KEY, base_url=server.base_url,
                                      max_retries=0) as c:
            r = await c.chat.completions.create(model=MODEL, messages=USER)
            assert r.choices[0].message.content == EXPECTED
            stream = await c.chat.completions.create(
                model=MODEL, messages=USER, stream=True, stream_options={"include_usage": True})
            parts = [ch async for ch in stream]
            assert "".join(ch.choices[0].delta.content or "" for ch in parts
                           if ch.choices) == EXPECTED
            assert parts[-1].usage is not None
            t = await c.chat.completions.create(model=MODEL, tools=[WEATHER], messages=USER)
            jsonschema.validate(json.loads(t.choices[0].message.tool_calls[0].function.arguments),
                                WEATHER["function"]["parameters"])
            p = await c.chat.completions.parse(model=MODEL, messages=USER,
                                               response_format=Person)
            assert isinstance(p.choices[0].message.parsed, Person)
            assert MODEL in [m.id async for m in c.models.list()]

    asyncio.run(main())
