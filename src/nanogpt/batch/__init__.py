"""Batch runs: many chat requests from a JSONL file, concurrent, crash-safe, budget-capped.

``run`` (sync) and ``arun`` (async) drive a live run through either client; see
``_runner``. ``_rows`` reads input rows, ``_output`` writes output rows, ``_ledger`` is the
durable record that makes a rerun resume instead of paying twice. Importing this package is
cheap: the runner, asyncio and sqlite3 load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes
from ._output import OutputWriter, error_line, response_line
from ._rows import BatchRow, RowError, digest_of, find_duplicate_ids, read_rows

if TYPE_CHECKING:
    from ._runner import BatchInputError, BatchSummary, arun, run

__all__ = [
    "BatchInputError",
    "BatchRow",
    "BatchSummary",
    "OutputWriter",
    "RowError",
    "arun",
    "digest_of",
    "error_line",
    "find_duplicate_ids",
    "read_rows",
    "response_line",
    "run",
]

_LAZY = {name: "._runner" for name in ("run", "arun", "BatchSummary", "BatchInputError")}


__getattr__ = lazy_attributes(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(__all__)
