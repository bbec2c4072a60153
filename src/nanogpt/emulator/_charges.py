"""What the emulator charged: one entry per billed call, kept in bounded memory.

Every handler that bills (chat, and the other paid endpoints) calls ``Ledger.charge`` once, when
its answer starts; the usage endpoints read ``entries()`` and sum them with ``aggregate`` (by UTC
day, by model, by both: what ``GET /api/v1/usage`` answers). Tests read it as ``emu.ledger``.

Usage is the asking key's (NanoGPT scopes it to the authenticated key), so each charge records
the id of the key it billed: the pipeline puts the request's key id in ``billed_key`` before
any handler runs (a context variable: each request is answered in its own task context), and
``charge`` reads it there, so no handler passes it. A charge made from Python, outside any
request, bills no key and counts in every key's usage (``billed_to``).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Aggregate", "Bucket", "Charge", "Ledger", "aggregate", "billed_key", "utc_day"]

KEEP = 100_000  # charges remembered; older ones drop off (a long run stays bounded)
# the id of the API key of the request being answered (set by the pipeline)
billed_key: ContextVar[int | None] = ContextVar("billed_key", default=None)


@dataclass(frozen=True)
class Charge:
    """One billed call: when (epoch seconds), which model, what kind of call (``chat``,
    ``embedding``, ``image``, ``speech``, ``transcription``, ``search``), the USD amount,
    the tokens it counted (0 where the call has none) and the id of the key it billed (None:
    charged from Python, every key's)."""

    at: float
    model: str
    kind: str
    amount: float
    input_tokens: int = 0
    output_tokens: int = 0
    key: int | None = None


class Ledger:
    """The charges of one emulator, oldest first (thread-safe: tests read it while serving)."""

    def __init__(self, keep: int = KEEP) -> None:
        self._charges: deque[Charge] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def charge(self, model: str, kind: str, amount: float, *, input_tokens: int = 0,
               output_tokens: int = 0, at: float | None = None,
               key: int | None = None) -> Charge:
        """Record a charge to ``key`` (by default: the key of the request being answered)."""
        entry = Charge(time.time() if at is None else at, model, kind, amount,
                       input_tokens, output_tokens, billed_key.get() if key is None else key)
        with self._lock:
            self._charges.append(entry)
        return entry

    def entries(self) -> list[Charge]:
        with self._lock:
            return list(self._charges)

    def billed_to(self, key: int) -> list[Charge]:
        """The charges a key's usage shows: its own, and those made from Python."""
        return [c for c in self.entries() if c.key is None or c.key == key]

    def clear(self) -> None:
        """Forget every charge (``Emulator.reset_stats``: each test of a session starts with
        an empty ledger, and usage shows only what that test was served)."""
        with self._lock:
            self._charges.clear()


def utc_day(at: float) -> dt.date:
    """The UTC day of an epoch time (the usage endpoint's days are UTC days)."""
    return dt.datetime.fromtimestamp(at, dt.timezone.utc).date()


@dataclass
class Bucket:
    """The sums of the charges of one usage bucket (a day, a model, a day and a model, or
    all of them)."""

    requests: int = 0
    cost: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0

    def add(self, charge: Charge) -> None:
        self.requests += 1
        self.cost += charge.amount
        self.input_tokens += charge.input_tokens
        self.output_tokens += charge.output_tokens

    def to_json(self) -> dict[str, Any]:
        """The counters as ``GET /api/v1/usage`` names them (the emulator refunds nothing
        and counts no reasoning tokens apart)."""
        cost = round(self.cost, 10)
        return {"requests": self.requests, "costUsd": cost, "refundedUsd": 0,
                "netCostUsd": cost, "inputTokens": self.input_tokens,
                "outputTokens": self.output_tokens, "reasoningTokens": 0,
                "totalTokens": self.input_tokens + self.output_tokens}


@dataclass
class Aggregate:
    """The charges of a range of UTC days summed every way the usage endpoint groups them;
    each mapping in the order its keys sort (days ascending, models by label)."""

    totals: Bucket = field(default_factory=Bucket)
    by_day: dict[dt.date, Bucket] = field(default_factory=dict)
    by_model: dict[str, Bucket] = field(default_factory=dict)
    by_day_model: dict[tuple[dt.date, str], Bucket] = field(default_factory=dict)


def aggregate(charges: Iterable[Charge], start: dt.date, end: dt.date,
              label: Callable[[str], str] = str) -> Aggregate:
    """The charges whose UTC day is in ``start..end`` (both included), summed in total, by
    day, by model (``label`` gives a model id its public label) and by both."""
    out = Aggregate()
    for charge in charges:
        day = utc_day(charge.at)
        if not start <= day <= end:
            continue
        model = label(charge.model)
        out.totals.add(charge)
        out.by_day.setdefault(day, Bucket()).add(charge)
        out.by_model.setdefault(model, Bucket()).add(charge)
        out.by_day_model.setdefault((day, model), Bucket()).add(charge)
    out.by_day = dict(sorted(out.by_day.items()))
    out.by_model = dict(sorted(out.by_model.items()))
    out.by_day_model = dict(sorted(out.by_day_model.items()))
    return out
