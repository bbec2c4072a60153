"""The kinds of field a fault has: each declares its default and what a header may ask for.

A fault field is declared once, in the record of the phase it acts in (``_phases``, and
``_framing`` for the stream quirks), with one of the helpers below. The helper puts the check
in the field's metadata, so that ``Fault.from_header`` (``_faults``) can vet any field of any
phase without a list of names: any local process can send the ``X-Emulator-Fault`` header, and
a request asking for more than the limits allow is answered 400 instead of freezing or
exhausting the emulator. Faults queued from Python are trusted and not checked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

__all__ = ["FAULT_HEADER", "MAX_COUNT", "MAX_SECONDS", "FaultError", "check", "choice", "flag",
           "frame_index", "header_text", "number", "seconds", "text", "whole"]

FAULT_HEADER = "X-Emulator-Fault"
MAX_SECONDS = 300.0  # the longest delay, stall or hold a header fault may ask for
MAX_COUNT = 100_000  # the largest frame index a header fault may name

Check = Callable[[str, Any], None]


class FaultError(ValueError):
    """A fault header a client sent is malformed or asks for more than the limits allow."""


def check(field: dataclasses.Field[Any], value: Any) -> None:
    """Vet ``value`` for ``field`` as a header fault asks for it (None is always allowed)."""
    if value is not None:
        field.metadata["check"](field.name, value)


def _declared(default: Any, vet: Check) -> Any:
    return dataclasses.field(default=default, metadata={"check": vet})


def number(lo: float, hi: float, default: Any = None, *, integer: bool = False) -> Any:
    """A number from ``lo`` to ``hi`` (a whole one with ``integer``)."""
    def vet(name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not lo <= value <= hi:
            raise FaultError(f"{FAULT_HEADER}: {name} must be a number from {lo:g} to {hi:g}")
        if integer and not float(value).is_integer():
            raise FaultError(f"{FAULT_HEADER}: {name} must be a whole number")
    return _declared(default, vet)


def whole(lo: int, hi: int, default: int | None = None) -> Any:
    return number(lo, hi, default, integer=True)


def seconds(default: float | None = None) -> Any:
    """A duration a header may ask for: at most ``MAX_SECONDS``."""
    return number(0, MAX_SECONDS, default)


def frame_index() -> Any:
    """The index of a stream frame (a fault acting before frame N)."""
    return whole(0, MAX_COUNT)


def flag() -> Any:
    def vet(name: str, value: Any) -> None:
        if not isinstance(value, bool):
            raise FaultError(f"{FAULT_HEADER}: {name} must be true or false")
    return _declared(False, vet)


def text(default: str | None = None) -> Any:
    def vet(name: str, value: Any) -> None:
        if not isinstance(value, str):
            raise FaultError(f"{FAULT_HEADER}: {name} must be a string")
    return _declared(default, vet)


def header_text(*, numbers: bool = False) -> Any:
    """A value the answer sends as a header (a number too, with ``numbers``): no control
    characters, which aiohttp refuses only when the answer is sent (the client would get no
    answer at all)."""
    def vet(name: str, value: Any) -> None:
        allowed = (int, float, str) if numbers else (str,)
        if isinstance(value, bool) or not isinstance(value, allowed):
            kind = "a number or a string" if numbers else "a string"
            raise FaultError(f"{FAULT_HEADER}: {name} must be {kind}")
        if isinstance(value, str) and any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise FaultError(f"{FAULT_HEADER}: {name} must not hold control characters")
    return _declared(None, vet)


def choice(*values: str) -> Any:
    def vet(name: str, value: Any) -> None:
        if value not in values:
            shown = ", ".join(repr(v).replace("'", '"') for v in values)
            raise FaultError(f"{FAULT_HEADER}: {name} must be one of {shown}")
    return _declared(None, vet)
