"""NanoGPT's file-backed Batch API: ``/files`` and ``/batches`` on the ``/api/v1`` base path.

The state (``BatchStore``) and its handlers; ``_routes`` says which path goes to which.

A batch moves through ``validating``, ``in_progress`` and ``finalizing`` to ``completed``, one
phase per ``step`` seconds (``emu.batches.step``; short in tests). Nothing runs in the
background: a batch's status is worked out from the clock each time it is read, and its output
and error files are made once, when it is first seen in a terminal status.

What the service documents, and the emulator does: rows are checked while ``validating``
(``custom_id`` unique and non-empty, ``method: POST``, ``url`` equal to the batch's endpoint,
one model, a known model, an output cap, no ``stream: true``); a file that breaks a rule makes
the batch ``failed`` with ``errors`` naming the lines. Each row is then answered like a live
request: a row the live endpoint would refuse (``temperature: 5``) lands in the error file with
its status code, the others in the output file, as
``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}``. Token
prices are half the live ones. Cancelling is possible until a terminal status
(``cancelling``, then ``cancelled`` a step later); ``emu.batches.expire_next()`` makes the next
batch run out of time (``expired``). Rows that never ran go to the error file with code
``batch_cancelled`` or ``batch_expired``.

It defends itself like the rest of the emulator: at most ``MAX_ROWS`` rows per batch, and the
files and batches it keeps are bounded (``MAX_FILES``, ``MAX_FILE_BYTES`` in all,
``MAX_BATCHES``); the oldest are forgotten first.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import time
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from . import _catalog, _chat, _replies
from ._auth import unauthorized
from ._errors import json_error
from ._exchange import RequestKeys as K

__all__ = ["BatchStore"]

DEFAULT_STEP = 0.5  # seconds per phase: validating, in_progress, finalizing
ENDPOINTS = ("/v1/chat/completions", "/v1/responses")
MAX_ROWS = 50_000
MAX_FILES = 500
MAX_FILE_BYTES = 256 * 1024 * 1024  # all stored files together
MAX_BATCHES = 1000
MAX_ERRORS = 100  # validation errors listed per batch
WINDOW = 24 * 3600
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})



@dataclass
class _File:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "object": "file", "bytes": len(self.data),
                "created_at": self.created_at, "filename": self.filename,
                "purpose": self.purpose, "status": "processed"}


@dataclass
class _Batch:
    id: str
    input_file_id: str
    endpoint: str
    metadata: Any
    rows: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    created_at: int
    started: float  # monotonic
    expire: bool = False
    cancel_at: float | None = None  # monotonic time of the cancel request
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    usage: dict[str, int] | None = None
    settled: str | None = None  # the terminal status, once the files are made


class BatchStore:
    """The files and batches of one emulator, and the knobs of their lifecycle."""

    def __init__(self) -> None:
        self.step = DEFAULT_STEP
        self._files: OrderedDict[str, _File] = OrderedDict()
        self._file_bytes = 0
        self._batches: OrderedDict[str, _Batch] = OrderedDict()
        self._expire: deque[bool] = deque()
        self._seq = itertools.count(1)

    def expire_next(self, times: int = 1) -> None:
        """The next ``times`` batches created run out of their window while in progress."""
        self._expire.extend([True] * times)

    # files ------------------------------------------------------------------------------------

    async def upload(self, request: web.Request) -> web.Response:
        rid = request[K.rid]
        refused = unauthorized(request)
        if refused is not None:
            return refused
        fields, files = parse_multipart(request.headers.get("Content-Type", ""),
                                        await request.read())
        if "file" not in files:
            return json_error(rid, 400, "a multipart/form-data body with a 'file' part is "
                              "required", code="missing_required_parameter", param="file")
        if fields.get("purpose") != "batch":
            return json_error(rid, 400, "purpose must be 'batch'",
                              code="invalid_parameter_value", param="purpose")
        name, data = files["file"]
        f = _File(f"file_{self._next()}", name or "upload.jsonl", "batch", data, _now())
        self._keep_file(f)
        return web.json_response(f.public(), headers={"X-Request-ID": rid})

    def _keep_file(self, f: _File) -> None:
        self._files[f.id] = f
        self._file_bytes += len(f.data)
        while len(self._files) > MAX_FILES or (self._file_bytes > MAX_FILE_BYTES
                                               and len(self._files) > 1):
            _, old = self._files.popitem(last=False)
            self._file_bytes -= len(old.data)

    def _file(self, request: web.Request) -> _File | web.Response:
        return _find(request, self._files, "file_id", "file")

    async def get_file(self, request: web.Request) -> web.Response:
        f = self._file(request)
        if isinstance(f, web.Response):
            return f
        return web.json_response(f.public(), headers={"X-Request-ID": request[K.rid]})

    async def file_content(self, request: web.Request) -> web.Response:
        f = self._file(request)
        if isinstance(f, web.Response):
            return f
        return web.Response(body=f.data, content_type="application/jsonl",
                            headers={"X-Request-ID": request[K.rid]})

    # batches ----------------------------------------------------------------------------------

    async def create(self, request: web.Request) -> web.Response:
        rid = request[K.rid]
        refused = unauthorized(request)
        if refused is not None:
            return refused
        try:
            body = json.loads(await request.read())
        except (ValueError, RecursionError):
            body = None
        if not isinstance(body, dict):
            return json_error(rid, 400, "Request body must be a JSON object", code="invalid_json")
        problem = _create_problem(body)
        if problem is not None:
            return json_error(rid, 400, problem[1], code="invalid_parameter_value",
                              param=problem[0])
        f = self._files.get(body["input_file_id"])
        if f is None:
            return json_error(rid, 404, "No such file", code="file_not_found",
                              param="input_file_id")
        rows, errors = check_rows(f.data, body["endpoint"])
        batch = _Batch(f"batch_{self._next()}", f.id, body["endpoint"], body.get("metadata"),
                       rows, errors, _now(), time.monotonic(),
                       expire=bool(self._expire.popleft()) if self._expire else False)
        batch.counts = {"total": len(rows), "completed": 0, "failed": 0}
        self._batches[batch.id] = batch
        while len(self._batches) > MAX_BATCHES:
            self._batches.popitem(last=False)
        return web.json_response(self._public(batch), headers={"X-Request-ID": rid})

    def _batch(self, request: web.Request) -> _Batch | web.Response:
        return _find(request, self._batches, "batch_id", "batch")

    async def get_batch(self, request: web.Request) -> web.Response:
        batch = self._batch(request)
        if isinstance(batch, web.Response):
            return batch
        return web.json_response(self._public(batch), headers={"X-Request-ID": request[K.rid]})

    async def cancel(self, request: web.Request) -> web.Response:
        batch = self._batch(request)
        if isinstance(batch, web.Response):
            return batch
        status = self._status(batch, time.monotonic())
        if status in TERMINAL:
            return json_error(request[K.rid], 400, f"Cannot cancel a batch with status "
                              f"{status!r}", code="batch_not_cancellable")
        if batch.cancel_at is None:
            batch.cancel_at = time.monotonic()
        return web.json_response(self._public(batch), headers={"X-Request-ID": request[K.rid]})

    async def list_batches(self, request: web.Request) -> web.Response:
        rid = request[K.rid]
        refused = unauthorized(request)
        if refused is not None:
            return refused
        try:
            limit = int(request.query.get("limit", "20"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return json_error(rid, 400, "limit must be an integer from 1 to 100",
                              code="invalid_parameter_value", param="limit")
        newest_first = list(reversed(self._batches.values()))
        after = request.query.get("after")
        if after:
            ids = [b.id for b in newest_first]
            newest_first = newest_first[ids.index(after) + 1:] if after in ids else []
        page = newest_first[:limit]
        data = [self._public(b) for b in page]
        return web.json_response({"object": "list", "data": data,
                                  "first_id": page[0].id if page else None,
                                  "last_id": page[-1].id if page else None,
                                  "has_more": len(newest_first) > limit},
                                 headers={"X-Request-ID": rid})

    # the lifecycle ----------------------------------------------------------------------------

    def _status(self, batch: _Batch, now: float) -> str:
        """The status at monotonic time ``now``; settles the batch on reaching the end."""
        if batch.settled is not None:
            return batch.settled
        phase = int((now - batch.started) / self.step) if self.step > 0 else 99
        if batch.cancel_at is not None:
            waited = now - batch.cancel_at
            status = "cancelled" if self.step <= 0 or waited >= self.step else "cancelling"
        elif batch.errors:
            status = "validating" if phase < 1 else "failed"
        elif batch.expire:
            status = ("validating", "in_progress")[phase] if phase < 2 else "expired"
        else:
            status = ("validating", "in_progress", "finalizing")[phase] if phase < 3 \
                else "completed"
        if status in TERMINAL:
            self._settle(batch, status)
        return status

    def _settle(self, batch: _Batch, status: str) -> None:
        """Make the output and error files of a batch that just reached ``status``."""
        batch.settled = status
        if status == "failed":
            return
        out: list[bytes] = []
        err: list[bytes] = []
        usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        for n, row in enumerate(batch.rows):
            rid = f"{batch.id}-{n + 1}"
            if status != "completed":
                code = "batch_cancelled" if status == "cancelled" else "batch_expired"
                err.append(_line(rid, row, None, {"code": code, "message":
                                                  f"The batch was {status} before this row ran"}))
                continue
            status_code, body = answer(batch.endpoint, row["body"], rid)
            if status_code == 200:
                for k in usage:
                    usage[k] += body.get("usage", {}).get(k, 0)
                out.append(_line(rid, row, (status_code, body), None))
            else:
                err.append(_line(rid, row, (status_code, body), None))
        batch.counts = {"total": len(batch.rows), "completed": len(out), "failed": len(err)}
        batch.usage = usage if out else None
        if out:
            batch.output_file_id = self._store_result(batch, "output", out)
        if err:
            batch.error_file_id = self._store_result(batch, "error", err)

    def _store_result(self, batch: _Batch, kind: str, lines: list[bytes]) -> str:
        f = _File(f"file_{self._next()}", f"{batch.id}_{kind}.jsonl", "batch_output",
                  b"".join(lines), _now())
        self._keep_file(f)
        return f.id

    def _public(self, batch: _Batch) -> dict[str, Any]:
        now = time.monotonic()
        status = self._status(batch, now)
        t0 = batch.created_at
        stamps: dict[str, int | None] = {
            "in_progress_at": None, "finalizing_at": None, "completed_at": None,
            "failed_at": None, "expired_at": None, "cancelling_at": None, "cancelled_at": None}
        if status not in ("validating", "failed") and batch.cancel_at is None:
            stamps["in_progress_at"] = t0
        if status in TERMINAL or status == "cancelling":
            stamps[f"{status}_at"] = _now()
        counts = dict(batch.counts)
        if status == "in_progress":  # rows finish one after the other during the phase
            done = (now - batch.started - self.step) / self.step
            counts["completed"] = min(len(batch.rows), int(max(0.0, done) * len(batch.rows)))
        return {
            "id": batch.id, "object": "batch", "endpoint": batch.endpoint,
            "errors": ({"object": "list", "data": batch.errors} if batch.errors and
                       status == "failed" else None),
            "input_file_id": batch.input_file_id, "completion_window": "24h",
            "status": status, "output_file_id": batch.output_file_id,
            "error_file_id": batch.error_file_id, "created_at": t0,
            "expires_at": t0 + WINDOW, **stamps, "request_counts": counts,
            "usage": batch.usage, "metadata": batch.metadata,
        }

    def _next(self) -> str:
        return f"emu{next(self._seq):06d}"


# checking and answering rows ------------------------------------------------------------------

def _create_problem(body: dict[str, Any]) -> tuple[str, str] | None:
    """What is wrong with a create request, as (param, message), or None."""
    if not isinstance(body.get("input_file_id"), str) or not body["input_file_id"]:
        return "input_file_id", "input_file_id is required"
    if body.get("endpoint") not in ENDPOINTS:
        return "endpoint", f"endpoint must be one of {', '.join(ENDPOINTS)}"
    if body.get("completion_window") != "24h":
        return "completion_window", "completion_window must be '24h'"
    return None


def check_rows(data: bytes, endpoint: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows of an input file, and the validation errors (``{code, message, line}``)."""
    rows: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    model: str | None = None

    def fail(line: int, code: str, message: str, param: str | None = None) -> None:
        if len(errors) < MAX_ERRORS:
            errors.append({"code": code, "message": message, "param": param, "line": line})

    for n, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        if len(rows) >= MAX_ROWS:
            fail(n, "too_many_requests", f"A batch holds at most {MAX_ROWS} requests")
            break
        try:
            row = json.loads(raw)
        except (ValueError, RecursionError):
            fail(n, "invalid_json_line", "This line is not valid JSON")
            continue
        problem = _row_problem(row, endpoint, seen)
        if problem is None:
            row_model = row["body"]["model"]
            if model is None:
                model = row_model
            if row_model != model:
                problem = ("mixed_model", "All rows must use the same model "
                           f"(line 1 used {model!r}, this one {row_model!r})", "body.model")
            elif _catalog.lookup(row_model) is None:
                problem = ("unsupported_model", f"Model {row_model!r} is not available for "
                           "batches", "body.model")
        if problem is not None:
            fail(n, *problem)
            continue
        seen.add(row["custom_id"])
        rows.append(row)
    if not rows and not errors:
        fail(0, "empty_file", "The input file has no requests")
    return rows, errors


