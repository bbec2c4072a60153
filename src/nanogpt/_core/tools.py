"""Tools from typed Python functions: the definition to send, and a call's arguments decoded.

``function_tool(fn)`` reads ``fn``'s signature (type hints) and docstring, and gives a
:class:`FunctionTool`: ``.definition`` goes in ``tools=[...]``, and ``.call(tool_call)`` decodes
the call's JSON arguments into the parameters' types (msgspec: builtins, ``Literal``, enums,
dataclasses, ``TypedDict``, msgspec ``Struct``, ``datetime``...) and calls ``fn``. The name
follows the ``openai`` SDKs (``pydantic_function_tool`` builds a definition from a model, the
Agents SDK's ``@function_tool`` decorates a function); it works as a decorator as well.

The description is the docstring's first paragraph; a parameter's description comes from a
Google-style ``Args:`` section or a reST ``:param name:`` line. The parameters schema is made
strict where it can be (see ``structured.strict_schema``). No I/O here.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import msgspec

from .errors import InvalidParameterError
from .structured import OutputValidationError, strict_schema
from .types import ToolCall

__all__ = ["FunctionTool", "function_tool"]

T = TypeVar("T")

_PARAM_LINE = re.compile(r"^\s*:param\s+(?:\S+\s+)?(\w+)\s*:\s*(.*)$")
_ARG_LINE = re.compile(r"^\s*(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_SECTIONS = ("args:", "arguments:", "parameters:", "returns:", "raises:", "yields:",
             "examples:", "example:", "note:", "notes:")
_ARG_SECTIONS = ("args:", "arguments:", "parameters:")


class FunctionTool(Generic[T]):
    """A Python function offered to the model as a tool.

    ``definition``: the ``{"type": "function", "function": {...}}`` object for ``tools=``;
    ``name``; ``call(tool_call)``: the function's result for a call the model made;
    ``arguments(tool_call)``: the decoded keyword arguments alone. Calling the object itself
    calls the function, so it can stand in for it after ``@function_tool``.
    """

    __slots__ = ("_args_type", "_decoder", "definition", "function", "name")

    def __init__(self, function: Callable[..., T], name: str,
                 definition: dict[str, Any], args_type: type[msgspec.Struct]) -> None:
        self.function = function
        self.name = name
        self.definition = definition
        self._args_type = args_type
        self._decoder = msgspec.json.Decoder(args_type)

    def arguments(self, tool_call: ToolCall | Mapping[str, Any]) -> dict[str, Any]:
        """The call's arguments decoded into the parameters' types, by name.
        ``InvalidParameterError`` when the call is for another tool;
        ``OutputValidationError`` (with ``raw_text``) when they do not decode."""
        name, raw = _name_and_arguments(tool_call)
        if name != self.name:
            raise InvalidParameterError("tool_call", f"is a call of {name!r}, not {self.name!r}")
        try:
            args = self._decoder.decode(raw or "{}")
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            raise OutputValidationError(f"the arguments of the {self.name!r} call do not "
                                        f"validate: {e}", raw_text=raw) from e
        return {f: getattr(args, f) for f in args.__struct_fields__}

    def call(self, tool_call: ToolCall | Mapping[str, Any]) -> T:
        """Run the function with the call's arguments (decoded, see ``arguments``)."""
        return self.function(**self.arguments(tool_call))

    def __call__(self, *args: Any, **kwargs: Any) -> T:
        return self.function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"FunctionTool({self.name!r})"


def _name_and_arguments(tool_call: ToolCall | Mapping[str, Any]) -> tuple[str | None, str | None]:
    if isinstance(tool_call, ToolCall):
        fn = tool_call.function
        return (fn.name, fn.arguments) if fn is not None else (None, None)
    if isinstance(tool_call, Mapping):
        fn = tool_call.get("function")
        if isinstance(fn, Mapping):
            return fn.get("name"), fn.get("arguments")
    raise InvalidParameterError("tool_call", "must be a ToolCall or a tool call dict")


