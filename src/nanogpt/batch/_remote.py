"""Server-side batches: run a JSONL file through NanoGPT's Batch API instead of live requests.

The steps, each its own function so that the command line and Python share them:

- :func:`prepare` reads the input (the same row shapes as a live run) and checks every row
  against the Batch API's rules before anything is sent: one model per batch, an output cap
  (``max_tokens`` or ``max_completion_tokens``) on every row, no ``stream: true``, unique ids,
  no malformed line. Every problem is listed with its line (:class:`RemoteInputError`). It also
  works out the worst-case cost, at batch prices (half the token price) and live.
- :func:`submit` uploads the rows and creates the batch. The batch id is recorded beside the
  output (``OUT.jsonl.batch.json``) before anything else happens, and a recorded batch is never
  submitted again: a second ``submit`` for the same output refuses and names the batch, and
  one running at the same time is refused by a lock (``OUT.jsonl.batch.json.lock``) (a
  record left half-way, with the file uploaded but no batch id, is completed from the batch
  list when the batch had been created after all).
- :func:`download` writes the results in the live run's output format, one row per input row,
  in input order: ``{"id", "response"}`` or ``{"id", "error": {"type", "message", "status"}}``.
  The input order comes from the batch's input file on the server, so any batch id can be
  downloaded, from any machine; rows that never ran (cancelled, expired, failed) are error rows.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .. import InvalidParameterError
from .._contract import redact_url
from ._ledger import _take_lock
from ._output import OutputWriter
from ._rows import BatchRow, RowError, read_rows, scan_ids

if TYPE_CHECKING:
    from .. import Model, NanoGPT
    from ..types import Batch

__all__ = ["BATCH_DISCOUNT", "RECORD_SUFFIX", "RemoteInputError", "RemotePlan",
           "already_submitted", "download", "prepare", "read_record", "record_path", "submit"]

CHAT_URL: Final = "/v1/chat/completions"
BATCH_DISCOUNT = 0.5  # batch token usage costs half the live price
RECORD_SUFFIX = ".batch.json"
MAX_PROBLEMS = 20  # problems listed before "and N more"


class RemoteInputError(InvalidParameterError):
    """The input breaks the Batch API's rules; ``problems`` lists each with its line. Raised
    before anything is sent."""

    def __init__(self, problems: list[str], more: int = 0) -> None:
        self.problems = problems
        self.more = more
        lines = "\n".join(f"  {p}" for p in problems)
        tail = f"\n  ... and {more} more" if more else ""
        super().__init__("input", f"the rows break the Batch API's rules:\n{lines}{tail}")


@dataclass
class RemotePlan:
    """Checked input, ready to upload: the JSONL in the Batch API's row form, and the
    worst-case cost (USD, ``None`` without catalog prices)."""

    model: str
    rows: int
    data: bytes
    worst_case_batch: float | None = None
    worst_case_live: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def saving(self) -> float | None:
        if self.worst_case_live is None or self.worst_case_batch is None:
            return None
        return self.worst_case_live - self.worst_case_batch

    def estimate(self) -> dict[str, Any]:
        return {"rows": self.rows, "model": self.model,
                "worst_case_batch_usd": _round(self.worst_case_batch),
                "worst_case_live_usd": _round(self.worst_case_live),
                "saving_usd": _round(self.saving)}


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 10)


# checking -------------------------------------------------------------------------------------

class _Problems:
    """Problems as (line, text); the first ``MAX_PROBLEMS`` by line are kept."""

    def __init__(self) -> None:
        self.items: list[tuple[int, str]] = []
        self.count = 0

    def add(self, line: int, text: str) -> None:
        self.count += 1
        self.items.append((line, text if text.startswith("line ") else f"line {line}: {text}"))
        if len(self.items) > 4 * MAX_PROBLEMS:
            self.items = sorted(self.items)[:MAX_PROBLEMS]

    def raise_if_any(self) -> None:
        if self.count:
            kept = [text for _, text in sorted(self.items)[:MAX_PROBLEMS]]
            raise RemoteInputError(kept, self.count - len(kept))


def prepare(in_path: str | Path, *, model: str | None = None,
            params: Mapping[str, Any] | None = None,
            catalog: list[Model] | None = None) -> RemotePlan:
    """Check ``in_path`` against the Batch API's rules and build the file to upload; raises
    :class:`RemoteInputError` listing every problem (with its line). ``model`` and ``params``
    fill rows that lack them, as in a live run; ``catalog`` gives the prices."""
    path = Path(in_path)
    problems = _Problems()
    duplicates, _ = scan_ids(path)
    for row_id, first, later in duplicates:
        problems.add(later, f"id {row_id!r} was already used on line {first} "
                     "(ids must be unique)")
    first_model: tuple[str, int] | None = None
    rows = 0
    out: list[bytes] = []
    bodies_for_cost: list[dict[str, Any]] = []
    for item in read_rows(path, model=model, params=params):
        if isinstance(item, RowError):
            problems.add(item.line, item.message)
            continue
        if first_model is None:
            first_model = (item.body["model"], item.line)
        for problem in _row_problems(item, first_model):
            problems.add(item.line, problem)
        rows += 1
        out.append(json.dumps({"custom_id": item.id, "method": "POST", "url": CHAT_URL,
                               "body": item.body}, ensure_ascii=False).encode() + b"\n")
        bodies_for_cost.append({"messages": item.body.get("messages"),
                                "max_tokens": _cap(item.body), "n": item.body.get("n")})
    if first_model is None and not problems.count:
        problems.add(0, "the input has no rows")
    problems.raise_if_any()
    assert first_model is not None
    plan = RemotePlan(model=first_model[0], rows=rows, data=b"".join(out))
    _estimate(plan, bodies_for_cost, catalog)
    return plan


def _cap(body: Mapping[str, Any]) -> int | None:
    """The row's output cap; the larger when both are given (either may be the one used)."""
    caps = [v for v in (body.get("max_completion_tokens"), body.get("max_tokens"))
            if isinstance(v, int) and not isinstance(v, bool) and v > 0]
    return max(caps) if caps else None