def _row_problem(row: Any, endpoint: str, seen: set[str]) -> tuple[str, str, str] | None:
    if not isinstance(row, dict):
        return "invalid_request", "Each line must be a JSON object", "line"
    cid = row.get("custom_id")
    if not isinstance(cid, str) or not cid:
        return "missing_custom_id", "custom_id must be a non-empty string", "custom_id"
    if cid in seen:
        return "duplicate_custom_id", f"custom_id {cid!r} is used twice", "custom_id"
    if row.get("method") != "POST":
        return "invalid_method", "method must be 'POST'", "method"
    if row.get("url") != endpoint:
        return "mismatched_endpoint", f"url must be {endpoint!r}, the batch's endpoint", "url"
    body = row.get("body")
    if not isinstance(body, dict):
        return "missing_body", "body must be an object", "body"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "missing_model", "body.model is required", "body.model"
    if body.get("stream") is True:
        return "streaming_unsupported", "stream: true is not supported in batches", "body.stream"
    if endpoint == "/v1/responses":
        if not body.get("input"):
            return "missing_input", "body.input must not be empty", "body.input"
        cap = body.get("max_output_tokens")
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 16:
            return ("missing_output_cap", "body.max_output_tokens must be an integer >= 16",
                    "body.max_output_tokens")
        return None
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return "missing_messages", "body.messages must be a non-empty array", "body.messages"
    caps = [body.get(k) for k in ("max_tokens", "max_completion_tokens")]
    if not any(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in caps):
        return ("missing_output_cap", "body.max_tokens or body.max_completion_tokens is "
                "required", "body.max_tokens")
    return None


