"""``NanoGPT``: the blocking client. A thin shell that moves bytes (``_http``, on http.client)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from ._client import ClientCore, Request, lower_headers
from ._config import DEFAULT_TIMEOUT, Timeout, resolve_api_key
from ._errors import APITimeoutError
from ._plan import TransportFailure
from ._resources import Chat, Models
from ._stream import Stream
from ._types import Balance

if TYPE_CHECKING:
    from ._config import Secret
    from ._http import ConnectionPool, Response

__all__ = ["NanoGPT"]

T = TypeVar("T")
_READ_SIZE = 65536
_DRAIN_TIMEOUT = 0.5  # after [DONE]: how long the end of the body is awaited for reuse


class NanoGPT:
    """The NanoGPT client.

    >>> client = NanoGPT()                       # key from NANOGPT_API_KEY
    >>> r = client.chat.completions.create(model="openai/gpt-5-mini",
    ...                                    messages=[{"role": "user", "content": "Hi"}])
    >>> r.choices[0].message.content, r.cost

    Safe to share between threads; at most ``max_concurrency`` requests are in flight at once.
    """

    def __init__(self, api_key: str | Secret | None = None, *, base_url: str | None = None,
                 fallback_base_urls: list[str] | tuple[str, ...] | None = None,
                 timeout: Timeout | float | None = DEFAULT_TIMEOUT, max_retries: int = 2,
                 max_concurrency: int | None = 50,
                 default_headers: Mapping[str, str] | None = None,
                 allow_insecure_http: bool = False, retry_base_delay: float = 0.5,
                 retry_max_delay: float = 8.0, max_retry_after: float = 60.0,
                 failover_cooldown: float = 30.0, models_cache_ttl: float = 600.0,
                 max_response_bytes: int = 64 * 1024 * 1024) -> None:
        try:  # wrap the key first, so that no frame of a traceback holds it in the clear
            key = resolve_api_key(api_key)
        finally:
            del api_key
        self._core = ClientCore(
            key, base_url=base_url, fallback_base_urls=fallback_base_urls, timeout=timeout,
            max_retries=max_retries, max_concurrency=max_concurrency,
            default_headers=default_headers, allow_insecure_http=allow_insecure_http,
            retry_base_delay=retry_base_delay, retry_max_delay=retry_max_delay,
            max_retry_after=max_retry_after, failover_cooldown=failover_cooldown,
            models_cache_ttl=models_cache_ttl, max_response_bytes=max_response_bytes)
        self._slots = threading.BoundedSemaphore(max_concurrency) if max_concurrency else None
        self._http: ConnectionPool | None = None
        self._lock = threading.Lock()
        self.chat = Chat(self)
        self.models = Models(self)

    # public ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._core.base_url

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

    def __repr__(self) -> str:
        core = getattr(self, "_core", None)
        return core.describe(type(self).__name__) if core else f"<{type(self).__name__}>"

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

    def _call(self, req: Request, decode: Callable[[int, Mapping[str, str], bytes], T]) -> T:
        resp = self._exchange(req)
        try:
            body = resp.read(self._core.max_response_bytes)
        except TransportFailure as f:
            raise self._core.answer_cut(f) from None
        finally:
            self._release()
        self._core.check_size(resp.status, resp.headers, body)
        return decode(resp.status, resp.headers, body)

    def _open_stream(self, req: Request) -> Stream:
        resp = self._exchange(req)
        resp.streaming(req.timeout.idle)  # the total timeout ends where the stream starts
        headers = lower_headers(resp.headers.items())
        if not self._core.is_event_stream(headers):
            try:
                body = resp.read(self._core.max_response_bytes)
            except TransportFailure as f:
                raise self._core.answer_cut(f) from None
            finally:
                self._release()
            raise self._core.not_a_stream(resp.status, headers, body)
        read1 = resp.read1

        def read() -> bytes:
            return read1(_READ_SIZE)

        def drain() -> bool:
            return resp.drain(_DRAIN_TIMEOUT)

        def close(reusable: bool) -> None:
            try:
                resp.release(reusable)
            finally:
                self._release()

        return Stream(read, drain, close, self._core.stream_core(headers), headers)
