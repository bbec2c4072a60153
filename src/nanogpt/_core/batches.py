"""The sans-I/O half of NanoGPT's Batch API: where batch calls go, the typed objects, and
:class:`BatchCore`, which builds each request (the multipart upload body in ``multipart``) and
decodes each answer. The namespaces that move the bytes (``client.files``, ``client.batches``)
are in ``nanogpt._batches``. No I/O beyond ``os.environ``.

The file-backed Batch API lives on its own host, ``https://api.nano-gpt.com/api/v1`` (the main
host may refuse large multipart uploads). :func:`batch_base_url` decides where batch calls go:
the ``batch_base_url=`` client argument, else ``NANOGPT_BATCH_BASE_URL``, else that host when
the client uses the default base URL, else the client's own base URL (so an emulator or a proxy
given as ``base_url`` serves batches too).

Money rules as everywhere: reading files and batches is idempotent and retried; an upload is
retried too (a stray duplicate file costs nothing); creating a batch, which NanoGPT may bill, is
never re-sent once it may have reached the server; a cancel may be repeated safely.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlencode

import msgspec

from .config import DEFAULT_BASE_URL, check_base_url
from .errors import InvalidParameterError
from .multipart import form_data
from .plan import HostPool
from .types import KeepsRaw, json_object, typed_object

if TYPE_CHECKING:
    from .client import ClientCore, Request

__all__ = ["BATCH_BASE_URL", "Batch", "BatchCore", "BatchList", "Endpoint", "FileObject",
           "RequestCounts", "batch_base_url"]

BATCH_BASE_URL = "https://api.nano-gpt.com/api/v1"
ENV_BATCH_BASE_URL = "NANOGPT_BATCH_BASE_URL"
TERMINAL_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})
Endpoint = Literal["/v1/chat/completions", "/v1/responses"]


class FileObject(KeepsRaw):
    """An uploaded file (``id``, ``size`` in bytes, ``filename``, ``purpose``, ``status``)."""

    id: str
    object: str = "file"
    size: int | None = msgspec.field(default=None, name="bytes")
    created_at: int | float | None = None
    filename: str | None = None
    purpose: str | None = None
    status: str | None = None


class RequestCounts(msgspec.Struct):
    total: int = 0
    completed: int = 0
    failed: int = 0


class Batch(KeepsRaw):
    """A batch job. ``done`` says whether its status is terminal; ``errors`` (a list object)
    says why a batch ``failed`` validation."""

    id: str
    status: str
    object: str = "batch"
    endpoint: str | None = None
    input_file_id: str | None = None
    completion_window: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    created_at: int | float | None = None
    in_progress_at: int | float | None = None
    finalizing_at: int | float | None = None
    completed_at: int | float | None = None
    failed_at: int | float | None = None
    expired_at: int | float | None = None
    expires_at: int | float | None = None
    cancelling_at: int | float | None = None
    cancelled_at: int | float | None = None
    request_counts: RequestCounts = msgspec.field(default_factory=RequestCounts)
    usage: dict[str, Any] | None = None
    errors: Any = None
    metadata: Any = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def error_messages(self) -> list[str]:
        """The validation errors of a failed batch as lines (``line N: message``)."""
        data = self.errors.get("data") if isinstance(self.errors, dict) else self.errors
        out: list[str] = []
        for e in data if isinstance(data, list) else []:
            if isinstance(e, dict):
                where = f"line {e['line']}: " if e.get("line") else ""
                out.append(f"{where}{e.get('message') or e.get('code') or e}")
        return out


class BatchList(KeepsRaw):
    """One page of ``GET /batches``; pass ``last_id`` as ``after`` for the next one."""

    data: list[Batch] = msgspec.field(default_factory=list)
    object: str = "list"
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False


def batch_base_url(explicit: str | None, core: ClientCore) -> str:
    """Where batch calls go (see the module docstring); checked like ``base_url``."""
    url = explicit if explicit is not None else os.environ.get(ENV_BATCH_BASE_URL) or None
    if url is None:
        return BATCH_BASE_URL if core.base_url == DEFAULT_BASE_URL else core.base_url
    return check_base_url(url, allow_insecure_http=core.allow_insecure_http,
                          name="batch_base_url")


def _id(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidParameterError(name, "must be a non-empty string")
    return quote(value, safe="")


class BatchCore:
    """The sans-I/O half of the Batch API calls, on the batch host."""

    def __init__(self, core: ClientCore, batch_base_url_arg: str | None) -> None:
        self.core = core
        self.base_url = batch_base_url(batch_base_url_arg, core)
        self.pool = HostPool([self.base_url])

    def _request(self, method: str, path: str, *, body: Any = None,
                 idempotent: bool | None = None) -> Request:
        req = self.core.request(method, path, body=body, idempotent=idempotent)
        req.pool = self.pool
        return req

    # requests ---------------------------------------------------------------------------------

    def upload_request(self, data: bytes, filename: str, purpose: str) -> Request:
        if not isinstance(data, bytes):
            raise InvalidParameterError("file", "must be a path or bytes")
        if not isinstance(purpose, str) or not purpose:
            raise InvalidParameterError("purpose", "must be a non-empty string")
        body, content_type = form_data({"purpose": purpose},
                                       {"file": (filename, data, "application/jsonl")})
        req = self._request("POST", "/files", idempotent=True)
        req.body = body
        req.headers["content-type"] = content_type
        return req

    def file_request(self, file_id: str) -> Request:
        return self._request("GET", f"/files/{_id('file_id', file_id)}")

    def content_request(self, file_id: str) -> Request:
        req = self._request("GET", f"/files/{_id('file_id', file_id)}/content")
        req.headers["accept"] = "application/jsonl, application/json;q=0.9, */*;q=0.1"
        return req

    def create_request(self, input_file_id: str, endpoint: str, completion_window: str,
                       metadata: Mapping[str, str] | None) -> Request:
        _id("input_file_id", input_file_id)
        if endpoint not in ("/v1/chat/completions", "/v1/responses"):
            raise InvalidParameterError("endpoint", "must be '/v1/chat/completions' or "
                                        "'/v1/responses'")
        body: dict[str, Any] = {"input_file_id": input_file_id, "endpoint": endpoint,
                                "completion_window": completion_window}
        if metadata is not None:
            body["metadata"] = dict(metadata)
        # may be billed: never re-sent once it may have reached the server
        return self._request("POST", "/batches", body=body, idempotent=False)

    def retrieve_request(self, batch_id: str) -> Request:
        return self._request("GET", f"/batches/{_id('batch_id', batch_id)}")

    def list_request(self, limit: int | None, after: str | None) -> Request:
        query: dict[str, str] = {}
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
                raise InvalidParameterError("limit", "must be an integer from 1 to 100")
            query["limit"] = str(limit)
        if after is not None:
            _id("after", after)
            query["after"] = after
        return self._request("GET", "/batches" + (f"?{urlencode(query)}" if query else ""))

    def cancel_request(self, batch_id: str) -> Request:
        # cancelling twice is harmless: safe to retry
        return self._request("POST", f"/batches/{_id('batch_id', batch_id)}/cancel",
                             idempotent=True)

    # decoding ---------------------------------------------------------------------------------

    def decode_file(self, status: int, headers: Mapping[str, str], body: bytes) -> FileObject:
        raw = json_object("a file", status, headers, body)
        return typed_object(raw, FileObject, status, headers, body)

    def decode_batch(self, status: int, headers: Mapping[str, str], body: bytes) -> Batch:
        raw = json_object("a batch", status, headers, body)
        return typed_object(raw, Batch, status, headers, body)

    def decode_list(self, status: int, headers: Mapping[str, str], body: bytes) -> BatchList:
        raw = json_object("a batch list", status, headers, body)
        data = raw.get("data")
        items = data if isinstance(data, list) else []
        page = BatchList(data=[typed_object(b, Batch, status, headers, body) for b in items
                               if isinstance(b, dict)],
                         first_id=_str(raw.get("first_id")), last_id=_str(raw.get("last_id")),
                         has_more=raw.get("has_more") is True)
        page.__dict__["_raw_dict"] = raw
        return page

    @staticmethod
    def decode_content(status: int, headers: Mapping[str, str], body: bytes) -> bytes:
        return body


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
