"""The pure parts of structured outputs (``nanogpt._core.structured``): strict mode's rules
applied where a schema allows them, names, decoding; and a streamed refusal kept whole."""

from __future__ import annotations

import pickle

import msgspec
import pydantic
import pytest

from nanogpt import InvalidParameterError, LengthFinishReasonError, OutputValidationError
from nanogpt._core.stream import Accumulator
from nanogpt._core.structured import output_format, strict_schema
from nanogpt.types import ChatCompletionChunk


class Inner(pydantic.BaseModel):
    note: str | None = None


class Outer(pydantic.BaseModel):
    inner: Inner
    items: list[Inner] = []


def test_every_nested_object_gets_all_properties_required_and_no_others() -> None:
    fmt = output_format(Outer)
    assert fmt.strict
    defs = fmt.schema["$defs"]["Inner"]
    assert defs["required"] == ["note"] and defs["additionalProperties"] is False
    assert fmt.schema["required"] == ["inner", "items"]
    assert fmt.parse_text('{"inner": {"note": null}, "items": []}') == Outer(inner=Inner())


def test_a_model_that_allows_extra_keys_is_not_made_strict() -> None:
    class Open(pydantic.BaseModel, extra="allow"):
        a: int

    fmt = output_format(Open)
    assert not fmt.strict and fmt.schema == Open.model_json_schema()


def test_strict_schema_leaves_what_it_cannot_make_strict_unchanged() -> None:
    free = {"type": "object"}
    assert strict_schema(free) == (free, False)
    array_root = {"type": "array", "items": {"type": "object", "properties": {}}}
    assert strict_schema(array_root) == (array_root, False)
    named = {"type": "object", "properties": {"properties": {"type": "string"}}}
    schema, ok = strict_schema(named)  # a property called "properties" is still a property
    assert ok and schema["required"] == ["properties"]
    assert "required" not in named  # the input is not changed


def test_a_dict_schema_is_never_rewritten() -> None:
    loose = {"type": "object", "properties": {"a": {"type": "string"}}}
    fmt = output_format(loose)
    assert fmt.schema == loose and fmt.strict is False
    whole = {"type": "json_schema", "json_schema": {"name": "x y", "schema": loose,
                                                    "strict": True}}
    fmt = output_format(whole)
    assert fmt.name == "x_y" and fmt.strict is True and fmt.schema == loose


class Node(msgspec.Struct):
    value: int
    children: list[Node]


def test_recursive_types_keep_their_definition() -> None:
    fmt = output_format(Node)
    assert fmt.strict and "Node" in fmt.schema["$defs"]
    assert fmt.parse_text('{"value": 1, "children": [{"value": 2, "children": []}]}') == \
        Node(1, [Node(2, [])])


def test_a_type_that_cannot_be_described_is_an_invalid_parameter() -> None:
    class Dangling(msgspec.Struct):
        other: Missing  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(InvalidParameterError) as info:
        output_format(Dangling)
    assert info.value.param == "response_format"


def test_errors_pickle_with_their_raw_text() -> None:
    e = OutputValidationError("bad", raw_text="{oops")
    back = pickle.loads(pickle.dumps(e))
    assert back.raw_text == "{oops" and str(back) == "bad"
    assert isinstance(pickle.loads(pickle.dumps(
        LengthFinishReasonError("cut", raw_text="{"))), LengthFinishReasonError)


def test_a_streamed_refusal_is_assembled_into_the_message() -> None:
    acc = Accumulator()
    for piece in ("I can't ", "help with that."):
        acc.add(msgspec.convert({"choices": [{"index": 0, "delta": {"refusal": piece}}]},
                                ChatCompletionChunk))
    message = acc.completion().choices[0].message
    assert message.refusal == "I can't help with that." and message.content is None
