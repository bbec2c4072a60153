"""A deterministic, minimal-but-meaningful instance of a JSON schema.

Tool-call arguments and structured output (``response_format``) must validate against the
schema the request carries, or the client's parsing (``.parse``, ``with_structured_output``,
``llm --schema``) fails. This covers the subset those clients and Pydantic emit: ``type``
(also lists of types), ``properties``/``required``, ``items``/``prefixItems``,
``minItems``/``maxItems``, ``enum``, ``const``, ``default``, ``anyOf``/``oneOf``/``allOf``,
local ``$ref`` (``#/$defs/...``, ``#/definitions/...``), ``minimum``/``maximum`` (also
exclusive) and ``multipleOf``, ``minLength``/``maxLength``, and simple string ``format`` values.
Patterns are not generated. Same schema and text in, same instance out.

Written for the emulator rather than taken from a library so that the main package keeps its
dependencies; the tests validate its output with ``jsonschema``.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["MAX_SIZE", "SchemaTooLarge", "instance"]

MAX_DEPTH = 8  # nesting (and $ref recursion) beyond this gets the smallest value allowed
MAX_SIZE = 100_000  # values plus string characters an instance may have (any client can ask)


class SchemaTooLarge(ValueError):
    """The smallest instance of the schema is too large to build (``minItems: 10**9``...)."""

_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z", "date": "2026-01-01", "time": "00:00:00Z",
    "email": "user@example.com", "idn-email": "user@example.com", "uri": "https://example.com/",
    "url": "https://example.com/", "uri-reference": "https://example.com/",
    "iri": "https://example.com/", "hostname": "example.com", "idn-hostname": "example.com",
    "ipv4": "192.0.2.1", "ipv6": "2001:db8::1", "uuid": "00000000-0000-4000-8000-000000000000",
    "duration": "P1D",
}


def instance(schema: Any, text: str = "example") -> Any:
    """An instance of ``schema``; free-form strings take ``text`` (the prompt, say)."""
    return _Gen(schema if isinstance(schema, dict) else {}, text).make(schema, 0, "")


class _Gen:
    def __init__(self, root: dict[str, Any], text: str) -> None:
        self.root = root
        self.text = text
        self.budget = MAX_SIZE

    def spend(self, units: int) -> None:
        self.budget -= units
        if self.budget < 0:
            raise SchemaTooLarge(f"the schema asks for an instance larger than {MAX_SIZE} "
                                 "values and characters")

    def resolve(self, ref: str) -> Any:
        if not ref.startswith("#"):
            return {}
        node: Any = self.root
        for part in ref[1:].split("/"):
            if not part:
                continue
            part = part.replace("~1", "/").replace("~0", "~")
            node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                return {}
        return node

    def make(self, schema: Any, depth: int, name: str) -> Any:
        self.spend(1)
        if schema is True or not isinstance(schema, dict):
            return self.text if depth == 0 else None
        if "$ref" in schema:
            target = self.resolve(str(schema["$ref"]))
            merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
            return self.make(merged, depth + 1, name)
        for key in ("const", "default"):
            if key in schema:
                return schema[key]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        if isinstance(schema.get("examples"), list) and schema["examples"]:
            return schema["examples"][0]
        if isinstance(schema.get("allOf"), list):
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                if isinstance(part, dict):
                    part = self.resolve(part["$ref"]) if "$ref" in part else part
                    merged = _merge(merged, part)
            return self.make(merged, depth + 1, name)
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if isinstance(options, list) and options:
                rest = {k: v for k, v in schema.items() if k != key}
                return self.make(_merge(rest, _first_non_null(options)), depth + 1, name)
        return self.by_type(schema, _type_of(schema), depth, name)

    def by_type(self, schema: dict[str, Any], kind: str, depth: int, name: str) -> Any:
        if kind == "object":
            return self.obj(schema, depth)
        if kind == "array":
            return self.array(schema, depth, name)
        if kind == "string":
            return self.string(schema, name)
        if kind in ("integer", "number"):
            return _number(schema, kind == "integer")
        if kind == "boolean":
            return True
        return None

    def obj(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        found = schema.get("properties")
        props: dict[str, Any] = found if isinstance(found, dict) else {}
        listed = schema.get("required")
        required = [r for r in listed if isinstance(r, str)] if isinstance(listed, list) else []
        # all properties when none is required, so that the answer says something
        names = required if depth >= MAX_DEPTH else required or list(props)
        return {n: self.make(props.get(n, {}), depth + 1, n) for n in names}

    def array(self, schema: dict[str, Any], depth: int, name: str) -> list[Any]:
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list):
            return [self.make(s, depth + 1, name) for s in prefix]
        lo = _int(schema.get("minItems"))
        hi = schema.get("maxItems")
        count = lo if depth >= MAX_DEPTH else max(lo, 1)
        if isinstance(hi, int):
            count = min(count, hi)
        self.spend(count)
        items = schema.get("items", {})
        made = [self.make(items, depth + 1, name) for _ in range(count)]
        if schema.get("uniqueItems") and count > 1 and all(isinstance(x, str) for x in made):
            made = [f"{x} {i + 1}" for i, x in enumerate(made)]
        return made

    def string(self, schema: dict[str, Any], name: str) -> str:
        fmt = schema.get("format")
        value = _FORMATS.get(fmt, "") if isinstance(fmt, str) else ""
        if not value:
            value = self.text.strip() or name or "example"
        lo = _int(schema.get("minLength"))
        hi = schema.get("maxLength")
        self.spend(max(lo, len(value)))
        if len(value) < lo:
            value = value + "x" * (lo - len(value))
        if isinstance(hi, int) and len(value) > hi:
            value = value[:hi]
        return value


def _type_of(schema: dict[str, Any]) -> str:
    t = schema.get("type")
    if isinstance(t, list):
        non_null = [x for x in t if x != "null"]
        t = non_null[0] if non_null else "null"
    if isinstance(t, str):
        return t
    if "properties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    return "string"


def _first_non_null(options: list[Any]) -> dict[str, Any]:
    for o in options:
        if isinstance(o, dict) and o.get("type") != "null":
            return o
    return options[0] if isinstance(options[0], dict) else {}


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = {**a, **b}
    if isinstance(a.get("properties"), dict) and isinstance(b.get("properties"), dict):
        out["properties"] = {**a["properties"], **b["properties"]}
    if isinstance(a.get("required"), list) and isinstance(b.get("required"), list):
        out["required"] = list(dict.fromkeys(a["required"] + b["required"]))
    return out


def _number(schema: dict[str, Any], integer: bool) -> int | float:
    """1 (a meaningful count or amount) moved into the bounds, on a ``multipleOf`` step."""
    lo, hi = _num(schema.get("minimum")), _num(schema.get("maximum"))
    xlo, xhi = _num(schema.get("exclusiveMinimum")), _num(schema.get("exclusiveMaximum"))
    step = _num(schema.get("multipleOf"))
    if integer:
        step = max(1.0, math.ceil(step)) if step else 1.0
    lows = [v for v in (lo, xlo) if v is not None]
    highs = [v for v in (hi, xhi) if v is not None]
    low, high = (max(lows) if lows else None), (min(highs) if highs else None)
    value = 1.0 if low is None else low
    if xlo is not None and value <= xlo:
        value = xlo + (step or 1.0)
    if step:
        value = math.ceil(value / step) * step
    if high is not None and (value > high or (xhi is not None and value >= xhi)):
        if step:
            value = math.floor(high / step) * step
            if xhi is not None and value >= xhi:
                value -= step
        else:
            value = (low + high) / 2 if low is not None else high - 1
    return int(value) if integer or float(value).is_integer() else value


def _int(v: Any) -> int:
    """A count from the schema (minItems, minLength); 0 when absent or not a number."""
    n = _num(v)
    return int(n) if n is not None and math.isfinite(n) and n > 0 else 0


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)
