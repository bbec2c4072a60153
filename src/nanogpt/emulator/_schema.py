"""A deterministic, minimal-but-meaningful instance of a JSON schema.

Tool-call arguments and structured output (``response_format``) must validate against the
schema the request carries, or the client's parsing (``.parse``, ``with_structured_output``,
``llm --schema``) fails. This covers the subset those clients and Pydantic emit: ``type``
(also lists of types), ``properties``/``required``, ``items``/``prefixItems``,
``minItems``/``maxItems``, ``enum``, ``const``, ``default``, ``anyOf``/``oneOf``/``allOf``,
local ``$ref`` (``#/$defs/...``, ``#/definitions/...``), ``minimum``/``maximum`` (also
exclusive) and ``multipleOf``, ``minLength``/``maxLength``, ``minProperties``, ``uniqueItems``,
simple string ``format`` values and simple ``pattern`` values (see ``_regex``). Same schema and
text in, same instance out. A number takes the first number written in the text that the
schema allows ("magic_function(3)" gives 3), as a model reads it from the prompt; else 1,
moved into the bounds.

Any client may send any schema, so the work is bounded: beyond ``MAX_DEPTH`` levels the
generator takes the smallest value allowed (``null`` when an ``anyOf`` or type list allows it,
only the required properties, the fewest items), a schema that still nests deeper than
``HARD_DEPTH`` levels (a ``$ref`` cycle through required properties, say) is refused, and one
``Budget`` of values and characters can be shared by every instance of a reply.

Written for the emulator rather than taken from a library so that the main package keeps its
dependencies; the tests validate its output with ``jsonschema``.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Any

from ._regex import example

__all__ = ["MAX_SIZE", "Budget", "SchemaTooLarge", "instance"]

MAX_DEPTH = 8  # nesting (and $ref recursion) beyond this gets the smallest value allowed
HARD_DEPTH = 64  # nesting beyond this is refused (a cycle through required properties...)
MAX_SIZE = 100_000  # values plus string characters an instance may have (any client can ask)
MAX_TEXT_NUMBERS = 16  # numbers of the text a number may take, the first ones written
_NUMBER = re.compile(r"(?<![\w.])-?\d{1,15}(?:\.\d{1,15})?(?![\w.])")


class SchemaTooLarge(ValueError):
    """The smallest instance of the schema is too large to build (``minItems: 10**9``, or
    nesting that never ends)."""


class Budget:
    """Values and characters left to spend; one budget may serve several instances (every
    tool call and choice of a reply), so that their total is bounded too."""

    def __init__(self, units: int = MAX_SIZE) -> None:
        self.left = units

    def spend(self, units: int) -> None:
        self.left -= units
        if self.left < 0:
            raise SchemaTooLarge(f"the schema asks for an instance larger than {MAX_SIZE} "
                                 "values and characters")

_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z", "date": "2026-01-01", "time": "00:00:00Z",
    "email": "user@example.com", "idn-email": "user@example.com", "uri": "https://example.com/",
    "url": "https://example.com/", "uri-reference": "https://example.com/",
    "iri": "https://example.com/", "hostname": "example.com", "idn-hostname": "example.com",
    "ipv4": "192.0.2.1", "ipv6": "2001:db8::1", "uuid": "00000000-0000-4000-8000-000000000000",
    "duration": "P1D",
}


def instance(schema: Any, text: str = "example", budget: Budget | None = None) -> Any:
    """An instance of ``schema``; free-form strings take ``text`` (the prompt, say)."""
    gen = _Gen(schema if isinstance(schema, dict) else {}, text, budget or Budget())
    return gen.make(schema, 0, "")


class _Gen:
    def __init__(self, root: dict[str, Any], text: str, budget: Budget) -> None:
        self.root = root
        self.text = text
        self.budget = budget
        found = _NUMBER.finditer(text[:4096])
        self.numbers = [float(m.group()) for m in itertools.islice(found, MAX_TEXT_NUMBERS)]
        root_id = root.get("$id")
        self.root_id = root_id.split("#")[0] if isinstance(root_id, str) else None

    def spend(self, units: int) -> None:
        self.budget.spend(units)

    def resolve(self, ref: str) -> Any:
        if self.root_id and ref.startswith(self.root_id):
            ref = ref[len(self.root_id):] or "#"
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

    def make(self, schema: Any, depth: int, name: str, variant: int = 0) -> Any:
        """An instance of ``schema``; ``variant`` > 0 asks for a different one where the
        schema allows (items of a ``uniqueItems`` array)."""
        self.spend(1)
        if depth > HARD_DEPTH:
            raise SchemaTooLarge(f"the schema nests more than {HARD_DEPTH} levels deep "
                                 "(or a $ref cycle never ends)")
        if schema is True or not isinstance(schema, dict):
            return self.text if depth == 0 else None
        if "$ref" in schema:
            target = self.resolve(str(schema["$ref"]))
            target = target if isinstance(target, dict) else {}
            merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
            return self.make(merged, depth + 1, name, variant)
        found = self.given(schema, variant)
        if found:
            return found[0]
        if isinstance(schema.get("allOf"), list):
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                if isinstance(part, dict):
                    part = self.resolve(part["$ref"]) if "$ref" in part else part
                    merged = _merge(merged, part if isinstance(part, dict) else {})
            return self.make(merged, depth + 1, name, variant)
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if isinstance(options, list) and options:
                rest = {k: v for k, v in schema.items() if k != key}
                option = _smallest(options) if depth >= MAX_DEPTH else _first_non_null(options)
                return self.make(_merge(rest, option), depth + 1, name, variant)
        kind = _type_of(schema)
        if depth >= MAX_DEPTH and "null" in _types(schema):
            kind = "null"  # the smallest value allowed, and the end of a recursion
        return self.by_type(schema, kind, depth, name, variant)

    def given(self, schema: dict[str, Any], variant: int) -> list[Any]:
        """The value the schema itself offers (``const``, ``enum``, a ``default`` or an
        example of the right type), as a one-item list; empty when it offers none."""
        if "const" in schema:
            return [schema["const"]]
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            fitting = [v for v in enum if _fits(v, schema)] or enum
            return [fitting[variant % len(fitting)]]
        if variant:
            return []
        if "default" in schema and _fits(schema["default"], schema):
            return [schema["default"]]
        examples = schema.get("examples")
        if isinstance(examples, list) and examples and _fits(examples[0], schema):
            return [examples[0]]
        return []

    def by_type(self, schema: dict[str, Any], kind: str, depth: int, name: str,
                variant: int) -> Any:
        if kind == "object":
            return self.obj(schema, depth, variant)
        if kind == "array":
            return self.array(schema, depth, name, variant)
        if kind == "string":
            return self.string(schema, name, variant)
        if kind in ("integer", "number"):
            return self.number(schema, kind == "integer", variant)
        if kind == "boolean":
            return variant % 2 == 0
        return None

    def obj(self, schema: dict[str, Any], depth: int, variant: int) -> dict[str, Any]:
        found = schema.get("properties")
        props: dict[str, Any] = found if isinstance(found, dict) else {}
        listed = schema.get("required")
        required = [r for r in listed if isinstance(r, str)] if isinstance(listed, list) else []
        # all properties when none is required, so that the answer says something
        names = required if depth >= MAX_DEPTH else required or list(props)
        wanted = _int(schema.get("minProperties"))
        names += [n for n in props if n not in names][:max(0, wanted - len(names))]
        out = {n: self.make(props.get(n, {}), depth + 1, n, variant) for n in names}
        extra = schema.get("additionalProperties", True)
        for i in range(wanted - len(out)):  # more than the named properties give
            if extra is False:
                break
            self.spend(1)
            out[f"extra_{i + 1}"] = self.make(extra, depth + 1, "extra", variant)
        return out

    def array(self, schema: dict[str, Any], depth: int, name: str,
              variant: int) -> list[Any]:
        prefix = schema.get("prefixItems")
        prefix = prefix if isinstance(prefix, list) else []
        items = schema.get("items", {})
        lo = _int(schema.get("minItems"))
        hi = schema.get("maxItems")
        count = lo if depth >= MAX_DEPTH else max(lo, 1)
        if isinstance(hi, int):
            count = min(count, hi)
        count = len(prefix) if prefix and (items is False or count <= len(prefix)) else count
        self.spend(count)
        unique = bool(schema.get("uniqueItems"))
        made = [self.make(prefix[i] if i < len(prefix) else items, depth + 1, name,
                          variant + i if unique else variant)
                for i in range(count)]
        return made

    def number(self, schema: dict[str, Any], integer: bool, variant: int) -> int | float:
        """The first number of the text that fits (``variant`` 0 only: other variants must
        differ), else :func:`_number`."""
        if not variant:
            for value in self.numbers:
                if (not integer or value.is_integer()) and _in_bounds(value, schema) \
                        and _on_step(value, _num(schema.get("multipleOf"))) == value:
                    return int(value) if integer or value.is_integer() else value
        return _number(schema, integer, variant)

    def string(self, schema: dict[str, Any], name: str, variant: int) -> str:
        fmt = schema.get("format")
        value = _FORMATS.get(fmt, "") if isinstance(fmt, str) else ""
        pattern = schema.get("pattern")
        if not value and isinstance(pattern, str):
            value = example(pattern, _int(schema.get("minLength"))) or ""
            if value:
                self.spend(len(value))
                return value  # padding or a suffix would break the pattern
        if not value:
            value = self.text.strip() or name or "example"
        if variant:
            value = f"{value} {variant + 1}"
        lo = _int(schema.get("minLength"))
        hi = schema.get("maxLength")
        self.spend(max(lo, len(value)))
        if len(value) < lo:
            value = value + "x" * (lo - len(value))
        if isinstance(hi, int) and len(value) > hi:
            value = value[:hi] if not variant or hi < 1 else value[:hi - 1] + str(variant % 10)
        return value


def _types(schema: dict[str, Any]) -> list[str]:
    t = schema.get("type")
    return [x for x in t if isinstance(x, str)] if isinstance(t, list) else [t] \
        if isinstance(t, str) else []


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "object": (dict,), "array": (list,), "null": (type(None),)}


def _fits(value: Any, schema: dict[str, Any]) -> bool:
    """Whether ``value`` has one of the schema's types (any value when it names none)."""
    kinds = _types(schema)
    if not kinds:
        return True
    for kind in kinds:
        allowed = _JSON_TYPES.get(kind, ())
        if isinstance(value, bool) and kind != "boolean":
            continue
        if kind == "integer" and isinstance(value, float) and value.is_integer():
            return True
        if isinstance(value, allowed):
            return True
    return False


