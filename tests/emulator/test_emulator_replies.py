"""What the emulator answers: tool calls and structured output that follow the request's
schemas, ``n`` choices, hidden reasoning, documented error codes, JSON errors with a request id
on every path, the legacy model list and catalog entries shaped like the real ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from nanogpt.emulator import INVALID_API_KEY, Emulator
from nanogpt.emulator._schema import SchemaTooLarge, instance

MODEL = "openai/gpt-5-mini"
USER = [{"role": "user", "content": "hi there"}]
AUTH = {"Authorization": "Bearer sk-nano-test"}


@pytest.fixture(scope="module")
def plain() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


def chat(emu: Emulator, headers: dict[str, str] | None = None, **body: Any) -> Any:
    r = urllib3.request("POST", emu.base_url + "/chat/completions",
                        headers=AUTH if headers is None else headers,
                        json={"model": MODEL, "messages": USER, **body})
    return r


def ok(emu: Emulator, **body: Any) -> dict[str, Any]:
    r = chat(emu, **body)
    assert r.status == 200, r.data
    return dict(r.json())


# JSON schema instances --------------------------------------------------------------------

SCHEMAS: list[dict[str, Any]] = [
    {"type": "object", "properties": {"a": {"type": "string", "minLength": 40},
                                      "b": {"type": "string", "maxLength": 2}},
     "required": ["a", "b"]},
    {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3, "maximum": 9,
                                            "multipleOf": 4},
                                      "x": {"type": "number", "exclusiveMinimum": 0,
                                            "exclusiveMaximum": 1}},
     "required": ["n", "x"]},
    {"type": "array", "items": {"enum": ["red", "green"]}, "minItems": 3, "maxItems": 3},
    {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "boolean"}]},
    {"type": ["null", "object"], "properties": {"when": {"type": "string", "format": "date"}},
     "required": ["when"]},
    {"anyOf": [{"type": "null"}, {"type": "string", "format": "email"}]},
    {"allOf": [{"type": "object", "properties": {"a": {"const": 1}}, "required": ["a"]},
               {"properties": {"b": {"type": "boolean"}}, "required": ["b"]}]},
    {"$defs": {"Node": {"type": "object", "properties": {
        "name": {"type": "string"},
        "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
        "required": ["name", "children"]}}, "$ref": "#/$defs/Node"},
    {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"},
                                      "tags": {"type": "array", "uniqueItems": True,
                                               "minItems": 2, "items": {"type": "string"}}},
     "required": ["id", "tags"], "additionalProperties": False},
    {"type": "object", "properties": {"opt": {"type": "integer"}}},  # nothing required
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_schema_instances_validate(schema: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="the compat extra is not installed")
    value = instance(schema, "some text")
    jsonschema.validate(value, schema)
    assert instance(schema, "some text") == value  # deterministic
    assert value is not None


def test_a_pydantic_schema_with_refs_and_optionals_validates() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="the compat extra is not installed")
    pydantic = pytest.importorskip("pydantic", reason="the compat extra is not installed")

    class Address(pydantic.BaseModel):  # type: ignore[misc, name-defined]
        street: str
        zip: str | None = None

    class Person(pydantic.BaseModel):  # type: ignore[misc, name-defined]
        name: str
        age: int = pydantic.Field(ge=18)
        home: Address
        previous: list[Address]
        nickname: str | None

    schema = Person.model_json_schema()
    value = instance(schema, "Ada")
    jsonschema.validate(value, schema)
    assert Person.model_validate(value).age == 18


# schemas from real applications (review of issue 10) ---------------------------------------

LINKED = {"$defs": {"Item": {"type": "object", "properties": {
    "value": {"type": "integer"},
    "next": {"anyOf": [{"$ref": "#/$defs/Item"}, {"type": "null"}]}},
    "required": ["value", "next"], "additionalProperties": False}}, "$ref": "#/$defs/Item"}

REAL_WORLD: list[Any] = [
    # Optional self-reference, every field required (Pydantic; OpenAI strict mode)
    LINKED,
    {"type": "object", "properties": {"parent": {"type": ["object", "null"], "properties": {
        "parent": {"$ref": "#/properties/parent"}}, "required": ["parent"]}},
     "required": ["parent"]},
    # Field(pattern=...): a zip code, a ticket key, alternatives, a class with a range
    {"type": "object", "properties": {"zip": {"type": "string", "pattern": r"^\d{5}$"},
                                      "key": {"type": "string", "pattern": r"^[A-Z]{3}-\d+$"},
                                      "pick": {"type": "string", "pattern": "^(yes|no)$"},
                                      "hex": {"type": "string", "pattern": "^#[0-9a-f]{6}$"}},
     "required": ["zip", "key", "pick", "hex"]},
    # Field(pattern=..., min_length=...): the open-ended repeat grows to the length
    {"type": "string", "pattern": r"^\d+$", "minLength": 4, "maxLength": 6},
    {"type": "string", "pattern": "^(ab|cd)+-x*$", "minLength": 9},
    # set[int], set of enum members, set of models: uniqueItems with several items
    {"type": "array", "items": {"type": "integer"}, "minItems": 3, "uniqueItems": True},
    {"type": "array", "items": {"enum": ["a", "b", "c"]}, "minItems": 2, "uniqueItems": True},
    {"type": "array", "items": {"type": "boolean"}, "minItems": 2, "uniqueItems": True},
    {"type": "array", "minItems": 2, "uniqueItems": True, "items": {
        "type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}},
    # Field(multiple_of=0.1) on a float, a price in cents
    {"type": "number", "multipleOf": 0.1, "minimum": 0.25},
    {"type": "number", "multipleOf": 0.01, "minimum": 0.07},
    # a tuple with more items than its prefix, a dict with a minimum size
    {"type": "array", "prefixItems": [{"type": "integer"}], "minItems": 3,
     "items": {"type": "string"}},
    {"type": "object", "minProperties": 2, "additionalProperties": {"type": "integer"}},
    # a default or example of the wrong type is not taken as the answer
    {"type": "integer", "default": "x"},
    {"type": "integer", "examples": ["x"]},
    # a $ref by the schema's own $id
    {"$id": "https://example.com/s", "$defs": {"A": {"type": "integer"}},
     "$ref": "https://example.com/s#/$defs/A"},
]


@pytest.mark.parametrize("schema", REAL_WORLD)
def test_real_world_schemas_get_valid_instances(schema: Any) -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="the compat extra is not installed")
    value = instance(schema, "some text")
    jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())
    assert instance(schema, "some text") == value


@pytest.mark.parametrize("pattern", [
    r"^\d{5}(-\d{4})?$", r"^[A-Z][a-z]+ [A-Z][a-z]+$", r"^(?:\+1)?\d{10}$", r"v\d+\.\d+",
    r"^[\w.-]+@[\w-]+\.[a-z]{2,}$", "^(red|green|blue)$", r"^\S+$", "^(a+)+$", "x{3,}y*z?",
    "[^a-z]+", r"^[^\s@]+@[^\s@]+$", r"[^\d\W]",
])
def test_patterns_get_a_matching_string(pattern: str) -> None:
    import re

    value = instance({"type": "string", "pattern": pattern}, "some text")
    assert re.search(pattern, value), value


@pytest.mark.parametrize("pattern", [
    r"^(?=.*\d)\w+$", r"(a)\1", r"\bword\b", "(", "a{100000}", "x" * 5000,
])
def test_patterns_beyond_the_generator_fall_back_to_text(pattern: str) -> None:
    assert isinstance(instance({"type": "string", "pattern": pattern}, "some text"), str)


@pytest.mark.parametrize("schema", [
    {"$defs": {"A": {"type": "object", "properties": {"b": {"$ref": "#/$defs/A"}},
                     "required": ["b"]}}, "$ref": "#/$defs/A"},  # no finite instance
    {"type": "object", "properties": {"self": {"$ref": "#"}}, "required": ["self"]},
    {"$defs": {"A": {"type": "array", "items": {"$ref": "#/$defs/A"}, "minItems": 1}},
     "$ref": "#/$defs/A"},
])
def test_a_schema_without_a_finite_instance_is_refused_as_too_large(schema: Any) -> None:
    with pytest.raises(SchemaTooLarge):
        instance(schema)


def test_a_tool_without_parameters_is_called_with_no_arguments(plain: Emulator) -> None:
    """OpenAI: "omitting parameters defines a function with an empty parameter list", so an
    application may call ``now(**arguments)``."""
    r = chat(plain, tools=[tool("now")])
    assert r.json()["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == "{}"
    empty = {"type": "object", "properties": {}}
    r = chat(plain, tools=[tool("now", empty)])
    assert r.json()["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == "{}"


def test_an_optional_self_reference_is_answered_through_the_server(plain: Emulator) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "item", "schema": LINKED}}
    r = chat(plain, response_format=fmt)
    assert r.status == 200, r.data
    value = json.loads(r.json()["choices"][0]["message"]["content"])
    assert value["next"] is not None  # a few links, then null
    r = chat(plain, tools=[tool("walk", LINKED)], tool_choice="required")
    assert r.status == 200, r.data


# tool calls -------------------------------------------------------------------------------

def tool(name: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": name}
    if parameters is not None:
        fn["parameters"] = parameters
    return {"type": "function", "function": fn}


CITY = {"type": "object", "properties": {"city": {"type": "string"},
                                         "unit": {"enum": ["c", "f"]}},
        "required": ["city", "unit"]}


def test_tool_arguments_follow_the_schema_and_stream_in_fragments(plain: Emulator) -> None:
    r = ok(plain, tools=[tool("weather", CITY)],
           messages=[{"role": "user", "content": "Paris"}])
    [call] = r["choices"][0]["message"]["tool_calls"]
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris", "unit": "c"}
    raw = urllib3.request("POST", plain.base_url + "/chat/completions", headers=AUTH, json={
        "model": MODEL, "stream": True, "tools": [tool("weather", CITY)],
        "messages": [{"role": "user", "content": "Paris"}]}).data.decode()
    deltas = [json.loads(line[6:])["choices"][0]["delta"] for line in raw.split("\n")
              if line.startswith("data: {")]
    parts = [d["tool_calls"][0]["function"]["arguments"] for d in deltas if "tool_calls" in d]
    assert len(parts) > 2 and "".join(parts) == call["function"]["arguments"]


def test_tool_choice_decides_which_and_whether(plain: Emulator) -> None:
    tools = [tool("a", CITY), tool("b", CITY)]
    named = ok(plain, tools=tools, tool_choice={"type": "function", "function": {"name": "b"}})
    assert [c["function"]["name"] for c in named["choices"][0]["message"]["tool_calls"]] == ["b"]
    none = ok(plain, tools=tools, tool_choice="none")
    assert none["choices"][0]["finish_reason"] == "stop"
    nocaps = ok(plain, model="deepseek/deepseek-r1", tools=tools)  # no tool_calling
    assert "tool_calls" not in nocaps["choices"][0]["message"]


def test_parallel_calls_when_the_prompt_asks_and_the_model_and_request_allow(
        plain: Emulator) -> None:
    tools = [tool("alpha", CITY), tool("beta", CITY)]
    msgs = [{"role": "user", "content": "use beta and alpha"}]

    def names(**kw: Any) -> list[str]:
        r = ok(plain, tools=tools, messages=msgs, **kw)
        return [c["function"]["name"] for c in r["choices"][0]["message"]["tool_calls"]]

    assert names() == ["beta", "alpha"]
    assert names(parallel_tool_calls=False) == ["beta"]
    assert names(model="openai/gpt-5-nano") == ["beta"]  # no parallel_tool_calls capability


def test_after_the_tool_result_the_answer_is_text(plain: Emulator) -> None:
    first = ok(plain, tools=[tool("weather", CITY)])
    call = first["choices"][0]["message"]["tool_calls"][0]
    msgs = [*USER, first["choices"][0]["message"],
            {"role": "tool", "tool_call_id": call["id"], "content": "21 degrees"}]
    done = ok(plain, tools=[tool("weather", CITY)], messages=msgs)
    assert done["choices"][0]["finish_reason"] == "stop"
    assert done["choices"][0]["message"]["content"] == "The tool returned: 21 degrees"
    again = ok(plain, tools=[tool("weather", CITY)], messages=msgs, tool_choice="required")
    assert again["choices"][0]["finish_reason"] == "tool_calls"


# structured output ------------------------------------------------------------------------

def test_json_schema_output_validates_and_is_deterministic(plain: Emulator) -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="the compat extra is not installed")
    schema = SCHEMAS[0]
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "strict": True, "schema": schema}}
    a = ok(plain, response_format=fmt)["choices"][0]["message"]["content"]
    jsonschema.validate(json.loads(a), schema)
    assert ok(plain, response_format=fmt)["choices"][0]["message"]["content"] == a


def test_json_object_output(plain: Emulator) -> None:
    plain_obj = ok(plain, response_format={"type": "json_object"})
    assert json.loads(plain_obj["choices"][0]["message"]["content"]) == {"answer": "hi there"}
    asks = [{"role": "user", "content": 'Reply as JSON: {"type": "object", "properties": '
                                        '{"colors": {"type": "array", "items": '
                                        '{"type": "string"}}}, "required": ["colors"]}'}]
    shaped = ok(plain, messages=asks, response_format={"type": "json_object"})
    assert list(json.loads(shaped["choices"][0]["message"]["content"])) == ["colors"]


# n, reasoning -----------------------------------------------------------------------------

def test_n_choices_streamed_and_not(plain: Emulator) -> None:
    r = ok(plain, n=2)
    assert [c["index"] for c in r["choices"]] == [0, 1]
    raw = urllib3.request("POST", plain.base_url + "/chat/completions", headers=AUTH, json={
        "model": MODEL, "messages": USER, "stream": True, "n": 2}).data.decode()
    text: dict[int, str] = {0: "", 1: ""}
    for line in raw.split("\n"):
        if line.startswith("data: {"):
            for c in json.loads(line[6:])["choices"]:
                text[c["index"]] += c["delta"].get("content") or ""
    assert text == {c["index"]: c["message"]["content"] for c in r["choices"]}
    assert chat(plain, n=99).status == 400


def test_reasoning_exclude_and_the_suffix_and_the_compat_field(plain: Emulator) -> None:
    def message(**kw: Any) -> dict[str, Any]:
        kw.setdefault("model", "deepseek/deepseek-r1")
        return dict(ok(plain, **kw)["choices"][0]["message"])

    assert message()["reasoning"]
    assert "reasoning" not in message(reasoning={"exclude": True})
    assert "reasoning" not in message(model="deepseek/deepseek-r1:reasoning-exclude")
    compat = message(reasoning={"delta_field": "reasoning_content"})
    assert compat["reasoning_content"] and "reasoning" not in compat
    raw = urllib3.request("POST", plain.base_url + "/chat/completions", headers=AUTH, json={
        "model": "deepseek/deepseek-r1:reasoning-exclude", "messages": USER,
        "stream": True}).data
    assert b'"reasoning' not in raw


# errors and routes ------------------------------------------------------------------------

@pytest.mark.parametrize(("headers", "body", "status", "code"), [
    ({}, {}, 401, "missing_api_key"),
    ({"Authorization": f"Bearer {INVALID_API_KEY}"}, {}, 401, "invalid_api_key"),
    (AUTH, {"model": "no/such"}, 404, "model_not_found"),
    (AUTH, {"model": ""}, 400, "missing_required_parameter"),
    (AUTH, {"temperature": 9}, 400, "invalid_parameter_value"),
    (AUTH, {"response_format": {"type": "json_schema", "json_schema": {"schema": 1}}}, 400,
     "invalid_json_schema"),
])
def test_documented_error_codes(plain: Emulator, headers: dict[str, str], body: dict[str, Any],
                                status: int, code: str) -> None:
    r = chat(plain, headers, **body)
    assert r.status == status and r.json()["error"]["code"] == code
    assert r.headers["X-Request-ID"].startswith("emu-")


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/api/v1/nothing", 404), ("POST", "/nowhere", 404),
    ("GET", "/api/v1/chat/completions", 405), ("DELETE", "/api/v1/models", 405),
    ("GET", "/api/v1/models/openai/gpt-5-mini", 404),
])
def test_unknown_paths_and_methods_get_json_and_a_request_id(plain: Emulator, method: str,
                                                             path: str, status: int) -> None:
    r = urllib3.request(method, plain.url + path, headers=AUTH)
    assert r.status == status
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["X-Request-ID"].startswith("emu-")
    assert r.json()["error"]["message"]


def test_the_legacy_model_list(plain: Emulator) -> None:
    r = urllib3.request("GET", plain.url + "/api/models")
    assert r.status == 200 and MODEL in r.json()["models"]


def test_catalog_entries_are_shaped_like_the_detailed_catalog(plain: Emulator) -> None:
    data = urllib3.request("GET", plain.base_url + "/models?detailed=true").json()["data"]
    for m in data:
        assert isinstance(m["cost_estimate"], str) and set(m["cost_estimate"]) == {"$"}
        assert isinstance(m.get("category", ""), str) and m["icon_url"].startswith("/icons/")
        assert set(m["pricing"]) == {"prompt", "completion", "currency", "unit"}
    assert len({m["created"] for m in data}) == len(data)
    assert {"flagship", "mini", "reasoning"} <= {m.get("category") for m in data}


def test_each_answered_chat_is_charged_once_in_the_ledger(emu: Emulator) -> None:
    """The ledger holds one charge per answered chat (whole or streamed), with the amount
    and tokens the answer's own pricing reports; a refused request is not charged."""
    from nanogpt import NanoGPT, NotFoundError
    client = NanoGPT("sk-test", base_url=emu.base_url)
    r = client.chat.completions.create(model="openai/gpt-5-mini",
                                       messages=[{"role": "user", "content": "hi"}])
    with client.chat.completions.create(model="openai/gpt-5-mini", stream=True,
                                        messages=[{"role": "user", "content": "hi"}]) as s:
        for _ in s:
            pass
    with pytest.raises(NotFoundError):
        client.chat.completions.create(model="no/such-model",
                                       messages=[{"role": "user", "content": "hi"}])
    charges = emu.ledger.entries()
    assert [(c.model, c.kind) for c in charges] == [("openai/gpt-5-mini", "chat")] * 2
    assert charges[0].amount == float(r.cost)
    assert charges[0].input_tokens == r.usage.prompt_tokens


