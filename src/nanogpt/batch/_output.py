"""Writing batch output: one JSON line per input row, flushed as each row finishes.

A row is ``{"id": ..., "response": <the completion as JSON>}`` or
``{"id": ..., "error": {"type", "message", "status"}}``; an input line too broken to have an id
also carries its ``"line"``. The output file is a view: in a live run the ledger beside it is the
record of what finished, and the file is rebuilt from the ledger when a run resumes.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import IO, Any

import msgspec

__all__ = ["OutputWriter", "error_line", "response_line"]


def response_line(row_id: str, response: dict[str, Any]) -> str:
    """The output line (with its newline) for a row that got an answer."""
    return _encode({"id": row_id, "response": response})


def error_line(row_id: str | None, type: str, message: str, status: int | None,
               *, line: int | None = None) -> str:
    """The output line (with its newline) for a row that ended in an error."""
    row: dict[str, Any] = {"id": row_id}
    if line is not None:
        row["line"] = line
    row["error"] = {"type": type, "message": message, "status": status}
    return _encode(row)


def _encode(row: dict[str, Any]) -> str:
    """One compact JSON line (UTF-8 text as is; msgspec: this runs once per row)."""
    return msgspec.json.encode(row).decode() + "\n"


class OutputWriter:
    """Appends output lines to ``path`` (``mode="w"`` starts it afresh), flushing each one so
    a reader (or a crash) sees whole rows as they finish."""

    def __init__(self, path: Path | str, *, mode: str = "a") -> None:
        if mode not in ("a", "w"):
            raise ValueError("mode is 'a' or 'w'")
        self.path = Path(path)
        self._file: IO[str] = open(self.path, mode, encoding="utf-8")  # noqa: SIM115

    def write_response(self, id: str, response: dict[str, Any]) -> None:
        self.write_line(response_line(id, response))

    def write_error(self, id: str | None, type: str, message: str, status: int | None,
                    *, line: int | None = None) -> None:
        self.write_line(error_line(id, type, message, status, line=line))

    def write_line(self, text: str) -> None:
        """Write one already-encoded output line (ending in a newline) and flush it."""
        self._file.write(text)
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> OutputWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
