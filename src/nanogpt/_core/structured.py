"""Structured outputs: a JSON schema from a Python type, and the answer decoded back into it.

``chat.completions.parse(response_format=T)`` sends ``{"type": "json_schema", ...}`` made here
and decodes each choice's content into ``T``. ``T`` may be a Pydantic model, a msgspec
``Struct``, a dataclass, a ``TypedDict`` (anything msgspec can describe and decode), or a JSON
schema given as a dict (decoded to plain JSON values: checking a hand-written schema is the
server's work).

**Strict where the schema allows.** OpenAI's strict mode, which NanoGPT passes on, wants every
object to list all its properties in ``required`` and to set ``additionalProperties: false``.
For a schema made from a type, this module makes it so (a field with a default becomes required:
the model must always fill it, and the value still decodes into the type, as the ``openai``
SDK does), and sends ``strict: true``. Where that is impossible (a free-form ``dict[str, X]``,
an object without properties, extra properties allowed on purpose, a root that is not an
object) the schema goes as it is with ``strict: false``. A dict schema is never rewritten: it
is strict when it already follows the rules.

Pydantic stays optional: it is never imported here; a class is a Pydantic model when the
``pydantic`` module is already loaded (it must be, for such a class to exist) and the class
derives from its ``BaseModel``. No I/O here.
"""

from __future__ import annotations

import copy
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import msgspec

from .errors import InvalidParameterError, NanoGPTError
from .types import ChatCompletion, ChatCompletionChunk, Choice, Message

__all__ = [
    "LengthFinishReasonError",
    "OutputFormat",
    "OutputValidationError",
    "ParsedChatCompletion",
    "ParsedChoice",
    "ParsedMessage",
    "StructuredOutputError",
    "content_delta",
    "output_format",
    "strict_schema",
]

T = TypeVar("T")

_NAME_OK = re.compile(r"[^a-zA-Z0-9_-]")
_EXCERPT = 200
_SCHEMA_MAPS = ("properties", "$defs", "definitions")  # keys whose values map names to schemas
_VALUES = ("enum", "const", "default", "examples", "required")  # keys holding data, no schema


class StructuredOutputError(NanoGPTError, ValueError):
    """The answer could not be turned into the requested type. The call was answered (and
    billed): ``completion`` is the whole answer (usage, cost), ``raw_text`` the text that did
    not decode. ``completion`` is None for a tool call's arguments."""

    def __init__(self, message: str, *, raw_text: str | None,
                 completion: ChatCompletion | None = None) -> None:
        super().__init__(message)
        self.raw_text = raw_text
        self.completion = completion


class LengthFinishReasonError(StructuredOutputError):
    """The answer was cut by ``max_tokens`` (``finish_reason: "length"``): its JSON is
    incomplete. ``raw_text`` holds what arrived."""


class OutputValidationError(StructuredOutputError):
    """The answer (or a tool call's arguments) is not JSON, or does not validate against the
    type; the library's own error is the ``__cause__``."""


class ParsedMessage(Message, Generic[T]):
    """A ``Message`` with ``parsed``: the content decoded into the requested type (None for
    a refusal, in ``refusal``, or a message without content, such as tool calls)."""

    parsed: T | None = None


class ParsedChoice(Choice, Generic[T]):
    message: ParsedMessage[T] = msgspec.field(default_factory=ParsedMessage)


class ParsedChatCompletion(ChatCompletion, Generic[T]):
    """A ``ChatCompletion`` whose messages carry ``parsed``."""

    choices: list[ParsedChoice[T]] = msgspec.field(  # type: ignore[assignment]
        default_factory=list)

    @property
    def parsed(self) -> T | None:
        """The first choice's ``message.parsed``."""
        return self.choices[0].message.parsed if self.choices else None


