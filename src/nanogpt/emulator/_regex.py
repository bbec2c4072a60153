"""A short string that a regular expression matches, for JSON schema ``pattern``.

Pydantic writes ``pattern`` for constrained strings (``Field(pattern=r"^\\d{5}$")``), and a
client validates the answer against it. This walks the parse tree of the expression (Python's
own regex parser) and takes the smallest choice at every step: the first branch, the fewest
repeats (at least one, so that ``\\d*`` still says something), the first character of a class.
Only constructs whose result matches by construction are handled: literals, classes (negated
ones too), ``.``, groups, alternation, repeats and the anchors ``^``/``$``. Anything else
(look-arounds, backreferences, ``\\b``) gives ``None``, and the caller falls back to plain
text. The expression is never run, so a hostile pattern cannot make it backtrack for long.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["example"]

# Python's regex parser: re._parser from 3.11, sre_parse before (same interface)
_parser: Any = importlib.import_module("re._parser" if sys.version_info >= (3, 11)
                                       else "sre_parse")

MAX_PATTERN = 1000  # longer patterns are not parsed
MAX_EXAMPLE = 1000  # characters an example may have

_CATEGORIES = {"CATEGORY_DIGIT": "0", "CATEGORY_WORD": "a", "CATEGORY_SPACE": " ",
               "CATEGORY_NOT_DIGIT": "a", "CATEGORY_NOT_WORD": "-", "CATEGORY_NOT_SPACE": "a"}
_TESTS: dict[str, Callable[[str], bool]] = {
    "CATEGORY_DIGIT": str.isdigit, "CATEGORY_SPACE": str.isspace,
    "CATEGORY_WORD": lambda c: c.isalnum() or c == "_"}
_CANDIDATES = "aA0-_ x.Z9"  # tried in turn for a negated class
_ANCHORS = {"AT_BEGINNING", "AT_BEGINNING_STRING", "AT_END", "AT_END_STRING"}


class _Unsupported(Exception):
    pass


def example(pattern: str, min_length: int = 0) -> str | None:
    """A string ``pattern`` matches (``re.search`` and ``re.fullmatch``), or None. Open-ended
    repeats grow to reach ``min_length`` where they can (``^\\d+$`` with ``minLength: 4``)."""
    if len(pattern) > MAX_PATTERN:
        return None
    try:
        tree = _parser.parse(pattern)
        out = _seq(tree)
        if len(out) < min_length:
            out = _seq(tree, [min(min_length, MAX_EXAMPLE) - len(out)])
    except (_Unsupported, Exception):  # unsupported construct, or not a Python regex
        return None
    return out if len(out) <= MAX_EXAMPLE else None


def _name(op: Any) -> str:
    return str(getattr(op, "name", op))


def _seq(items: Any, grow: list[int] | None = None) -> str:
    """The smallest match of ``items``; ``grow[0]`` characters more, taken by the first
    repeats that allow more (and counted down)."""
    return "".join(_one(_name(op), av, grow) for op, av in items)


def _one(op: str, av: Any, grow: list[int] | None = None) -> str:
    if op == "LITERAL":
        return chr(av)
    if op == "ANY":
        return "a"
    if op == "IN":
        return _in(av)
    if op == "SUBPATTERN":
        return _seq(av[-1], grow)
    if op == "BRANCH":
        return _seq(av[1][0], grow)
    if op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        lo, hi, item = av
        count = max(lo, 1) if hi else 0  # x{0} repeats nothing
        count = min(count, hi)
        unit = _seq(item)
        if grow and grow[0] > 0 and unit and hi > count:
            more = min(hi - count, -(-grow[0] // len(unit)))
            count += more
            grow[0] -= more * len(unit)
        if count > MAX_EXAMPLE:
            raise _Unsupported
        return str(unit * count)
    if op == "AT" and _name(av) in _ANCHORS:
        return ""
    if op == "ATOMIC_GROUP":
        return _seq(av, grow)
    raise _Unsupported(op)


def _in(items: Any) -> str:
    if items and _name(items[0][0]) == "NEGATE":
        rest = items[1:]
        for c in _CANDIDATES:
            if not any(_member(c, _name(op), av) for op, av in rest):
                return c
        raise _Unsupported("negated class")
    for op, av in items:
        name = _name(op)
        if name == "LITERAL":
            return chr(av)
        if name == "RANGE":
            return chr(av[0])
        if name == "CATEGORY" and _name(av) in _CATEGORIES:
            return _CATEGORIES[_name(av)]
        raise _Unsupported(name)
    raise _Unsupported("empty class")


def _member(c: str, op: str, av: Any) -> bool:
    """Whether class item ``op``/``av`` matches ``c``."""
    if op == "LITERAL":
        return bool(ord(c) == av)
    if op == "RANGE":
        return bool(av[0] <= ord(c) <= av[1])
    if op == "CATEGORY":
        name = _name(av)
        negated = "_NOT_" in name
        test = _TESTS.get(name.replace("_NOT_", "_"))
        if test is None:
            raise _Unsupported(name)
        return test(c) != negated
    raise _Unsupported(op)
