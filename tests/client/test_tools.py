"""Tools from Python functions (``nanogpt.function_tool``) in a whole tool loop against the
emulator, on both clients: the definition sent, the model's call decoded into the function's
types and run, and the result sent back; streamed calls too; bad calls as typed errors."""

from __future__ import annotations

import dataclasses
from typing import Literal

import pytest

from nanogpt import FunctionTool, InvalidParameterError, OutputValidationError, function_tool

MODEL = "openai/gpt-5-mini"


@dataclasses.dataclass
class Place:
    city: str
    country: str


def get_weather(place: Place, unit: Literal["celsius", "fahrenheit"] = "celsius",
                days: int = 1) -> str:
    """The weather forecast for a place.

    Args:
        place: Where.
        unit: The temperature unit.
        days: How many days ahead,
            1 to 7.
    """
    assert isinstance(place, Place)  # decoded into the parameter's type
    return f"{place.city}: 21 degrees {unit} for {days} day(s)"


def test_the_definition_comes_from_hints_and_docstring() -> None:
    tool = function_tool(get_weather)
    assert isinstance(tool, FunctionTool) and tool.name == "get_weather"
    fn = tool.definition["function"]
    assert tool.definition["type"] == "function"
    assert fn["description"] == "The weather forecast for a place."
    params = fn["parameters"]
    assert params["type"] == "object" and params["additionalProperties"] is False
    assert params["required"] == ["place", "unit", "days"] and fn["strict"] is True
    assert params["properties"]["unit"]["enum"] == ["celsius", "fahrenheit"]
    assert params["properties"]["days"]["description"] == "How many days ahead, 1 to 7."
    assert params["$defs"]["Place"]["additionalProperties"] is False
    assert tool(Place("Oslo", "NO")) == "Oslo: 21 degrees celsius for 1 day(s)"  # still callable


def test_a_complete_tool_loop(client, emu) -> None:
    tool = function_tool(get_weather)
    messages: list[dict[str, object]] = [
        {"role": "user", "content": "What is the weather in Oslo?"}]
    r = client.chat.completions.create(model=MODEL, messages=messages,
                                       tools=[tool.definition])
    assert emu.requests[-1].body["tools"] == [tool.definition]
    assert r.finish_reason == "tool_calls"
    call = r.choices[0].message.tool_calls[0]
    args = tool.arguments(call)
    assert isinstance(args["place"], Place) and args["unit"] in ("celsius", "fahrenheit")
    result = tool.call(call)
    messages += [{"role": "assistant", "tool_calls": [
                     {"id": call.id, "type": "function",
                      "function": {"name": call.function.name,
                                   "arguments": call.function.arguments}}]},
                 {"role": "tool", "tool_call_id": call.id, "content": result}]
    final = client.chat.completions.create(model=MODEL, messages=messages,
                                           tools=[tool.definition])
    assert final.finish_reason == "stop" and result in final.text
    assert emu.count() == 2


def test_a_streamed_tool_call_decodes_the_same(client) -> None:
    tool = function_tool(get_weather)
    with client.chat.completions.create(
            model=MODEL, stream=True, tools=[tool.definition],
            messages=[{"role": "user", "content": "Weather in Oslo?"}]) as s:
        whole = s.get_final_completion()
    call = whole.choices[0].message.tool_calls[0]
    assert tool.call(call).endswith("day(s)")


def test_bad_arguments_and_another_tools_call_are_typed_errors() -> None:
    tool = function_tool(get_weather)
    bad = {"function": {"name": "get_weather", "arguments": '{"place": "Oslo"}'}}
    with pytest.raises(OutputValidationError) as info:
        tool.call(bad)
    assert info.value.raw_text == '{"place": "Oslo"}' and info.value.completion is None
    with pytest.raises(OutputValidationError):
        tool.call({"function": {"name": "get_weather", "arguments": "{not json"}})
    with pytest.raises(InvalidParameterError, match="lookup"):
        tool.call({"function": {"name": "lookup", "arguments": "{}"}})


def test_functions_that_cannot_be_tools_are_refused() -> None:
    def no_hint(x):  # type: ignore[no-untyped-def]
        return x

    def star(*args: int) -> int:
        return 0

    for fn in (no_hint, star):
        with pytest.raises(InvalidParameterError):
            function_tool(fn)
    with pytest.raises(InvalidParameterError):
        function_tool(get_weather, name="has spaces")


def test_a_function_without_parameters_is_a_strict_empty_object() -> None:
    def now() -> str:
        """The time."""
        return "noon"

    tool = function_tool(now)
    params = tool.definition["function"]["parameters"]
    assert params["properties"] == {} and tool.definition["function"]["strict"] is True
    assert tool.call({"function": {"name": "now", "arguments": ""}}) == "noon"
