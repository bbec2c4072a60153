"""``NanoGPT``: the blocking client. A thin shell that moves bytes (``http``, on http.client).

The connection pool and the concurrency slots belong to one process: in a forked child (gunicorn
``--preload``, celery prefork, multiprocessing) the first call makes new ones, so the child
never reads from the parent's sockets nor waits for slots its parent's threads took. A stream
open at the fork stays the parent's: read in the child, it raises ``StreamError``.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from .._core.client import ClientBase, Request, lower_headers
from .._core.errors import APIResponseValidationError
from .._core.plan import CallPlan, Outcome
from .._core.transport import TransportFailure
from .._core.types import Balance
from .._resources import Chat, Models
from .._slots import ThreadSlots, fork_generation
from .stream import ResponseBody, Stream

if TYPE_CHECKING:
    from .._account import Messages, Subscription
    from .._audio import Audio
    from .._core.account import DateLike, GroupBy, UsageReport
    from .._embeddings import Embeddings
    from .._images import Images
    from .._web import Web
    from .http import ConnectionPool, Response

__all__ = ["NanoGPT"]

T = TypeVar("T")
Slot = tuple[ThreadSlots, threading.Thread] | None  # the slots a call took one from, and its owner


def _free(slot: Slot) -> None:
    if slot is not None:
        slot[0].release(slot[1])


class NanoGPT(ClientBase):
    """The NanoGPT client.

    >>> client = NanoGPT()                       # key from NANOGPT_API_KEY
    >>> r = client.chat.completions.create(model="openai/gpt-5-mini",
    ...                                    messages=[{"role": "user", "content": "Hi"}])
    >>> r.choices[0].message.content, r.cost

    Safe to share between threads; at most ``max_concurrency`` requests are in flight at once.
    A thread that already holds every slot (its earlier streams still open) gets
    ``ConcurrencyDeadlockError`` instead of waiting forever.
    """

    _shared: Transport

    def _start_shell(self, shared: Transport | None) -> None:
        self._shared = shared or Transport(self._core.max_concurrency)
        self.chat = Chat(self)
        self.models = Models(self)
        from .._batches import sync_namespaces

        self.files, self.batches = sync_namespaces(self)

    @property
    def _slots(self) -> ThreadSlots | None:
        return self._shared.slots

    # namespaces made on first use (their modules are imported then: chat-only code never
    # pays for them; a copy from with_options/with_raw_response makes its own) ------------

    @functools.cached_property
    def embeddings(self) -> Embeddings:
        """``client.embeddings``: ``create(model=..., input=...)`` and ``models()``."""
        from .._embeddings import Embeddings

        return Embeddings(self)

    @functools.cached_property
    def images(self) -> Images:
        """``client.images``: ``generate(...)``, ``edit(...)`` and ``models()``."""
        from .._images import Images

        return Images(self)

    @functools.cached_property
    def audio(self) -> Audio:
        """``client.audio``: ``speech``, ``transcriptions`` and ``models(type)``."""
        from .._audio import Audio

        return Audio(self)

    @functools.cached_property
    def subscription(self) -> Subscription:
        """``client.subscription.usage()``: quotas, used and remaining, reset times."""
        from .._account import Subscription

        return Subscription(self)

    @functools.cached_property
    def messages(self) -> Messages:
        """``client.messages.count_tokens(...)``: input tokens of a request, before sending."""
        from .._account import Messages

        return Messages(self)

    @functools.cached_property
    def web(self) -> Web:
        """``client.web.search(...)``: NanoGPT's web search."""
        from .._web import Web

        return Web(self)

    # public ---------------------------------------------------------------------------------

    def usage(self, from_: DateLike | None = None, to: DateLike | None = None, *,
              group_by: GroupBy | None = None,
              api_key_id: int | str | None = None) -> UsageReport:
        """What this key spent, by UTC day and/or model (``GET /api/v1/usage``): requests,
        tokens and cost (``Decimal``). ``from_``/``to`` are dates, datetimes or ISO strings,
        sent as UTC ``YYYY-MM-DD`` (both included; with one given the other is filled, with
        none the service's last 30 days); ``group_by`` is ``"day"``, ``"model"`` or
        ``"day,model"`` (the service's default)."""
        from .._account import sync_usage

        return sync_usage(self, from_, to, group_by, api_key_id)

    def balance(self) -> Balance:
        """The account balance in USD, as a ``Decimal`` (``.nano_balance`` too)."""
        return self._call(self._core.balance_request(), self._core.decode_balance)

    def close(self) -> None:
        """Close pooled connections (shared with the copies ``with_options`` made). The
        client may still be used afterwards."""
        self._shared.close()

    def __enter__(self) -> NanoGPT:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # the shell ------------------------------------------------------------------------------

    def _exchange(self, req: Request) -> tuple[Response, Slot, CallPlan]:
        """Send under the retry plan; returns a 2xx response, its concurrency slot (held: give
        it back with ``_free``) and the plan (its deadlines)."""
        shared = self._shared
        if shared.generation != fork_generation():
            shared.after_fork()
        plan = self._core.plan(req)
        pool = shared.pool()
        slots = shared.slots
        limit = self._core.max_response_bytes
        limits = req.limits
        while True:
            outcome: Outcome
            # waiting for a slot counts against `total`
            slot = (slots, slots.acquire(plan.bound(None))) if slots is not None else None
            held = False
            try:
                try:
                    # non-streamed: `read` bounds the whole attempt; a stream: `first_event`
                    # (and `total`) its head, then `idle` each silence
                    deadline = plan.attempt_deadline(limits.head)
                    resp = pool.request(plan.method, plan.url, body=plan.body,
                                        headers=plan.headers,
                                        connect_timeout=plan.bound(limits.connect),
                                        read_timeout=plan.bound(limits.each_read),
                                        deadline=deadline,
                                        proxy=self._core.proxies.for_url(plan.url))
                except TransportFailure as f:
                    outcome = f
                else:
                    if resp.status < 300:
                        plan.succeeded()
                        held = True
                        return resp, slot, plan
                    if req.stream:  # an error body is read whole: bounded like any other
                        resp.rearm(plan.attempt_deadline(limits.body))
                    try:
                        body = resp.read(limit)[:limit]
                    except TransportFailure:
                        body = b""  # the status says enough
                    outcome = (resp.status, resp.headers, body)
            finally:
                if not held:
                    _free(slot)
            delay = plan.after(outcome)
            if delay:
                time.sleep(delay)

    def _read_answer(self, resp: Response, slot: Slot) -> bytes:
        """The body of a 2xx answer (never retried once it started); frees the slot."""
        try:
            body = resp.read(self._core.max_response_bytes)
        except TransportFailure as f:
            raise self._core.answer_cut(f) from None
        finally:
            _free(slot)
        self._core.refuse_coded(resp.status, resp.headers)
        return self._core.check_size(resp.status, resp.headers, body)

    def _call(self, req: Request, decode: Callable[[int, Mapping[str, str], bytes], T]) -> T:
        resp, slot, _ = self._exchange(req)
        body = self._read_answer(resp, slot)
        return self._deliver(decode, resp.status, resp.headers, body)

    def _open_stream(self, req: Request) -> Stream:
        resp, slot, plan = self._exchange(req)
        headers = lower_headers(resp.headers.items())
        if self._core.answered_with_json(headers):  # a whole body: bounded like any other
            resp.rearm(plan.attempt_deadline(req.limits.body))
            raise self._core.not_a_stream(resp.status, headers, self._read_answer(resp, slot))
        interrupted = self._core.stream_core(headers).interrupted
        body = self._body_as_it_comes(req, resp, slot, "stream", interrupted,
                                      refuse=functools.partial(self._refuse_coded_stream,
                                                               resp.status, headers,
                                                               interrupted))
        stream = Stream(body, self._core.stream_core(headers, req.timeout), headers)
        return self._deliver_stream(resp.status, headers, stream)

    def _refuse_coded_stream(self, status: int, headers: Mapping[str, str],
                             interrupted: Callable[[TransportFailure], Exception]) -> None:
        """A coded stream is refused as the async client refuses a coding it cannot decode
        (a ``StreamError`` naming it), rather than its bytes read as events."""
        try:
            self._core.refuse_coded(status, headers)
        except APIResponseValidationError as e:
            raise interrupted(TransportFailure(str(e), sent=True)) from None

    def _open_body(self, req: Request) -> tuple[int, dict[str, str], ResponseBody]:
        """A 2xx answer whose body is read as it comes (a binary stream, not events): its
        status, headers and stream body (which holds the connection and the slot)."""
        resp, slot, _ = self._exchange(req)
        headers = lower_headers(resp.headers.items())
        body = self._body_as_it_comes(req, resp, slot, "body", self._core.answer_cut,
                                      refuse=functools.partial(self._core.refuse_coded,
                                                               resp.status, headers))
        return resp.status, headers, body

    def _body_as_it_comes(self, req: Request, resp: Response, slot: Slot, what: str,
                          cut: Callable[[TransportFailure], Exception],
                          refuse: Callable[[], None] | None = None) -> ResponseBody:
        """The body of a 2xx answer, read as it comes (events or audio); it holds the
        connection and the slot until closed. ``refuse`` may turn the answer down first;
        ``total`` ends where the body starts, and when it ran out just before, ``cut`` makes
        the error: the 2xx head had come, so the answer had started (it may be billed) and
        is never retried. Either way the connection and the slot go back."""
        try:
            if refuse is not None:
                refuse()
            if not resp.streaming(req.limits.each_read):
                raise cut(TransportFailure(f"the total timeout ran out as the {what} started",
                                           sent=True, timeout=True))
        except BaseException:
            resp.release(reusable=False)
            _free(slot)
            raise
        return ResponseBody(resp, functools.partial(_free, slot))


class Transport:
    """What a client and the copies ``with_options`` makes of it share: the connection pool
    (made on first use), the concurrency slots, and the process they belong to."""

    def __init__(self, max_concurrency: int | None) -> None:
        self.max_concurrency = max_concurrency
        self.http: ConnectionPool | None = None
        self._start_process()

    def _start_process(self) -> None:
        """What belongs to this process: the slots, the pool's lock (and then the pool)."""
        n = self.max_concurrency
        self.slots = ThreadSlots(n) if n else None
        self.lock = threading.Lock()
        self.generation = fork_generation()

    def after_fork(self) -> None:
        """In a forked child: the parent's sockets, slots and locks are not this process's."""
        if self.generation == fork_generation():
            return  # another thread of this child was first
        old, self.http = self.http, None
        if old is not None and old.generation != fork_generation():
            old.forget()
        self._start_process()

    def pool(self) -> ConnectionPool:
        http = self.http
        if http is None:
            with self.lock:
                if self.http is None:
                    from .http import ConnectionPool

                    self.http = ConnectionPool(maxsize=self.max_concurrency or 64)
                http = self.http
        return http

    def close(self) -> None:
        http, self.http = self.http, None
        if http is not None:
            http.close()
