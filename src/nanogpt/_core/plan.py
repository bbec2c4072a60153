"""One request's life: retries, backoff, Retry-After, failover, redirects. No I/O.

A shell (sync or async) asks the plan where to send, sends, and reports what happened:

    plan = CallPlan(...)
    while True:
        try:
            response = send(plan.method, plan.url, plan.headers, plan.body)
        except TransportFailure as failure:
            sleep(plan.after_failure(failure))     # raises when the call must end
            continue
        if response.status < 300:
            return response                        # the answer has started: no retry after this
        sleep(plan.after_status(status, headers, body))  # raises when the call must end

Money rules held here:
* a status is retried only before any answer byte, and only when it is in the call's set: for a
  call that may be billed (a chat POST) ``RetryPolicy.statuses``, by default 408, 429 and 503,
  the answers that mean "not processed"; 500, 502 and 504 are not, since the model may have run
  behind them (a gateway timeout whose origin got the POST). Read-only calls (model lists, the
  balance) also retry 500, 502 and 504;
* a connection failure is retried only when the request never left (connect failed), or when the
  call is idempotent (a GET, or a read-only POST such as the balance);
* a Retry-After longer than ``max_retry_after`` (the daily-limit 429 runs to midnight UTC) is not
  slept on: the error is raised at once with ``retry_after`` set;
* a POST is never re-sent to follow a 301/302/303 redirect; a redirect to another host goes
  without any credential-bearing header (``_redact.is_credential_header``).

Compressed bodies: a call whose client compresses request bodies (``compression``) sends the
body gzip-compressed when it is large enough and the host has not refused that before. A 415
answer to a compressed body means it was not processed: the same request goes again at once,
uncompressed, not counted as a retry (so also with ``max_retries=0``), and the host is
remembered as refusing (``compression.RequestCompression``). The shell sends ``plan.body`` with
``plan.headers``, which say how it is coded.

Failover: every connection failure (but a read timeout) and every 502, 503 or 504 marks the
host as failed, whether or not the call goes on, so that the next calls go elsewhere for
``cooldown`` seconds. When the request was certainly not processed (the connection failed before
it left, or the host answered a retryable 502/503/504) and another base URL is healthy and not yet
tried in this call, the call moves there at once: no sleep on the sick host's Retry-After (it
speaks for that host only), and it is not counted as a retry, so it happens with
``max_retries=0`` too. Each host is tried at most once that way per call; after that, ordinary
retries (counted, with their waits) take over.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import urljoin, urlsplit, urlunsplit

from . import deadlines
from .compression import ENCODING, REFUSED_STATUS, RequestCompression
from .config import is_loopback
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InvalidParameterError,
    ProxyError,
    error_from_response,
)
from .redact import is_credential_header
from .transport import TransportFailure

__all__ = ["CallPlan", "HostPool", "Outcome", "RetryPolicy", "parse_retry_after"]

# how an attempt that got no 2xx ended: the transport failed, or an answer came
# (status, headers, body)
Outcome = TransportFailure | tuple[int, Mapping[str, str], bytes]

log = logging.getLogger("nanogpt")

# retried for calls that may be billed: the statuses that mean "not processed"
DEFAULT_RETRY_STATUSES = frozenset({408, 429, 503})
# retried for idempotent calls (model lists, the balance): also the ones that may hide a run
IDEMPOTENT_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
FAILOVER_STATUSES = frozenset({502, 503, 504})
# what retry_statuses may hold: never a status that says the request itself is wrong
_RETRYABLE_AT_ALL = frozenset({408, 425, 429, *range(500, 600)})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class RetryPolicy:
    """How a client retries. ``statuses``: the statuses retried for a call that may be billed
    (see the module docstring); idempotent calls retry those and ``IDEMPOTENT_RETRY_STATUSES``."""

    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    statuses: frozenset[int] = DEFAULT_RETRY_STATUSES

    def retries_status(self, status: int, idempotent: bool) -> bool:
        return status in self.statuses or (idempotent and status in IDEMPOTENT_RETRY_STATUSES)

    def backoff(self, retry_number: int, rand: float) -> float:
        """Exponential backoff with jitter: half fixed, half random."""
        d: float = min(self.max_delay, self.base_delay * 2.0 ** retry_number)
        return d * (0.5 + rand / 2)


def retry_statuses(value: Iterable[int] | None) -> frozenset[int]:
    """The ``retry_statuses`` client setting, checked (``None``: the default)."""
    if value is None:
        return DEFAULT_RETRY_STATUSES
    try:
        if isinstance(value, (str, bytes, int)):
            raise TypeError
        out = frozenset(value)
    except TypeError:  # not iterable, or holds unhashable things
        raise InvalidParameterError("retry_statuses",
                                    "must be a collection of status codes") from None
    bad = sorted(str(v) for v in out if isinstance(v, bool) or not isinstance(v, int)
                 or v not in _RETRYABLE_AT_ALL)
    if bad:
        raise InvalidParameterError(
            "retry_statuses", f"may hold only 408, 425, 429 and 5xx statuses, got "
                              f"{', '.join(bad)} (a 4xx says the request itself is refused)")
    return out


def parse_retry_after(headers: Mapping[str, str], now: Callable[[], float] = time.time
                      ) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``Retry-After`` in seconds or as an HTTP date."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            v = float(ms) / 1000.0
            if v >= 0 and v == v:
                return v
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if ra is None:
        return None
    ra = ra.strip()
    try:
        v = float(ra)
        return v if v >= 0 and v == v else None
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(ra)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now())


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return (parts.scheme, parts.netloc.lower())


class HostPool:
    """The base URLs of one client, in order, with a short memory of which just failed."""

    def __init__(self, base_urls: list[str], *, cooldown: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.base_urls = base_urls
        self.cooldown = cooldown
        self._clock = clock
        self._failed_at: dict[str, float] = {}

    def pick(self, avoid: frozenset[str] | set[str] = frozenset()) -> str:
        """The first healthy base URL not in ``avoid``; if none, the one that failed longest ago."""
        now = self._clock()
        candidates = [b for b in self.base_urls if b not in avoid] or self.base_urls
        for base in candidates:
            t = self._failed_at.get(base)
            if t is None or now - t >= self.cooldown:
                return base
        return min(candidates, key=lambda b: self._failed_at.get(b, 0.0))

    def healthy(self, avoid: frozenset[str] | set[str]) -> str | None:
        """The first base URL not in ``avoid`` that has not failed lately, or None."""
        now = self._clock()
        for base in self.base_urls:
            if base not in avoid:
                t = self._failed_at.get(base)
                if t is None or now - t >= self.cooldown:
                    return base
        return None

    def mark_failed(self, base: str) -> None:
        self._failed_at[base] = self._clock()

    def mark_ok(self, base: str) -> None:
        self._failed_at.pop(base, None)


class CallPlan:
    """The decisions for one call. See the module docstring for how a shell drives it."""

    def __init__(self, *, method: str, path: str, headers: dict[str, str], pool: HostPool,
                 policy: RetryPolicy, idempotent: bool, api_root: bool = False,
                 allow_insecure_http: bool = False, total: float | None = None,
                 body: bytes | None = None, compression: RequestCompression | None = None,
                 rand: Callable[[], float] = random.random,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.method = method
        self.path = path
        self.headers = self._headers = headers
        self.allow_insecure_http = allow_insecure_http
        self._clock = clock
        self.deadline = deadlines.call_deadline(total, clock())  # of `total`, or None
        self.pool = pool
        self.policy = policy
        self.idempotent = idempotent
        self.api_root = api_root
        self.retries = 0
        self.redirects = 0
        self._rand = rand
        self._tried: set[str] = set()
        self._plain_body = self.body = body
        self._compression = compression
        self._packed: bytes | None = None  # the compressed body, made once per call
        self.compressed = False  # whether this attempt's body is compressed
        self.base = pool.pick()
        self.url = self._url_for(self.base)
        self._code_body()

    def _url_for(self, base: str) -> str:
        if self.api_root:
            return api_root(base) + self.path
        return base + self.path

    def remaining(self) -> float | None:
        """Seconds left of the total timeout (``None``: no total)."""
        return deadlines.shortened(None, self.deadline, self._clock())

    def bound(self, limit: float | None) -> float | None:
        """``limit`` shortened to what is left of the total timeout; raises once none is."""
        if self.deadline is None:
            return limit
        now = self._clock()
        if self.deadline <= now:
            raise APITimeoutError(f"the total timeout ran out ({self._where()})", url=self.url)
        return deadlines.shortened(limit, self.deadline, now)

    def attempt_deadline(self, limit: float | None) -> float | None:
        """When this attempt must be over (``clock()`` time): ``limit`` from now, or the end
        of the total timeout if sooner. ``None``: no bound."""
        return deadlines.attempt_deadline(limit, self.deadline, self._clock())

    def _where(self) -> str:
        """``POST <url>`` for an error message; a fallback host is said to be one (the user
        may never have typed it, nor heard of it)."""
        primary = self.pool.base_urls[0]
        if self.base == primary:
            return f"{self.method} {self.url}"
        return f"{self.method} {self.url}: a fallback host, tried after {primary} failed"

    def _out_of_time(self, delay: float) -> bool:
        left = self.remaining()
        return left is not None and delay >= left

    def succeeded(self) -> None:
        self.pool.mark_ok(self.base)

    def _host_failed(self) -> None:
        """The host of this attempt looks sick: remember it (a redirect target's failure says
        nothing of the base URL)."""
        if not self.redirects:
            self.pool.mark_failed(self.base)
            self._tried.add(self.base)

    def _fail_over(self) -> bool:
        """Move to a healthy base URL not yet tried in this call, if there is one. Not a retry:
        only called when the request was certainly not processed."""
        if self.redirects:
            return False
        base = self.pool.healthy(avoid=self._tried | {self.base})
        if base is None:
            return False
        self._start(base)
        return True

    def _next_attempt(self, *, failover: bool) -> None:
        """A retry (counted): from the same base URL, or the next one on failover."""
        self.retries += 1
        base = self.base
        if failover and not self.redirects:
            base = self.pool.pick(avoid=self._tried | {self.base})
        self._start(base)

    def _start(self, base: str) -> None:
        self.base = base
        self.redirects = 0
        self.headers = self._headers
        self.url = self._url_for(base)
        self._code_body()

    def _code_body(self) -> None:
        """This attempt's body and headers: compressed when the call compresses and the
        host has not refused it, else the plain body."""
        self.body, self.compressed = self._plain_body, False
        comp = self._compression
        if comp is None or not comp.wanted(self._plain_body, self.url):
            return
        if self._packed is None:
            assert self._plain_body is not None
            self._packed = comp.compressed(self._plain_body) or b""
        if self._packed:  # b"": compressing did not make it smaller
            self.body, self.compressed = self._packed, True
            self.headers = {**self.headers, "content-encoding": ENCODING}

    def _send_plain(self) -> float:
        """A 415 to the compressed body: it was not processed. Remember that this host
        refuses compressed bodies and send the same request plain, now; not a retry."""
        assert self._compression is not None
        self._compression.refused(self.url)
        if self.redirects:  # calls to this base URL end up there: send them plain too
            self._compression.refused(self.base)
        self.body, self.compressed = self._plain_body, False
        self.headers = {k: v for k, v in self.headers.items() if k != "content-encoding"}
        log.debug("%s %s refused a compressed body (415); sending it uncompressed",
                  self.method, self.url)
        return 0.0

    def after(self, outcome: Outcome) -> float:
        """An attempt ended without a 2xx. Returns the delay before the next attempt (the
        shell sleeps it, then sends again), or raises the error to give the caller."""
        if isinstance(outcome, TransportFailure):
            return self.after_failure(outcome)
        return self.after_status(*outcome)

    def after_failure(self, failure: TransportFailure) -> float:
        """The connection failed. Returns the delay before the next attempt, or raises."""
        status = failure.proxy_status
        if status is not None and status not in FAILOVER_STATUSES:
            # the proxy refuses us: it would refuse every host and every retry alike
            raise ProxyError(f"{failure} ({self._where()}); not retried", url=self.url,
                             status_code=status) from None
        cls = APITimeoutError if failure.timeout else APIConnectionError
        error = cls(f"{failure} ({self._where()})", url=self.url)
        if not (failure.sent and failure.timeout):  # a slow answer says little of the host
            self._host_failed()
        failed = self.url
        if not failure.sent and self._fail_over():
            log.debug("%s %s failed (%s); failing over to %s", self.method, failed, failure,
                      self.url)
            return 0.0
        may_retry = not failure.sent or self.idempotent
        delay = self.policy.backoff(self.retries, self._rand())
        if not may_retry or self.retries >= self.policy.max_retries or self._out_of_time(delay):
            if not may_retry:
                error.args = (f"{error.args[0]}; not retried: the request had been sent, and "
                              f"re-sending it could be billed twice",)
            # the failure's traceback runs through the transport's frames: not worth showing
            raise error from failure.with_traceback(None)
        self._next_attempt(failover=True)
        log.debug("retry %d/%d of %s %s in %.2fs after %s; next %s", self.retries,
                  self.policy.max_retries, self.method, failed, delay, failure, self.url)
        return delay

    def after_status(self, status: int, headers: Mapping[str, str], body: bytes) -> float:
        """The server answered ``status`` (not 2xx). Returns a delay before retrying, or raises.

        ``headers`` must be a case-insensitive mapping or have lower-case keys.
        """
        if status == REFUSED_STATUS and self.compressed:
            return self._send_plain()
        if status in REDIRECT_STATUSES and headers.get("location"):
            return self._redirect(status, headers["location"], headers, body)
        if status == 407:  # only a proxy asks this (a plain-http request sent through one)
            raise ProxyError(f"a proxy asked for credentials (407 Proxy Authentication "
                             f"Required) for {self._where()}: put user:password@ in the "
                             f"proxy URL; not retried", url=self.url, status_code=407)
        retry_after = parse_retry_after(headers) if status in (408, 429, 503) else None
        retryable = self.policy.retries_status(status, self.idempotent)
        if status in FAILOVER_STATUSES:
            self._host_failed()  # also when the call ends here: the next calls go elsewhere
            failed = self.url
            if retryable and self._fail_over():  # its Retry-After speaks for that host only
                log.debug("%s %s answered %d; failing over to %s", self.method, failed, status,
                          self.url)
                return 0.0
        if not retryable:
            self._give_up(status, headers, body, retry_after)
        if retry_after is not None and retry_after > self.policy.max_retry_after:
            self._give_up(status, headers, body, retry_after)
        if self.retries >= self.policy.max_retries:
            self._give_up(status, headers, body, retry_after)
        if retry_after is not None:
            delay = retry_after
        else:
            delay = self.policy.backoff(self.retries, self._rand())
        if self._out_of_time(delay):
            self._give_up(status, headers, body, retry_after)
        failed = self.url
        self._next_attempt(failover=status in FAILOVER_STATUSES)
        log.debug("retry %d/%d of %s %s in %.2fs after HTTP %d; next %s", self.retries,
                  self.policy.max_retries, self.method, failed, delay, status, self.url)
        return delay

    def _give_up(self, status: int, headers: Mapping[str, str], body: bytes,
                 retry_after: float | None) -> NoReturn:
        raise error_from_response(status, headers, body, retry_after=retry_after,
                                  base_url=self.base)

    def _redirect(self, status: int, location: str, headers: Mapping[str, str],
                  body: bytes) -> float:
        target = _redirect_target(self.url, location)
        if target is None:
            raise APIStatusError(
                f"the server redirected to an invalid URL ({len(location)} characters; not "
                f"shown, nor followed)", status_code=status,
                request_id=headers.get("x-request-id"), headers=headers)
        if self.method != "GET" and status in (301, 302, 303):
            raise APIStatusError(
                f"the server redirected a {self.method} with {status} to {target}; "
                f"not followed, since that would re-send a request that may be billed",
                status_code=status, body=body.decode("utf-8", "replace"),
                request_id=headers.get("x-request-id"), headers=headers)
        if self.redirects >= MAX_REDIRECTS:
            raise APIStatusError(f"too many redirects (last to {target})", status_code=status,
                                 request_id=headers.get("x-request-id"), headers=headers)
        self.redirects += 1
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise APIStatusError(f"redirect to an unsupported URL: {target}", status_code=status,
                                 headers=headers)
        if parts.scheme == "http" and not self.allow_insecure_http and not is_loopback(
                parts.hostname):
            raise APIStatusError(f"refused to follow a redirect to plain http ({target}): the "
                                 f"request would travel unencrypted", status_code=status,
                                 headers=headers)
        if _origin(target) != _origin(self.url):
            # never hand the key, or any other credential (a proxy token, a cookie, a custom
            # token header from default_headers or extra_headers), to another host
            self.headers = {k: v for k, v in self.headers.items()
                            if not is_credential_header(k)}
        self.url = target
        return 0.0


def _redirect_target(base: str, location: str) -> str | None:
    """Where a redirect leads, or None when ``location`` is no URL to send to: not ASCII,
    spaces or control characters, a broken host or port (``urlsplit`` and ``.port`` raise a
    bare ``ValueError`` for those). A ``user:password@`` the server put in it is dropped: it
    would be echoed in errors and logs, and aiohttp would send it as Basic credentials."""
    if not location.isascii() or any(c <= " " or c == "\x7f" for c in location):
        return None
    try:
        parts = urlsplit(urljoin(base, location))
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        return None
    if "@" in parts.netloc:
        parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
    return urlunsplit(parts)


def api_root(base_url: str) -> str:
    """Where the non-``/v1`` endpoints live (balance, the other model lists):
    ``https://nano-gpt.com/api/v1`` (or ``/api/v1legacy``, ``/api/subscription/v1``) ->
    ``https://nano-gpt.com/api``."""
    parts = urlsplit(base_url)
    path = parts.path
    i = path.find("/api/")
    prefix = path[:i + 4] if i >= 0 else (path if path.endswith("/api") else "/api")
    return f"{parts.scheme}://{parts.netloc}{prefix}"