def answer(endpoint: str, body: dict[str, Any], rid: str) -> tuple[int, dict[str, Any]]:
    """What the live endpoint would answer to one row, at batch prices."""
    chat_body = body
    if endpoint == "/v1/responses":
        chat_body = {**body, "messages": [{"role": "user", "content": str(body["input"])}]}
    try:
        model = _chat.check(chat_body)
    except _chat.Problem as p:
        return p.status, {"error": {"message": p.message, "type": "invalid_request_error",
                                    "code": p.code, "param": p.param}}
    reply = _replies.make_reply(chat_body, model)
    completion = _chat.completion(rid, model, reply, _chat.reasoning_key(chat_body, False))
    price = completion["x_nanogpt_pricing"]
    for k in ("amount", "cost"):  # batch token usage costs half the live price
        price[k] = round(price[k] / 2, 10)
    if endpoint == "/v1/responses":
        return 200, _as_response(completion)
    return 200, completion


def _as_response(completion: dict[str, Any]) -> dict[str, Any]:
    text = completion["choices"][0]["message"].get("content") or ""
    u = completion["usage"]
    return {"id": "resp_" + completion["id"], "object": "response", "status": "completed",
            "model": completion["model"],
            "output": [{"type": "message", "role": "assistant",
                        "content": [{"type": "output_text", "text": text}]}],
            "usage": {"input_tokens": u["prompt_tokens"], "output_tokens":
                      u["completion_tokens"], "total_tokens": u["total_tokens"]},
            "x_nanogpt_pricing": completion["x_nanogpt_pricing"]}