class OutputFormat(Generic[T]):
    """What ``parse`` sends for a type and how it reads the answer back."""

    __slots__ = ("decode", "name", "schema", "strict", "type")

    def __init__(self, type_: Any, name: str, schema: dict[str, Any], strict: bool,
                 decode: Callable[[str], T]) -> None:
        self.type = type_
        self.name = name
        self.schema = schema
        self.strict = strict
        self.decode = decode

    @property
    def response_format(self) -> dict[str, Any]:
        """The ``response_format`` request field."""
        return {"type": "json_schema",
                "json_schema": {"name": self.name, "schema": self.schema,
                                "strict": self.strict}}

    def parse_text(self, text: str, completion: ChatCompletion | None = None) -> T:
        """``text`` decoded into the type; ``OutputValidationError`` when it does not fit."""
        try:
            return self.decode(text)
        except Exception as e:  # each library's validation error, or a constructor's own
            raise OutputValidationError(
                f"the answer does not validate as {self.name}: {_short(str(e))}",
                raw_text=text, completion=completion) from e

    def parse_completion(self, completion: ChatCompletion) -> ParsedChatCompletion[T]:
        """``completion`` with every choice's content decoded. Raises
        ``LengthFinishReasonError`` when a choice was cut by ``max_tokens``, and
        ``OutputValidationError`` when content does not decode; a refusal leaves
        ``parsed`` None."""
        choices: list[ParsedChoice[T]] = []
        for choice in completion.choices:
            msg = choice.message
            if choice.finish_reason == "length":
                raise LengthFinishReasonError(
                    f"the answer was cut by the token limit (finish_reason 'length') before "
                    f"its JSON was complete; raise max_tokens (choice {choice.index})",
                    raw_text=msg.content, completion=completion)
            parsed = None
            if msg.content is not None and msg.refusal is None:
                parsed = self.parse_text(msg.content, completion)
            choices.append(ParsedChoice(
                index=choice.index, finish_reason=choice.finish_reason,
                logprobs=choice.logprobs,
                message=ParsedMessage(**_fields_of(msg), parsed=parsed)))
        fields = _fields_of(completion)
        fields["choices"] = choices
        out: ParsedChatCompletion[T] = ParsedChatCompletion(**fields)
        out.__dict__.update(completion.__dict__)  # the raw JSON it was decoded from
        return out


def content_delta(chunk: ChatCompletionChunk) -> str:
    """The text a streamed chunk adds to the first choice (``""`` when none)."""
    for c in chunk.choices:
        if c.index == 0 and c.delta.content:
            return c.delta.content
    return ""


def _fields_of(obj: msgspec.Struct) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__struct_fields__}


def _short(text: str) -> str:
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "..."


def output_format(response_format: Any) -> OutputFormat[Any]:
    """The ``OutputFormat`` for a type or a JSON schema dict. ``InvalidParameterError``
    (nothing sent) for anything else."""
    if isinstance(response_format, Mapping):
        return _from_dict_schema(dict(response_format))
    if not isinstance(response_format, type):
        raise InvalidParameterError(
            "response_format", "must be a class (Pydantic model, msgspec Struct, dataclass, "
            f"TypedDict) or a JSON schema dict, not {type(response_format).__name__}")
    if _is_pydantic_model(response_format):
        return _from_pydantic(response_format)
    return _from_msgspec_type(response_format)


def _is_pydantic_model(cls: type) -> bool:
    pydantic = sys.modules.get("pydantic")
    base = getattr(pydantic, "BaseModel", None) if pydantic is not None else None
    return base is not None and isinstance(cls, type) and issubclass(cls, base)


def _name_for(raw: Any) -> str:
    name = _NAME_OK.sub("_", str(raw or "response"))[:64]
    return name or "response"


def _from_pydantic(cls: Any) -> OutputFormat[Any]:
    schema, strict = strict_schema(cls.model_json_schema())
    return OutputFormat(cls, _name_for(cls.__name__), schema, strict, cls.model_validate_json)


