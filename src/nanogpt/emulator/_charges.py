"""What the emulator charged: one entry per billed call, kept in bounded memory.

Every handler that bills (chat, and the other paid endpoints) calls ``Ledger.charge`` once, when
its answer starts; the usage endpoints read ``entries()``. Tests read it as ``emu.ledger``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

__all__ = ["Charge", "Ledger"]

KEEP = 100_000  # charges remembered; older ones drop off (a long run stays bounded)


@dataclass(frozen=True)
class Charge:
    """One billed call: when (epoch seconds), which model, what kind of call (``chat``,
    ``embedding``, ``image``, ``speech``, ``transcription``, ``search``), the USD amount and
    the tokens it counted (0 where the call has none)."""

    at: float
    model: str
    kind: str
    amount: float
    input_tokens: int = 0
    output_tokens: int = 0


class Ledger:
    """The charges of one emulator, oldest first (thread-safe: tests read it while serving)."""

    def __init__(self, keep: int = KEEP) -> None:
        self._charges: deque[Charge] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def charge(self, model: str, kind: str, amount: float, *, input_tokens: int = 0,
               output_tokens: int = 0, at: float | None = None) -> Charge:
        entry = Charge(time.time() if at is None else at, model, kind, amount,
                       input_tokens, output_tokens)
        with self._lock:
            self._charges.append(entry)
        return entry

    def entries(self) -> list[Charge]:
        with self._lock:
            return list(self._charges)
