"""``NanoGPT``: the blocking client. A thin shell that moves bytes with urllib3.

urllib3 is chosen by measurement: about half of httpx's CPU per request. It is imported on the
first request, not at ``import nanogpt``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ._client import ClientCore, Request, lower_headers
from ._config import DEFAULT_TIMEOUT, Timeout
from ._errors import APIConnectionError, APITimeoutError
from ._plan import TransportFailure
from ._resources import Chat, Models
from ._stream import Stream
from ._types import Balance

if TYPE_CHECKING:
    import urllib3

__all__ = ["NanoGPT"]

T = TypeVar("T")
_READ_SIZE = 65536


def _failure(exc: BaseException, *, sent: bool | None = None) -> TransportFailure:
    """Classify a urllib3/socket error: did the request leave, was it a timeout?"""
    from urllib3 import exceptions as e

    if isinstance(exc, (e.NewConnectionError, e.ProxyError)):  # before ConnectTimeoutError
        return TransportFailure(f"could not connect: {exc}", sent=bool(sent))
    if isinstance(exc, e.ConnectTimeoutError):
        return TransportFailure(f"connect timed out: {exc}", sent=bool(sent), timeout=True)
    if isinstance(exc, e.SSLError):
        return TransportFailure(f"TLS failed: {exc}", sent=bool(sent))
    if isinstance(exc, (e.ReadTimeoutError, TimeoutError)):
        return TransportFailure("timed out waiting for the server", sent=True, timeout=True)
    return TransportFailure(f"connection broken: {exc!r}", sent=True if sent is None else sent)


class NanoGPT:
    """The NanoGPT client.

    >>> client = NanoGPT()                       # key from NANOGPT_API_KEY
    >>> r = client.chat.completions.create(model="openai/gpt-5-mini",
    ...                                    messages=[{"role": "user", "content": "Hi"}])
    >>> r.choices[0].message.content, r.cost

    Safe to share between threads; at most ``max_concurrency`` requests are in flight at once.
    """

    def __init__(self, api_key: str | None = None, *, base_url: str | None = None,
                 fallback_base_urls: list[str] | tuple[str, ...] | None = None,
                 timeout: Timeout | float | None = DEFAULT_TIMEOUT, max_retries: int = 2,
                 max_concurrency: int | None = 50,
                 default_headers: Mapping[str, str] | None = None,
                 allow_insecure_http: bool = False, retry_base_delay: float = 0.5,
                 retry_max_delay: float = 8.0, max_retry_after: float = 60.0,
                 failover_cooldown: float = 30.0, models_cache_ttl: float = 600.0) -> None:
        self._core = ClientCore(
            api_key, base_url=base_url, fallback_base_urls=fallback_base_urls, timeout=timeout,
            max_retries=max_retries, max_concurrency=max_concurrency,
            default_headers=default_headers, allow_insecure_http=allow_insecure_http,
            retry_base_delay=retry_base_delay, retry_max_delay=retry_max_delay,
            max_retry_after=max_retry_after, failover_cooldown=failover_cooldown,
            models_cache_ttl=models_cache_ttl)
        self._slots = threading.BoundedSemaphore(max_concurrency) if max_concurrency else None
        self._http: urllib3.PoolManager | None = None
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
            http.clear()

    def __enter__(self) -> NanoGPT:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return self._core.describe(type(self).__name__)

    # the shell ------------------------------------------------------------------------------

    def _pool(self) -> urllib3.PoolManager:
        http = self._http
        if http is None:
            with self._lock:
                if self._http is None:
                    import urllib3

                    size = max(self._core.max_concurrency or 64, 10)
                    self._http = urllib3.PoolManager(num_pools=8, maxsize=size, block=False,
                                                     retries=False)
                http = self._http
        return http

    def _acquire(self) -> None:
        if self._slots is not None:
            self._slots.acquire()

    def _release(self) -> None:
        if self._slots is not None:
            self._slots.release()

    def _exchange(self, req: Request) -> urllib3.BaseHTTPResponse:
        """Send under the retry plan; returns a 2xx response whose concurrency slot is held."""
        import urllib3

        plan = self._core.plan(req)
        timeout = urllib3.Timeout(connect=req.timeout.connect, read=req.read_timeout)
        pool = self._pool()
        while True:
            outcome: TransportFailure | tuple[int, Mapping[str, str], bytes]
            self._acquire()
            held = False
            try:
                try:
                    resp = pool.request(plan.method, plan.url, body=req.body,
                                        headers=plan.headers, preload_content=False,
                                        redirect=False, retries=False, timeout=timeout)
                except (urllib3.exceptions.HTTPError, OSError) as exc:
                    outcome = _failure(exc)
                else:
                    if resp.status < 300:
                        plan.succeeded()
                        held = True
                        return resp
                    outcome = (resp.status, resp.headers, _read_quietly(resp))
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
        import urllib3

        resp = self._exchange(req)
        try:
            body = resp.read()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            f = _failure(exc, sent=True)
            cls = APITimeoutError if f.timeout else APIConnectionError
            raise cls(f"the answer was cut off: {f}; not retried, since the request may "
                      f"already be billed") from None
        finally:
            resp.release_conn()
            self._release()
        return decode(resp.status, resp.headers, body)

    def _open_stream(self, req: Request) -> Stream:
        import urllib3

        resp = self._exchange(req)
        headers = lower_headers(resp.headers.items())
        errors = (urllib3.exceptions.HTTPError, OSError)
        read1 = resp.read1

        def read() -> bytes:
            try:
                return read1(_READ_SIZE)
            except errors as exc:
                raise _failure(exc, sent=True) from None

        def close(reusable: bool) -> None:
            try:
                if not reusable:
                    resp.close()
                resp.release_conn()
            finally:
                self._release()

        return Stream(read, close, self._core.stream_core(headers), headers)


def _read_quietly(resp: Any) -> bytes:
    """The body of an error answer; what could not be read is left out."""
    try:
        return resp.read()  # type: ignore[no-any-return]
    except Exception:
        return b""
    finally:
        resp.release_conn()
