"""``NanoGPT``: the blocking client. A thin shell that moves bytes (``_http``, on http.client)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from ._client import ClientBase, Request, lower_headers
from ._errors import APITimeoutError
from ._plan import TransportFailure
from ._resources import Chat, Models
from ._stream import DRAIN_TIMEOUT, Stream
from ._types import Balance

if TYPE_CHECKING:
    from ._http import ConnectionPool, Response

__all__ = ["NanoGPT"]

T = TypeVar("T")
_READ_SIZE = 65536


class NanoGPT(ClientBase):
    """The NanoGPT client.

    >>> client = NanoGPT()                       # key from NANOGPT_API_KEY
    >>> r = client.chat.completions.create(model="openai/gpt-5-mini",
    ...                                    messages=[{"role": "user", "content": "Hi"}])
    >>> r.choices[0].message.content, r.cost

    Safe to share between threads; at most ``max_concurrency`` requests are in flight at once.
    """

    def _start_shell(self) -> None:
        n = self._core.max_concurrency
        self._slots = threading.BoundedSemaphore(n) if n else None
        self._http: ConnectionPool | None = None
        self._lock = threading.Lock()
        self.chat = Chat(self)
        self.models = Models(self)

    # public ---------------------------------------------------------------------------------

    def balance(self) -> Balance:
        """The account balance in USD, as a ``Decimal`` (``.nano_balance`` too)."""
        return self._call(self._core.balance_request(), self._core.decode_balance)

    def close(self) -> None:
        """Close pooled connections. The client may still be used afterwards."""
        http, self._http = self._http, None
        if http is not None:
            http.close()

    def __enter__(self) -> NanoGPT:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # the shell ------------------------------------------------------------------------------

    def _pool(self) -> ConnectionPool:
        http = self._http
        if http is None:
            with self._lock:
                if self._http is None:
                    from ._http import ConnectionPool

                    self._http = ConnectionPool(maxsize=self._core.max_concurrency or 64)
                http = self._http
        return http

    def _acquire(self, timeout: float | None = None) -> None:
        if self._slots is not None and not self._slots.acquire(timeout=timeout):
            raise APITimeoutError("the total timeout ran out while waiting for a free "
                                  "concurrency slot (max_concurrency)")

    def _release(self) -> None:
        if self._slots is not None:
            self._slots.release()

    def _exchange(self, req: Request) -> Response:
        """Send under the retry plan; returns a 2xx response whose concurrency slot is held."""
        plan = self._core.plan(req)
        pool = self._pool()
        limit = self._core.max_response_bytes
        while True:
            outcome: TransportFailure | tuple[int, Mapping[str, str], bytes]
            self._acquire(plan.bound(None))  # waiting for a slot counts against `total`
            held = False
            try:
                try:
                    # non-streamed: `read` bounds the whole attempt; a stream: `total` bounds
                    # its start, then `idle` each silence
                    deadline = plan.attempt_deadline(None if req.stream else req.timeout.read)
                    resp = pool.request(plan.method, plan.url, body=req.body,
                                        headers=plan.headers,
                                        connect_timeout=plan.bound(req.timeout.connect),
                                        read_timeout=plan.bound(req.read_timeout),
                                        deadline=deadline)
                except TransportFailure as f:
                    outcome = f
                else:
                    if resp.status < 300:
                        plan.succeeded()
                        held = True
                        return resp
                    try:
                        body = resp.read(limit)[:limit]
                    except TransportFailure:
                        body = b""  # the status says enough
                    outcome = (resp.status, resp.headers, body)
            finally:
                if not held:
                    self._release()
            if isinstance(outcome, TransportFailure):
                delay = plan.after_failure(outcome)
            else:
                delay = plan.after_status(*outcome)
            if delay:
                time.sleep(delay)

    def _read_answer(self, resp: Response) -> bytes:
        """The body of a 2xx answer (never retried once it started); frees the slot."""
        try:
            body = resp.read(self._core.max_response_bytes)
        except TransportFailure as f:
            raise self._core.answer_cut(f) from None
        finally:
            self._release()
        return self._core.check_size(resp.status, resp.headers, body)

    def _call(self, req: Request, decode: Callable[[int, Mapping[str, str], bytes], T]) -> T:
        resp = self._exchange(req)
        return decode(resp.status, resp.headers, self._read_answer(resp))

    def _open_stream(self, req: Request) -> Stream:
        resp = self._exchange(req)
        headers = lower_headers(resp.headers.items())
        if not self._core.is_event_stream(headers):  # read under the deadline still armed
            raise self._core.not_a_stream(resp.status, headers, self._read_answer(resp))
        if not resp.streaming(req.read_timeout):  # `total` ends where the stream starts
            resp.release(reusable=False)
            self._release()
            raise APITimeoutError("the total timeout ran out as the stream started")
        read1 = resp.read1

        def read() -> bytes:
            return read1(_READ_SIZE)

        def drain() -> bool:
            return resp.drain(DRAIN_TIMEOUT)

        def close(reusable: bool) -> None:
            try:
                resp.release(reusable)
            finally:
                self._release()

        return Stream(read, drain, close, self._core.stream_core(headers, req.timeout), headers)