def _row_problems(row: BatchRow, first_model: tuple[str, int]) -> Iterator[str]:
    body = row.body
    if body["model"] != first_model[0]:
        yield (f"model {body['model']!r} differs from {first_model[0]!r} on line "
               f"{first_model[1]} (a batch runs one model)")
    if _cap(body) is None:
        yield ("no output cap: set max_tokens or max_completion_tokens (a positive integer) "
               "in the row, or pass one for all rows")
    if "stream" in body and body["stream"] is not False:
        yield "stream is not supported in a batch: remove it"


def _estimate(plan: RemotePlan, bodies: list[dict[str, Any]],
              catalog: list[Model] | None) -> None:
    if catalog is None:
        plan.notes.append("no catalog: cost not estimated")
        return
    from ._runner import worst_case_cost

    found = next((m for m in catalog if m.id == plan.model), None)
    if found is None:
        plan.notes.append(f"model {plan.model!r} is not in the catalog: cost not estimated")
        return
    total = 0.0
    for body in bodies:
        cost = worst_case_cost(body, found)
        if cost is None:
            plan.notes.append(f"no price for {plan.model!r}: cost not estimated")
            return
        total += cost
    plan.worst_case_live = total
    plan.worst_case_batch = total * BATCH_DISCOUNT


# submitting -----------------------------------------------------------------------------------

def record_path(out_path: str | Path) -> Path:
    """Where the batch behind ``out_path`` is recorded: ``OUT.jsonl.batch.json``."""
    return Path(str(out_path) + RECORD_SUFFIX)


def read_record(path: str | Path) -> dict[str, Any] | None:
    """The record at ``path`` (an output path or the record itself), or None."""
    p = Path(path)
    if not str(p).endswith(RECORD_SUFFIX):
        p = record_path(p)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise InvalidParameterError("record", f"{p} cannot be read ({e})") from None
    return data if isinstance(data, dict) else None


def _write_record(out_path: Path, record: Mapping[str, Any]) -> None:
    """Written whole to a temporary file and renamed: a crash leaves the old or the new."""
    target = record_path(out_path)
    tmp = target.with_name(target.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)


def already_submitted(client: NanoGPT, out_path: str | Path) -> str | None:
    """The batch id already recorded for ``out_path`` (after completing a record left
    half-way, when the batch exists), or None."""
    record = read_record(out_path)
    if record is None:
        return None
    if record.get("batch_id"):
        return str(record["batch_id"])
    file_id = record.get("input_file_id")
    if not file_id:
        return None
    page = client.batches.list(limit=100)
    for batch in page.data:
        if batch.input_file_id == file_id:
            _write_record(Path(out_path), {**record, "batch_id": batch.id})
            return batch.id
    return None


def submit(client: NanoGPT, plan: RemotePlan, in_path: str | Path,
           out_path: str | Path) -> Batch:
    """Upload the rows and create the batch, recording it beside ``out_path``. Refuses (before
    sending anything) when a batch is already recorded for ``out_path``."""
    out = Path(out_path)
    _refuse_foreign_output(out)
    lock = record_path(out)
    # two submits for one output at once would both find no record and create two batches
    lock_fd = _take_lock(lock.with_name(lock.name + ".lock"))
    try:
        return _submit_once(client, plan, Path(in_path), out)
    finally:
        os.close(lock_fd)