def function_tool(function: Callable[..., T], *, name: str | None = None,
                  description: str | None = None) -> FunctionTool[T]:
    """A :class:`FunctionTool` for ``function``, from its type hints and docstring.
    ``InvalidParameterError`` when a parameter has no type hint, is positional-only or
    ``*args``/``**kwargs``, or its type cannot be described as JSON schema."""
    tool_name = str(name or getattr(function, "__name__", ""))
    if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", tool_name):
        raise InvalidParameterError("name", f"{tool_name!r} is not a valid tool name "
                                    "(1-64 letters, digits, _ or -)")
    doc = inspect.getdoc(function) or ""
    args_type = _arguments_struct(function, tool_name)
    try:
        schema = msgspec.json.schema(args_type)
    except (TypeError, ValueError) as e:
        raise InvalidParameterError("function", f"{tool_name}: a parameter type cannot be "
                                    f"described as JSON schema: {e}") from None
    params = _root_of(schema)
    for pname, text in _param_docs(doc).items():
        prop = params.get("properties", {}).get(pname)
        if isinstance(prop, dict) and text:
            prop.setdefault("description", text)
    params.pop("title", None)
    params, strict = strict_schema(params)
    fn_def: dict[str, Any] = {"name": tool_name}
    summary = description if description is not None else _summary(doc)
    if summary:
        fn_def["description"] = summary
    fn_def["parameters"] = params
    fn_def["strict"] = strict
    return FunctionTool(function, tool_name, {"type": "function", "function": fn_def},
                        args_type)


def _arguments_struct(function: Callable[..., Any], tool_name: str) -> type[msgspec.Struct]:
    try:
        sig = inspect.signature(function)
        hints = typing.get_type_hints(function)
    except (TypeError, ValueError, NameError) as e:
        raise InvalidParameterError("function", f"{tool_name}: cannot read its signature: "
                                    f"{e}") from None
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            raise InvalidParameterError("function", f"{tool_name}: parameter {p.name!r} must "
                                        "be passable by keyword (no *args, **kwargs or /)")
        if p.name not in hints:
            raise InvalidParameterError("function", f"{tool_name}: parameter {p.name!r} has "
                                        "no type hint")
        if p.default is p.empty:
            fields.append((p.name, hints[p.name]))
        else:
            fields.append((p.name, hints[p.name], p.default))
    return msgspec.defstruct(f"{tool_name}_arguments", fields, forbid_unknown_fields=True)


def _root_of(schema: dict[str, Any]) -> dict[str, Any]:
    """The arguments object itself, with the other definitions it refers to."""
    defs = dict(schema.get("$defs", {}))
    ref = schema.get("$ref", "")
    root = dict(defs.pop(ref.rsplit("/", 1)[-1], schema))
    if defs:
        root["$defs"] = defs
    return root


def _summary(doc: str) -> str:
    first = doc.split("\n\n", 1)[0].strip()
    if first.lower().startswith(_SECTIONS) or first.startswith(":"):
        return ""  # the docstring starts with its parameters
    return " ".join(first.split())


def _param_docs(doc: str) -> dict[str, str]:
    """Parameter descriptions from ``:param x: ...`` lines or a Google-style ``Args:``
    section (a name at the section's indent, continuation lines indented further)."""
    found: dict[str, str] = {}
    in_args = False
    name_indent: int | None = None
    last: str | None = None
    for line in doc.splitlines():
        low = line.strip().lower()
        if m := _PARAM_LINE.match(line):
            found[m.group(1)] = m.group(2).strip()
            continue
        if low in _SECTIONS:
            in_args, name_indent, last = low in _ARG_SECTIONS, None, None
            continue
        if not in_args or not low:
            continue
        indent = len(line) - len(line.lstrip())
        m = _ARG_LINE.match(line)
        if m and (name_indent is None or indent <= name_indent):
            name_indent = indent
            last = m.group(1).lstrip("*")
            found[last] = m.group(2).strip()
        elif last is not None:
            found[last] = f"{found[last]} {line.strip()}".strip()
    return found
