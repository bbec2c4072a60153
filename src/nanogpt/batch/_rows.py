"""Reading batch input: one JSON object a line, streamed, one :class:`BatchRow` per row.

Three row shapes are accepted, so files written for other tools work unchanged:

- ``{"id": ..., "messages": [...], <params>}``
- ``{"id": ..., "prompt": "...", <params>}`` (one user message)
- the OpenAI/NanoGPT Batch API form
  ``{"custom_id": ..., "method": "POST", "url": "/v1/chat/completions", "body": {...}}``

Each row becomes the full chat-completions request body it stands for, and a digest of that
body: the digest is what lets a resumed run tell an unchanged finished row (kept) from an edited
one (run again), so an answer is never paired with a prompt it was not given for.

A line that cannot be a row is a :class:`RowError` with its line number, never an exception:
one bad line must not stop a run of a million. Blank lines are skipped. Nothing here holds more
than one line at a time, except :func:`find_duplicate_ids`, which keeps the ids it has seen.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

__all__ = ["BatchRow", "RowError", "digest_of", "find_duplicate_ids", "read_rows", "scan_ids"]

CHAT_URL = "/v1/chat/completions"
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class BatchRow:
    """One input row: its id, its 1-based line, the request body it sends, and that body's
    digest (sha256 hex of its canonical JSON)."""

    id: str
    line: int
    body: dict[str, Any]
    digest: str


@dataclass(frozen=True)
class RowError:
    """A line that is not a usable row; ``id`` is set when the line got far enough to have one."""

    line: int
    id: str | None
    message: str


class _BadRow(Exception):
    """Why a parsed line is not a row (internal: becomes a :class:`RowError`)."""


def digest_of(body: Mapping[str, Any]) -> str:
    """A stable hash of a request body: same content, same digest, whatever the key order
    (sha256 of its compact JSON, keys sorted, UTF-8)."""
    return hashlib.sha256(msgspec.json.encode(body, order="sorted")).hexdigest()


def _parse(text: str) -> Any:
    """A line's JSON (msgspec, fast; the standard library for what it cannot hold, such as
    integers past 64 bits). Raises ``ValueError`` for what is not JSON, and for JSON nested
    too deep to read (a RecursionError must not stop a run)."""
    try:
        try:
            return msgspec.json.decode(text)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def read_rows(path: Path, *, model: str | None = None,
              params: Mapping[str, Any] | None = None) -> Iterator[BatchRow | RowError]:
    """Stream ``path``, yielding a :class:`BatchRow` or a :class:`RowError` per non-blank line.

    ``model`` fills rows that name none; ``params`` (e.g. ``{"max_tokens": 256}``) fill
    parameters a row does not set itself: a row's own values win.
    """
    defaults = dict(params or {})
    for number, text in _lines(path):
        if text is None:
            yield RowError(number, None, f"line {number}: not UTF-8 text")
            continue
        try:
            data = _parse(text)
        except ValueError as exc:
            yield RowError(number, None, f"line {number}: not JSON ({exc})")
            continue
        row_id = _id_of(data)
        try:
            body = _body_of(data, model, defaults)
            if row_id is None:
                raise _BadRow('no "id" (or "custom_id"): each row needs a unique string id')
        except _BadRow as exc:
            yield RowError(number, row_id, f"line {number}: {exc}")
            continue
        yield BatchRow(row_id, number, body, digest_of(body))


def find_duplicate_ids(path: Path) -> list[tuple[str, int, int]]:
    """Every id used twice in ``path``, as (id, first line, later line). Lines that are not
    rows are ignored here (``read_rows`` reports them)."""
    return scan_ids(path)[0]


def scan_ids(path: Path) -> tuple[list[tuple[str, int, int]], int]:
    """One pass over ``path``: the duplicate ids (as :func:`find_duplicate_ids`) and the
    number of non-blank lines (each becomes one output row)."""
    first: dict[str, int] = {}
    duplicates: list[tuple[str, int, int]] = []
    count = 0
    for number, text in _lines(path):
        count += 1
        if text is None:
            continue
        try:
            row_id = _id_of(_parse(text))
        except ValueError:
            continue
        if row_id is None:
            continue
        seen = first.setdefault(row_id, number)
        if seen != number:
            duplicates.append((row_id, seen, number))
    return duplicates, count


def _lines(path: Path) -> Iterator[tuple[int, str | None]]:
    """(1-based line number, text) for each non-blank line; the text is None for a line that
    is not UTF-8, so that it becomes an error row with its number instead of a prompt sent
    with its bytes replaced. A byte order mark before the first line is not part of it."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM):]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield number, None
                continue
            if text.strip():
                yield number, text


def _id_of(data: Any) -> str | None:
    """The row's id as a string (``id``, else ``custom_id``); numbers are accepted and kept
    as their JSON text, anything else is no id."""
    if not isinstance(data, dict):
        return None
    value = data.get("id", data.get("custom_id"))
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int):
        return str(value)
    return None


def _body_of(data: Any, model: str | None, defaults: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _BadRow(f"a row is a JSON object, got {type(data).__name__}")
    if "body" in data or "custom_id" in data:
        body = _batch_api_body(data)
    else:
        body = {k: v for k, v in data.items() if k not in ("id", "prompt")}
        if "prompt" in data:
            if "messages" in data:
                raise _BadRow('give "prompt" or "messages", not both')
            if not isinstance(data["prompt"], str):
                raise _BadRow('"prompt" must be a string')
            body["messages"] = [{"role": "user", "content": data["prompt"]}]
    for key, value in defaults.items():
        body.setdefault(key, value)
    if model is not None:
        body.setdefault("model", model)
    _check_body(body)
    return body


def _batch_api_body(data: dict[str, Any]) -> dict[str, Any]:
    method = data.get("method", "POST")
    url = data.get("url", CHAT_URL)
    if method != "POST":
        raise _BadRow(f'"method" must be "POST", got {method!r}')
    if url != CHAT_URL:
        raise _BadRow(f'"url" must be "{CHAT_URL}", got {url!r}')
    body = data.get("body")
    if not isinstance(body, dict):
        raise _BadRow('"body" must be a JSON object (the chat-completions request)')
    return dict(body)


def _check_body(body: dict[str, Any]) -> None:
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise _BadRow('no model: set "model" in the row or pass a default model (-m)')
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _BadRow('no "messages" (a non-empty list) or "prompt"')
    if not all(isinstance(m, dict) for m in messages):
        raise _BadRow('each of "messages" must be a JSON object')
    if body.get("stream"):
        raise _BadRow('"stream": true is not supported in a batch row')