def _refuse_foreign_output(out: Path) -> None:
    """The results will be written to ``out``: a file there that no batch run wrote (no
    ledger, no record beside it) is someone's data, refused before anything is uploaded."""
    from ._ledger import ledger_path

    if (out.is_file() and out.stat().st_size > 0 and not ledger_path(out).exists()
            and not record_path(out).exists()):
        raise InvalidParameterError("output", f"{out} exists and was not written by a batch "
                                    "run; remove it or choose another output")


def _submit_once(client: NanoGPT, plan: RemotePlan, in_path: Path, out: Path) -> Batch:
    existing = already_submitted(client, out)
    if existing is not None:
        raise InvalidParameterError("output", f"batch {existing} was already submitted for "
                                    f"{out} (see {record_path(out)}); follow it with "
                                    f"'nanogpt batches wait {existing}', or remove the record "
                                    "to submit again")
    uploaded = client.files.create(plan.data, filename=Path(in_path).name)
    record: dict[str, Any] = {
        "batch_id": None, "input_file_id": uploaded.id, "input": str(Path(in_path).resolve()),
        "output": str(out.resolve()), "model": plan.model, "rows": plan.rows,
        "batch_base_url": redact_url(client.batches.base_url),  # no password on disk
        "submitted_at": int(time.time()),
        "estimate": plan.estimate()}
    _write_record(out, record)  # before creating: a crash now leaves a findable trace
    batch = client.batches.create(input_file_id=uploaded.id, endpoint=CHAT_URL)
    _write_record(out, {**record, "batch_id": batch.id})
    return batch


# downloading ----------------------------------------------------------------------------------

@dataclass
class DownloadSummary:
    rows: int = 0
    answered: int = 0
    failed: int = 0
    cost: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "answered": self.answered, "failed": self.failed,
                "cost_usd": round(self.cost, 10)}


def _jsonl(data: bytes) -> Iterator[dict[str, Any]]:
    for line in data.splitlines():
        if line.strip():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                yield item


def _results(client: NanoGPT, batch: Batch) -> dict[str, dict[str, Any]]:
    """custom_id -> result line, from the output file and then the error file."""
    results: dict[str, dict[str, Any]] = {}
    for file_id in (batch.output_file_id, batch.error_file_id):
        if file_id:
            for item in _jsonl(client.files.content(file_id)):
                cid = item.get("custom_id")
                if isinstance(cid, str):
                    results.setdefault(cid, item)
    return results


def download(client: NanoGPT, batch_id: str, out_path: str | Path) -> DownloadSummary:
    """Write the batch's results to ``out_path`` (rewritten whole), one row per input row in
    input order, in the live run's output format."""
    batch = client.batches.retrieve(batch_id)
    if not batch.done:
        raise InvalidParameterError("batch", f"batch {batch_id} is still {batch.status}; "
                                    "wait for it to finish first")
    if not batch.input_file_id:
        raise InvalidParameterError("batch", f"batch {batch_id} names no input file")
    order = [item.get("custom_id") for item in _jsonl(client.files.content(batch.input_file_id))]
    results = _results(client, batch)
    summary = DownloadSummary()
    with OutputWriter(out_path, mode="w") as writer:
        for cid in order:
            if not isinstance(cid, str):
                continue
            summary.rows += 1
            if _write_result(writer, cid, results.get(cid), batch, summary):
                summary.answered += 1
            else:
                summary.failed += 1
    return summary


def _write_result(writer: OutputWriter, cid: str, item: dict[str, Any] | None, batch: Batch,
                  summary: DownloadSummary) -> bool:
    """Write one row; True when it is an answer."""
    if item is None:
        writer.write_error(cid, f"batch_{batch.status}", f"no result for this row: the batch "
                           f"ended {batch.status}", None)
        return False
    response = item.get("response") if isinstance(item.get("response"), dict) else None
    error = item.get("error") if isinstance(item.get("error"), dict) else None
    status = response.get("status_code") if response else None
    body = response.get("body") if response else None
    if error is None and isinstance(status, int) and status < 300 and isinstance(body, dict):
        writer.write_response(cid, body)
        pricing = body.get("x_nanogpt_pricing")
        cost = pricing.get("cost") if isinstance(pricing, dict) else None
        if isinstance(cost, (int, float)) and not isinstance(cost, bool):
            summary.cost += cost
        return True
    detail = (body.get("error") if isinstance(body, dict) else None) or error or {}
    if not isinstance(detail, dict):
        detail = {"message": str(detail)}
    kind = detail.get("type") or detail.get("code") or "batch_error"
    message = detail.get("message") or f"the row failed (status {status})"
    writer.write_error(cid, str(kind), str(message), status if isinstance(status, int) else None)
    return False