def _smallest(options: list[Any]) -> dict[str, Any]:
    """The option that ends a recursion soonest: ``null``, else one without a ``$ref``."""
    dicts = [o for o in options if isinstance(o, dict)]
    for o in dicts:
        if o.get("type") == "null" or o.get("const", 0) is None:
            return o
    for o in dicts:
        if "$ref" not in o:
            return o
    return dicts[0] if dicts else {}


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


def _number(schema: dict[str, Any], integer: bool, variant: int = 0) -> int | float:
    """1 (a meaningful count or amount) moved into the bounds, on a ``multipleOf`` step;
    ``variant`` steps further (down when up would leave the bounds)."""
    value = _base_number(schema, integer)
    step = _num(schema.get("multipleOf")) or 1.0
    if integer:
        step = max(1.0, math.ceil(step))
    if variant:
        up, down = value + variant * step, value - variant * step
        value = up if _in_bounds(up, schema) or not _in_bounds(down, schema) else down
        value = _on_step(value, _num(schema.get("multipleOf")))
    return int(value) if integer or float(value).is_integer() else value


def _in_bounds(value: float, schema: dict[str, Any]) -> bool:
    lo, hi = _num(schema.get("minimum")), _num(schema.get("maximum"))
    xlo, xhi = _num(schema.get("exclusiveMinimum")), _num(schema.get("exclusiveMaximum"))
    return ((lo is None or value >= lo) and (hi is None or value <= hi)
            and (xlo is None or value > xlo) and (xhi is None or value < xhi))


def _on_step(value: float, step: float | None) -> float:
    """``value`` as a multiple of a fractional ``step`` that also tests as one in floating
    point (``0.30000000000000004`` is not a multiple of ``0.1``, ``0.3`` is not either, ``0.4``
    is): the nearest such multiple at or above it, within a few steps."""
    if not step or float(step).is_integer() or not math.isfinite(value / step):
        return value
    digits = max(0, -math.floor(math.log10(step))) + 1
    k = math.ceil(round(value / step, 9))
    for i in range(20):
        candidate = round((k + i) * step, digits)
        if (candidate / step).is_integer():
            return candidate
    return round(k * step, digits)


def _base_number(schema: dict[str, Any], integer: bool) -> float:
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
    return _on_step(value, step) if step and not integer else value


def _int(v: Any) -> int:
    """A count from the schema (minItems, minLength); 0 when absent or not a number."""
    n = _num(v)
    return int(n) if n is not None and math.isfinite(n) and n > 0 else 0


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)
