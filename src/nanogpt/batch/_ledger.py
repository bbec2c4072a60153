"""The ledger: the durable record of which rows finished, what they answered and cost.

It is what makes a batch run safe to kill. A row counts as finished only once its output line
is committed here (SQLite in WAL mode, ``synchronous=FULL``: the commit survives a killed
process and a power cut). The output file is a view of the ledger: a run writes a row there
only after its commit, and a run that resumes rebuilds the file from the ledger, so the file
never holds a row twice and never lacks a row the ledger has.

Rows are keyed by id and carry the digest of the request body they answered, so a resume can
tell a finished unchanged row (kept, never sent again) from an edited one (sent again).

Two connections: the run's event loop reads through one while a worker thread commits
finished rows in groups through the other (WAL lets a reader and a writer work at once), so
an fsync never stalls the requests in flight. A lock beside the ledger keeps a second run off
the same output while one is running.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .. import NanoGPTError

__all__ = ["Finished", "Ledger", "LedgerBusyError", "LedgerUnreadableError", "ledger_path"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (
    id TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    ok INTEGER NOT NULL,
    output TEXT NOT NULL,
    cost REAL,
    tokens INTEGER
);
CREATE TABLE IF NOT EXISTS totals (
    name TEXT PRIMARY KEY,
    value REAL NOT NULL
);
"""


def ledger_path(out_path: Path) -> Path:
    """Where the ledger of an output file lives: beside it, ``OUT.jsonl.ledger``."""
    return out_path.with_name(out_path.name + ".ledger")


@dataclass(frozen=True)
class Finished:
    """A finished row as the ledger holds it; ``output`` is its whole output line."""

    id: str
    digest: str
    ok: bool
    output: str
    cost: float | None = None
    tokens: int | None = None
    status: int | None = None  # the HTTP status of an error row (not stored)
    sent: bool = True  # False: an error raised before the request left (not stored)


class LedgerBusyError(NanoGPTError):
    """Another run holds this ledger (raised before anything is sent)."""


class LedgerUnreadableError(NanoGPTError):
    """The file at the ledger's place is not a ledger (raised before anything is sent)."""


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_fd = _take_lock(path.with_name(path.name + ".lock"))
        try:
            self._writer = _connect(path, check_same_thread=False)
            self._writer.executescript(_SCHEMA)
            self._writer.commit()
            self._reader = _connect(path, check_same_thread=True)
        except sqlite3.DatabaseError as e:
            os.close(self._lock_fd)
            raise LedgerUnreadableError(
                f"{path} cannot be used as this output's ledger ({e}); move it away to start "
                "the job afresh (every row is sent again)") from None
        except BaseException:
            os.close(self._lock_fd)
            raise

    def lookup(self, row_id: str) -> Finished | None:
        """The finished row with this id, if any (whatever its digest)."""
        found = self._reader.execute(
            "SELECT digest, ok, output, cost, tokens FROM rows WHERE id = ?", (row_id,),
        ).fetchone()
        if found is None:
            return None
        digest, ok, output, cost, tokens = found
        return Finished(row_id, digest, bool(ok), output, cost, tokens)

    def spent(self) -> float:
        """What every run of this job has been charged so far (USD, as reported), including
        rows since replaced by an edited version."""
        found = self._reader.execute("SELECT value FROM totals WHERE name = 'spent'").fetchone()
        return float(found[0]) if found else 0.0

    def record(self, rows: list[Finished]) -> None:
        """Commit finished rows, and what they cost, in one transaction (a row recorded again
        is replaced: an edited row, or a failed one run again). Safe to call from one worker
        thread."""
        cost = sum(r.cost or 0.0 for r in rows)
        with self._writer:
            self._writer.executemany(
                "INSERT OR REPLACE INTO rows (id, digest, ok, output, cost, tokens) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(r.id, r.digest, int(r.ok), r.output, r.cost, r.tokens) for r in rows])
            self._writer.execute(
                "INSERT INTO totals (name, value) VALUES ('spent', ?) "
                "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value", (cost,))

    def close(self) -> None:
        self._reader.close()
        self._writer.close()
        os.close(self._lock_fd)


def _connect(path: Path, *, check_same_thread: bool) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=check_same_thread, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    return db


def _take_lock(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # no flock (Windows): run unguarded
        pass
    except OSError:
        os.close(fd)
        raise LedgerBusyError(f"{path.name}: another batch run is writing this output") from None
    return fd