def _line(rid: str, row: dict[str, Any], result: tuple[int, dict[str, Any]] | None,
          error: dict[str, Any] | None) -> bytes:
    response = None
    if result is not None:
        response = {"status_code": result[0], "request_id": rid, "body": result[1]}
    return json.dumps({"id": f"batch_req_{rid}", "custom_id": row["custom_id"],
                       "response": response, "error": error}).encode() + b"\n"


def parse_multipart(content_type: str, body: bytes
                    ) -> tuple[dict[str, str], dict[str, tuple[str | None, bytes]]]:
    """The text fields and the files of a ``multipart/form-data`` body (empty when it is
    not one)."""
    if not content_type.lower().startswith("multipart/form-data"):
        return {}, {}
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    files: dict[str, tuple[str | None, bytes]] = {}
    if not message.is_multipart():
        return fields, files
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            payload = b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = (filename, payload)
        else:
            fields[name] = payload.decode("utf-8", "replace")
    return fields, files


def _now() -> int:
    return int(time.time())


_Kept = TypeVar("_Kept")


def _find(request: web.Request, kept: Mapping[str, _Kept], key: str,
          what: str) -> _Kept | web.Response:
    """The ``what`` the path's ``key`` names, or the answer to give instead: 401 without a valid
    key, 404 (``{what}_not_found``) for an id the store does not hold."""
    refused = unauthorized(request)
    if refused is not None:
        return refused
    found = kept.get(request.match_info[key])
    if found is None:
        return json_error(request[K.rid], 404, f"No such {what}", code=f"{what}_not_found")
    return found
