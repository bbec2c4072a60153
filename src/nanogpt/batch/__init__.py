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
    from ._remote import (
        DownloadSummary,
        RemoteInputError,
        RemotePlan,
        download,
        prepare,
        submit,
    )
    from ._runner import BatchInputError, BatchSummary, arun, run

__all__ = [
    "BatchInputError",
    "BatchRow",
    "BatchSummary",
    "DownloadSummary",
    "OutputWriter",
    "RemoteInputError",
    "RemotePlan",
    "RowError",
    "arun",
    "digest_of",
    "download",
    "error_line",
    "find_duplicate_ids",
    "prepare",
    "read_rows",
    "response_line",
    "run",
    "submit",
]

_LAZY = {name: "._runner" for name in ("run", "arun", "BatchSummary", "BatchInputError")}
_LAZY.update({name: "._remote" for name in ("prepare", "submit", "download", "RemotePlan",
                                           "RemoteInputError", "DownloadSummary")})


__getattr__ = lazy_attributes(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(__all__)