def _from_msgspec_type(cls: type) -> OutputFormat[Any]:
    try:
        raw_schema = msgspec.json.schema(cls)
        decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(cls)
    except (TypeError, ValueError, NameError) as e:  # a type msgspec cannot describe
        raise InvalidParameterError("response_format",
                                    f"{cls.__name__} cannot be described as a JSON schema: "
                                    f"{e}") from None
    schema, strict = strict_schema(_inline_root(raw_schema))
    return OutputFormat(cls, _name_for(cls.__name__), schema, strict, decoder.decode)


def _from_dict_schema(given: dict[str, Any]) -> OutputFormat[Any]:
    if given.get("type") == "json_schema":  # a whole response_format: sent as given
        spec = given.get("json_schema")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("schema"), Mapping):
            raise InvalidParameterError("response_format",
                                        "a json_schema response format needs json_schema."
                                        "schema (a dict)")
        name = _name_for(spec.get("name"))
        schema = dict(spec["schema"])
        strict = bool(spec.get("strict", _already_strict(schema)))
    else:
        name = _name_for(given.get("title"))
        schema = given
        strict = _already_strict(schema)
    return OutputFormat(dict, name, schema, strict, _decode_json)


def _decode_json(text: str) -> Any:
    return msgspec.json.decode(text)


def _inline_root(schema: dict[str, Any]) -> dict[str, Any]:
    """msgspec describes a class as ``{"$ref": "#/$defs/X", "$defs": ...}``; strict mode wants
    the root to be the object itself (``$defs`` stay, for nested references)."""
    ref = schema.get("$ref")
    defs = schema.get("$defs")
    if not isinstance(ref, str) or not isinstance(defs, dict) or not ref.startswith("#/$defs/"):
        return schema
    name = ref[len("#/$defs/"):]
    root = dict(defs.get(name, {}))
    rest = {k: v for k, v in defs.items() if k != name}
    if _refers_to(root, ref) or _refers_to(rest, ref):  # recursive: keep it reachable
        rest[name] = defs[name]
    if rest:
        root["$defs"] = rest
    return root


def _refers_to(node: Any, ref: str) -> bool:
    if isinstance(node, dict):
        return node.get("$ref") == ref or any(_refers_to(v, ref) for v in node.values())
    if isinstance(node, list):
        return any(_refers_to(v, ref) for v in node)
    return False


def strict_schema(schema: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """``schema`` made to follow strict mode's rules, and whether it could be: every object
    lists all its properties as required and forbids others. When it cannot, the schema comes
    back unchanged with False."""
    out = copy.deepcopy(dict(schema))
    if out.get("type") != "object" or not _make_strict(out):
        return dict(schema), False
    return out, True


def _make_strict(node: Any) -> bool:
    """Rewrite ``node`` (in place) to strict form; False when some part cannot be."""
    if isinstance(node, list):
        return all(_make_strict(v) for v in node)
    if not isinstance(node, dict):
        return True
    if _is_object(node):
        props = node.get("properties")
        if not isinstance(props, dict):
            return False  # a free-form object: its keys cannot be listed
        if node.get("additionalProperties", False) is not False:
            return False  # extra keys allowed on purpose (dict[str, X], extra="allow")
        node["additionalProperties"] = False
        node["required"] = list(props)
    for key, value in node.items():
        if key in _SCHEMA_MAPS and isinstance(value, dict):  # name -> schema
            if not all(_make_strict(v) for v in value.values()):
                return False
        elif key not in _VALUES and not _make_strict(value):
            return False
    return True


def _is_object(node: dict[str, Any]) -> bool:
    t = node.get("type")
    return t == "object" or (isinstance(t, list) and "object" in t) or (
        t is None and "properties" in node)


def _already_strict(schema: dict[str, Any]) -> bool:
    """True when a hand-written schema already follows strict mode's rules."""
    rewritten, ok = strict_schema(schema)
    return ok and rewritten == schema
