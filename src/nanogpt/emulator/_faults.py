"""``Fault``: what to do wrong with a request; the queue of faults; what a client may ask for.

A fault is made of one small frozen record per phase of the exchange (``_phases``: before the
head, instead of the answer, in a whole body, per stream frame; ``_framing.Quirks`` for the
stream quirks). ``Fault(status=429, retry_after=0)`` takes the fields of every phase as flat
keywords and puts each in its record, so a new field is declared in its record alone.

A fault comes either from Python (``emu.inject(Fault(...))``, trusted: any value goes) or from
the client itself in an ``X-Emulator-Fault`` header holding the fault as JSON. Any local process
can send that header, so header faults are checked field by field (the check is declared with
the field, see ``_fields``: delays, counts, sizes), and a request asking for more is answered
400 instead of freezing or exhausting the emulator. The same goes for the ``X-Emulator-Tokens``
header (``MAX_FORCED_TOKENS``).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass
from typing import Any

from ._fields import FAULT_HEADER, FaultError, check
from ._framing import Quirks
from ._phases import Body, Early, Frames, Head

__all__ = ["MAX_FORCED_TOKENS", "PHASES", "TOKENS_HEADER", "Fault", "FaultQueue",
           "forced_tokens"]

TOKENS_HEADER = "X-Emulator-Tokens"
MAX_FORCED_TOKENS = 100_000  # the most tokens X-Emulator-Tokens may ask for

# the Fault attribute holding each phase's record, in the order the phases act
PHASES: dict[str, type[Any]] = {"early": Early, "head": Head, "body": Body, "frames": Frames,
                                 "quirks": Quirks}
# each flat keyword -> (the phase attribute, the field)
_FIELDS: dict[str, tuple[str, dataclasses.Field[Any]]] = {
    f.name: (phase, f) for phase, record in PHASES.items() for f in dataclasses.fields(record)}


@dataclass(frozen=True, init=False)
class Fault:
    """What to do wrong with a request. Leave a field at its default to behave normally.

    Keyword arguments only, flat: ``Fault(status=429, retry_after=0)``,
    ``Fault(reset_after_chunks=5)``, ``Fault(crlf=True)``. Each goes to the record of the
    phase it acts in (``fault.early``, ``.head``, ``.body``, ``.frames``, ``.quirks``; see
    ``_phases`` for the fields and what they do). An unknown keyword is a ``TypeError``.
    """

    early: Early
    head: Head
    body: Body
    frames: Frames
    quirks: Quirks

    def __init__(self, **fields: Any) -> None:
        unknown = sorted(set(fields) - set(_FIELDS))
        if unknown:
            raise TypeError(f"Fault() got unknown fields: {', '.join(unknown)}")
        for phase, record in PHASES.items():
            mine = {name: v for name, v in fields.items() if _FIELDS[name][0] == phase}
            object.__setattr__(self, phase, record(**mine))

    def __repr__(self) -> str:
        """Only what differs from normal behaviour: ``Fault(status=429, retry_after=0)``."""
        changed = [f"{name}={getattr(getattr(self, phase), name)!r}"
                   for name, (phase, f) in _FIELDS.items()
                   if getattr(getattr(self, phase), name) != f.default]
        return f"Fault({', '.join(changed)})"

    @classmethod
    def from_json(cls, text: str) -> Fault:
        """A fault from JSON, unchecked (unknown keys are ignored)."""
        data = json.loads(text)
        return cls(**{k: v for k, v in data.items() if k in _FIELDS})

    @classmethod
    def from_header(cls, text: str) -> Fault:
        """A fault a client asked for: checked, so that no request can freeze the emulator."""
        try:
            data = json.loads(text)
        except ValueError:
            raise FaultError(f"{FAULT_HEADER} must hold a JSON object") from None
        if not isinstance(data, dict):
            raise FaultError(f"{FAULT_HEADER} must hold a JSON object")
        kept = {k: v for k, v in data.items() if k in _FIELDS}
        for name, value in kept.items():
            check(_FIELDS[name][1], value)
        return cls(**kept)


def forced_tokens(header: str | None) -> int | None:
    """The answer length an ``X-Emulator-Tokens`` header asks for, checked."""
    if header is None or not header.strip():
        return None
    try:
        n = int(header)
    except ValueError:
        n = -1
    if not 0 <= n <= MAX_FORCED_TOKENS:
        raise FaultError(f"{TOKENS_HEADER} must be an integer from 0 to {MAX_FORCED_TOKENS}")
    return n


@dataclass
class _Rule:
    fault: Fault
    remaining: int | None
    path: str | None
    stream: bool | None  # True: streamed chat requests only; False: whole-body ones only

    def matches(self, path_qs: str, stream: bool | None) -> bool:
        if self.path is not None and self.path not in path_qs:
            return False
        return self.stream is None or self.stream is stream


class FaultQueue:
    """Faults queued from Python, matched in order against each request's path."""

    def __init__(self) -> None:
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault, times: int | None, path: str | None,
            stream: bool | None = None) -> None:
        with self._lock:
            self._rules.append(_Rule(fault, times, path, stream))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, path_qs: str, stream: bool | None) -> Fault | None:
        """The fault for a request (``stream``: None when it is not a chat request)."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(path_qs, stream):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self._rules.remove(rule)
                    return rule.fault
        return None