def test_json_object_has_the_keys_the_prompt_quotes(plain: Emulator) -> None:
    """JSON mode without a schema in the prompt: a message that asks for keys by name gets
    an object with those keys (as langchain-tests' test_json_mode asks for them)."""
    asks = [{"role": "user", "content": "A joke as JSON with 'setup' and \"punchline\" keys."}]
    r = ok(plain, messages=asks, response_format={"type": "json_object"})
    assert list(json.loads(r["choices"][0]["message"]["content"])) == ["setup", "punchline"]
    quoted = [{"role": "user", "content": "Say 'hello' in JSON."}]  # quotes, but no keys
    r = ok(plain, messages=quoted, response_format={"type": "json_object"})
    assert list(json.loads(r["choices"][0]["message"]["content"])) == ["answer"]


def test_numbers_are_read_from_the_prompt_when_the_schema_allows_them() -> None:
    """An argument a model would read from the prompt ("magic_function(3)") is that number;
    one the schema does not allow (out of bounds, not an integer) is skipped."""
    schema = {"type": "object", "required": ["input"],
              "properties": {"input": {"type": "integer", "exclusiveMinimum": -1000,
                                       "exclusiveMaximum": 1000}}}
    assert instance(schema, "What is the value of magic_function(3)?") == {"input": 3}
    assert instance(schema, "between 1.5 and 5000 and -20") == {"input": -20}
    assert instance(schema, "no number here") == {"input": -999}
    ratio = {"type": "number", "minimum": 0, "maximum": 1, "multipleOf": 0.25}
    assert instance(ratio, "gpt-5, 0.3 or 0.75") == 0.75
