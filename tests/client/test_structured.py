"""Structured outputs (``chat.completions.parse`` and ``.stream``) against the emulator, on
both clients: the schema sent, the answer decoded into the type, refusals, an answer cut by
``max_tokens`` or one that does not validate (typed errors with the raw text, never a second
request), and bad input refused before anything is sent."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal, TypedDict

import msgspec
import pydantic
import pytest

from conftest import KEY, USER
from nanogpt import (
    InvalidParameterError,
    LengthFinishReasonError,
    NanoGPTError,
    OutputValidationError,
    ParsedChatCompletion,
    StructuredOutputError,
)
from nanogpt.emulator import Fault

MODEL = "openai/gpt-5-mini"


class City(pydantic.BaseModel):
    name: str
    population: int
    tags: list[str] = []


class CityStruct(msgspec.Struct):
    name: str
    population: int
    size: Literal["small", "large"] = "small"


@dataclasses.dataclass
class CityData:
    name: str
    population: int


class CityDict(TypedDict):
    name: str
    population: int


CITY_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"},
                                                "population": {"type": "integer"}},
               "required": ["name", "population"], "additionalProperties": False}


def _sent_format(emu: Any) -> dict[str, Any]:
    return emu.requests[-1].body["response_format"]


def test_parse_with_a_pydantic_model(client, emu) -> None:
    r = client.chat.completions.parse(model=MODEL, messages=USER, response_format=City)
    assert isinstance(r, ParsedChatCompletion)
    city = r.choices[0].message.parsed
    assert isinstance(city, City) and r.parsed is city
    assert city == City.model_validate_json(r.choices[0].message.content)
    assert r.usage is not None and r.cost is not None  # still a whole ChatCompletion
    fmt = _sent_format(emu)
    assert fmt["type"] == "json_schema"
    spec = fmt["json_schema"]
    assert spec["name"] == "City" and spec["strict"] is True
    # strict mode: every property required (tags has a default), no others allowed
    assert spec["schema"]["required"] == ["name", "population", "tags"]
    assert spec["schema"]["additionalProperties"] is False
    assert emu.count() == 1


@pytest.mark.parametrize("type_", [CityStruct, CityData, CityDict])
def test_parse_with_msgspec_dataclass_and_typeddict(client, emu, type_) -> None:
    r = client.chat.completions.parse(model=MODEL, messages=USER, response_format=type_)
    parsed = r.choices[0].message.parsed
    assert parsed == msgspec.json.decode(r.choices[0].message.content, type=type_)
    schema = _sent_format(emu)["json_schema"]["schema"]
    assert "$ref" not in schema and schema["type"] == "object"  # the root is the object
    assert _sent_format(emu)["json_schema"]["strict"] is True


def test_parse_with_a_json_schema_dict(client, emu) -> None:
    r = client.chat.completions.parse(model=MODEL, messages=USER, response_format=CITY_SCHEMA)
    parsed = r.choices[0].message.parsed
    assert isinstance(parsed, dict) and set(parsed) == {"name", "population"}
    spec = _sent_format(emu)["json_schema"]
    assert spec["schema"] == CITY_SCHEMA and spec["strict"] is True  # sent as written


def test_a_schema_that_cannot_be_strict_goes_unchanged_and_not_strict(client, emu) -> None:
    class Counts(msgspec.Struct):
        by_word: dict[str, int]  # free-form keys: strict mode cannot list them

    r = client.chat.completions.parse(model=MODEL, messages=USER, response_format=Counts)
    assert isinstance(r.choices[0].message.parsed, Counts)
    spec = _sent_format(emu)["json_schema"]
    assert spec["strict"] is False and "additionalProperties" not in spec["schema"]


def _answer(content: Any, *, refusal: str | None = None, finish: str = "stop") -> Fault:
    body = {"id": "chatcmpl-x", "object": "chat.completion", "model": MODEL,
            "choices": [{"index": 0, "finish_reason": finish,
                         "message": {"role": "assistant", "content": content,
                                     "refusal": refusal}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}
    return Fault(body=json.dumps(body))


def test_a_refusal_lands_in_message_refusal(client, emu) -> None:
    emu.inject(_answer(None, refusal="I can't help with that."))
    r = client.chat.completions.parse(model=MODEL, messages=USER, response_format=City)
    msg = r.choices[0].message
    assert msg.refusal == "I can't help with that." and msg.parsed is None
    assert emu.count() == 1


def test_an_answer_that_does_not_validate_raises_with_the_raw_text(client, emu) -> None:
    emu.inject(_answer('{"name": "Oslo", "population": "many"}'))
    with pytest.raises(OutputValidationError) as info:
        client.chat.completions.parse(model=MODEL, messages=USER, response_format=City)
    e = info.value
    assert isinstance(e, StructuredOutputError) and isinstance(e, NanoGPTError)
    assert e.raw_text == '{"name": "Oslo", "population": "many"}'
    assert e.completion is not None and e.completion.usage.total_tokens == 7  # it was billed
    assert isinstance(e.__cause__, pydantic.ValidationError)
    assert emu.count() == 1  # a paid answer is never asked for again


def test_an_answer_that_is_not_json_raises(client, emu) -> None:
    emu.inject(_answer("Sure! Here is the city: Oslo"))
    with pytest.raises(OutputValidationError) as info:
        client.chat.completions.parse(model=MODEL, messages=USER, response_format=CityStruct)
    assert info.value.raw_text == "Sure! Here is the city: Oslo"
    assert emu.count() == 1


def test_an_answer_cut_by_max_tokens_raises_length_error(client, emu) -> None:
    with pytest.raises(LengthFinishReasonError) as info:
        client.chat.completions.parse(model=MODEL, messages=USER, response_format=City,
                                      max_tokens=2)
    e = info.value
    assert e.raw_text and e.raw_text.startswith("{")
    assert e.completion is not None and e.completion.finish_reason == "length"
    assert emu.count() == 1


@pytest.mark.parametrize("bad", [42, "City", list[int], City(name="x", population=1)])
def test_a_response_format_that_is_no_type_is_refused_before_sending(client, emu, bad) -> None:
    with pytest.raises(InvalidParameterError) as info:
        client.chat.completions.parse(model=MODEL, messages=USER, response_format=bad)
    assert info.value.param == "response_format"
    assert emu.count() == 0


def test_parse_refuses_stream_and_checks_parameters_before_sending(client, emu) -> None:
    with pytest.raises(TypeError, match="stream"):
        client.chat.completions.parse(model=MODEL, messages=USER, response_format=City,
                                      stream=True)
    with pytest.raises(InvalidParameterError):
        client.chat.completions.parse(model=MODEL, messages=USER, response_format=City,
                                      temperature=9)
    assert emu.count() == 0


def test_stream_yields_text_deltas_then_the_object(client, emu) -> None:
    with client.chat.completions.stream(model=MODEL, messages=USER,
                                        response_format=City) as s:
        deltas = list(s)
        final = s.get_final_completion()
    assert len(deltas) > 1 and all(isinstance(d, str) and d for d in deltas)
    assert City.model_validate_json("".join(deltas)) == final.choices[0].message.parsed
    assert isinstance(final.parsed, City)
    assert emu.requests[-1].body["stream"] is True
    assert emu.requests[-1].body["response_format"]["json_schema"]["strict"] is True


def test_stream_cut_by_max_tokens_raises_length_error_at_the_end(client, emu) -> None:
    with client.chat.completions.stream(model=MODEL, messages=USER, response_format=City,
                                        max_tokens=2) as s:
        text = "".join(s)
        with pytest.raises(LengthFinishReasonError) as info:
            s.get_final_completion()
    assert info.value.raw_text == text
    assert emu.count() == 1


def test_parse_with_msgspec_never_imports_pydantic() -> None:
    """Pydantic stays optional: neither ``import nanogpt`` nor ``parse`` with another kind of
    type loads it (the emulator's answer is not needed: nothing is sent)."""
    code = (
        "import sys, msgspec, nanogpt\n"
        "from nanogpt._core.structured import output_format\n"
        "class C(msgspec.Struct):\n    a: int\n"
        "f = output_format(C)\n"
        "assert f.parse_text('{\"a\": 1}') == C(1)\n"
        "assert output_format({'type': 'object'}).strict is False\n"
        "print('pydantic' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "False"


def _readme_examples() -> list[str]:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Structured outputs and tools\n", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


@pytest.mark.parametrize("example", _readme_examples(), ids=["parse", "tool-loop"])
def test_the_readme_examples_run(example, emu, monkeypatch, capsys) -> None:
    monkeypatch.setenv("NANOGPT_API_KEY", KEY)
    monkeypatch.setenv("NANOGPT_BASE_URL", emu.base_url)
    exec(compile(example, "README.md", "exec"), {"__name__": "readme_example"})
    out = capsys.readouterr().out
    assert out.strip() and "Traceback" not in out
    assert emu.count() == 2  # parse + stream; or the tool call + the answer to its result
