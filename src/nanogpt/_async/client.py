"""``AsyncNanoGPT``: the asyncio client. A thin shell that moves bytes with aiohttp.

aiohttp is chosen by measurement (about 14x the ``openai`` SDK's async throughput at 50
concurrent requests) and imported on first use. The session and the concurrency slots belong to
one event loop (``_async.session``: made per loop, per forked child, and released when nobody
closed them); every use of an aiohttp private attribute is in ``_async.aiohttp_private``.

Bodies are taken from aiohttp undecoded (``auto_decompress=False``) and the session asks for
``identity``: a coded body is decoded in ``body`` (with the core's ``decompress``), never
beyond ``max_response_bytes``; streams are ``stream.AsyncStream``. aiohttp's exceptions are
never put in our messages by ``repr`` (it shows every request header); credential headers
reach it masked besides (the core masks them when it builds a request: ``redact``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from .._core.client import ClientBase, Request, lower_headers
from .._core.decompress import UndecodableBody, decoder_for
from .._core.errors import APIResponseValidationError
from .._core.plan import CallPlan, Outcome
from .._core.results import AsyncRawResponse
from .._core.transport import TransportFailure
from .._core.types import Balance
from .._resources import AsyncChat, AsyncModels
from .body import (
    body_had_started,
    connection_errors,
    error_body,
    failure,
    read_limited,
    until,
    watch_body,
)
from .session import LoopSession, loop_session
from .stream import AsyncStream, ResponseBody, body_of

if TYPE_CHECKING:
    import aiohttp

    from .._account import AsyncMessages, AsyncSubscription
    from .._audio import AsyncAudio
    from .._core.account import DateLike, GroupBy, UsageReport
    from .._embeddings import AsyncEmbeddings
    from .._images import AsyncImages
    from .._web import AsyncWeb


__all__ = ["AsyncNanoGPT"]

T = TypeVar("T")


class AsyncNanoGPT(ClientBase):
    """The asyncio NanoGPT client; same arguments and namespaces as :class:`~nanogpt.NanoGPT`.

    >>> async with AsyncNanoGPT() as client:
    ...     r = await client.chat.completions.create(model="openai/gpt-5-mini",
    ...                                              messages=[{"role": "user", "content": "Hi"}])
    """

    _raw_type = AsyncRawResponse
    _shared: SharedSession

    def _start_shell(self, shared: SharedSession | None) -> None:
        self._shared = shared or SharedSession()
        self.chat = AsyncChat(self)
        self.models = AsyncModels(self)
        from .._batches import async_namespaces

        self.files, self.batches = async_namespaces(self)

    # namespaces made on first use (their modules are imported then: chat-only code never
    # pays for them; a copy from with_options/with_raw_response makes its own) ------------

    @functools.cached_property
    def embeddings(self) -> AsyncEmbeddings:
        """``client.embeddings``: ``create(model=..., input=...)`` and ``models()``."""
        from .._embeddings import AsyncEmbeddings

        return AsyncEmbeddings(self)

    @functools.cached_property
    def images(self) -> AsyncImages:
        """``client.images``: ``generate(...)``, ``edit(...)`` and ``models()``."""
        from .._images import AsyncImages

        return AsyncImages(self)

    @functools.cached_property
    def audio(self) -> AsyncAudio:
        """``client.audio``: ``speech``, ``transcriptions`` and ``models(type)``."""
        from .._audio import AsyncAudio

        return AsyncAudio(self)

    @functools.cached_property
    def subscription(self) -> AsyncSubscription:
        """``client.subscription.usage()``: quotas, used and remaining, reset times."""
        from .._account import AsyncSubscription

        return AsyncSubscription(self)

    @functools.cached_property
    def messages(self) -> AsyncMessages:
        """``client.messages.count_tokens(...)``: input tokens of a request, before sending."""
        from .._account import AsyncMessages

        return AsyncMessages(self)

    @functools.cached_property
    def web(self) -> AsyncWeb:
        """``client.web.search(...)``: NanoGPT's web search."""
        from .._web import AsyncWeb

        return AsyncWeb(self)

    # public ---------------------------------------------------------------------------------

    async def usage(self, from_: DateLike | None = None, to: DateLike | None = None, *,
                    group_by: GroupBy | None = None,
                    api_key_id: int | str | None = None) -> UsageReport:
        """What this key spent, by UTC day and/or model (``GET /api/v1/usage``): requests,
        tokens and cost (``Decimal``). ``from_``/``to`` are dates, datetimes or ISO strings,
        sent as UTC ``YYYY-MM-DD`` (both included; with one given the other is filled, with
        none the service's last 30 days); ``group_by`` is ``"day"``, ``"model"`` or
        ``"day,model"`` (the service's default)."""
        from .._account import async_usage

        return await async_usage(self, from_, to, group_by, api_key_id)

    async def balance(self) -> Balance:
        """The account balance in USD, as a ``Decimal`` (``.nano_balance`` too)."""
        return await self._call(self._core.balance_request(), self._core.decode_balance)

    @property
    def _state(self) -> LoopSession | None:
        return self._shared.state

    @_state.setter
    def _state(self, state: LoopSession | None) -> None:
        self._shared.state = state

    async def close(self) -> None:
        """Close pooled connections (shared with the copies ``with_options`` made). The
        client may still be used afterwards."""
        state, self._state = self._state, None
        if state is not None:
            await state.close()

    async def __aenter__(self) -> AsyncNanoGPT:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # the shell ------------------------------------------------------------------------------

    def _loop_state(self) -> LoopSession:
        state = self._state = loop_session(self._state, self._core.max_concurrency)
        return state

    async def _exchange(self, req: Request
                        ) -> tuple[aiohttp.ClientResponse, LoopSession, CallPlan]:
        """Send under the retry plan; returns a 2xx response whose concurrency slot is held."""

        state = self._loop_state()
        plan = self._core.plan(req)
        limit = self._core.max_response_bytes
        limits = req.limits
        timeout = _client_timeout(limits.connect, limits.each_read, req.stream)
        slots = state.slots
        while True:
            outcome: Outcome
            left = plan.bound(None)  # what is left of the total timeout; raises when none
            if slots is not None:  # waiting for a slot counts against `total`
                await slots.acquire(left)
            held = False
            try:
                try:
                    # until the head: a whole answer's attempt, head included, is under
                    # aiohttp's own `read` timer (`_client_timeout`), so only `total` needs a
                    # timer of ours; a stream's head is bounded by `first_event` (each byte of
                    # a head or interim answer resets aiohttp's read timer), and `total`
                    left = plan.bound(limits.head if req.stream else None)
                    # an error body gets what is left of `read` from the send (and of
                    # `total`), for a stream request too: a trickled body never goes idle
                    body_by = plan.attempt_deadline(limits.body)
                    proxy = self._core.proxies.for_url(plan.url)
                    headers = plan.headers if proxy is None else proxy.request_headers(
                        plan.url, plan.headers)
                    sending = state.session.request(
                        plan.method, plan.url, data=plan.body, headers=headers,
                        allow_redirects=False, timeout=timeout,
                        proxy=proxy.url if proxy is not None else None,
                        proxy_headers=proxy.headers() if proxy is not None else None)
                    resp = await (asyncio.wait_for(sending, left) if left is not None
                                  else sending)
                except connection_errors() as exc:
                    outcome = failure(exc, proxy, plan.url)
                    if body_had_started(exc):
                        raise self._answer_cut(req, outcome) from None
                else:
                    if resp.status < 300:
                        plan.succeeded()
                        held = True
                        return resp, state, plan
                    outcome = (resp.status, resp.headers,
                               await error_body(resp, limit, until(body_by)))
            finally:
                if not held and slots is not None:
                    slots.release()
            delay = plan.after(outcome)
            if delay:
                await asyncio.sleep(delay)

    def _answer_cut(self, req: Request, cut: TransportFailure) -> Exception:
        """A 2xx whose body broke before any of it could be handed over."""
        if req.stream:
            return self._core.stream_core({}).interrupted(cut)
        return self._core.answer_cut(cut)

    async def _read_answer(self, resp: aiohttp.ClientResponse, state: LoopSession,
                           plan: CallPlan, read: float | None = None) -> bytes:
        """The body of a 2xx answer (never retried once it started); frees the slot. It must
        come within what is left of ``total`` and, when given, ``read`` seconds from now (a
        whole body answering a stream request, whose own timer only bounds each silence)."""

        watch = watch_body(resp)
        try:
            reading = read_limited(resp, self._core.max_response_bytes)
            left = until(plan.attempt_deadline(read))
            body = await (asyncio.wait_for(reading, left) if left is not None
                          else reading)
        except connection_errors() as exc:
            raise self._core.answer_cut(failure(exc)) from None
        except UndecodableBody as e:
            raise APIResponseValidationError(str(e), status_code=resp.status,
                                             request_id=resp.headers.get("x-request-id")
                                             ) from None
        finally:
            if watch is not None:
                watch.content = None
            resp.release()
            if state.slots is not None:
                state.slots.release()
        return self._core.check_size(resp.status, resp.headers, body)

    async def _call(self, req: Request,
                    decode: Callable[[int, Mapping[str, str], bytes], T]) -> T:
        resp, state, plan = await self._exchange(req)
        body = await self._read_answer(resp, state, plan)
        return self._deliver(decode, resp.status, resp.headers, body)

    async def _open_stream(self, req: Request) -> AsyncStream:
        resp, state, plan = await self._exchange(req)
        headers = lower_headers(resp.headers.items())
        if self._core.answered_with_json(headers):
            body = await self._read_answer(resp, state, plan, req.limits.body)
            raise self._core.not_a_stream(resp.status, headers, body)
        stream_body = self._body_as_it_comes(
            resp, state, headers, lambda f: self._core.stream_core(headers).interrupted(f))
        stream = AsyncStream(stream_body, self._core.stream_core(headers, req.timeout), headers)
        return self._deliver_stream(resp.status, headers, stream)


    async def _open_body(self, req: Request) -> tuple[int, dict[str, str], ResponseBody]:
        """A 2xx answer whose body is read as it comes (a binary stream, not events): its
        status, headers and stream body (which holds the connection and the slot)."""
        resp, state, _ = await self._exchange(req)
        headers = lower_headers(resp.headers.items())
        return resp.status, headers, self._body_as_it_comes(resp, state, headers,
                                                            self._core.answer_cut)

    @staticmethod
    def _body_as_it_comes(resp: aiohttp.ClientResponse, state: LoopSession,
                          headers: Mapping[str, str],
                          cut: Callable[[TransportFailure], Exception]) -> ResponseBody:
        """The body of a 2xx answer, read as it comes (events or audio), decoded when coded;
        it holds the connection and the slot (for the task that opened it, whoever closes)
        until closed. A coding that cannot be decoded gives both back, and ``cut`` makes the
        error: the answer had started (it may be billed), never retried."""
        owner = asyncio.current_task()
        try:
            decoder = decoder_for(headers.get("content-encoding"))
        except UndecodableBody as e:
            body_of(resp, None, state, owner).release(False)  # the one way a slot goes back
            raise cut(TransportFailure(str(e), sent=True)) from None
        return body_of(resp, decoder, state, owner)


class SharedSession:
    """What a client and the copies ``with_options`` makes of it share: the event loop's
    session (its connection pool) and concurrency slots (see ``session.loop_session``)."""

    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state: LoopSession | None = None


@functools.lru_cache(maxsize=64)
def _client_timeout(connect: float | None, read: float | None,
                    stream: bool) -> aiohttp.ClientTimeout:
    """A stream is bounded by silence between reads (``sock_read``); a non-streamed answer,
    which the service sends in one go, by one timer for the whole attempt (cheaper than
    re-arming a read timer for every packet). ``connect`` bounds the whole opening (TCP, a
    proxy's answer to ``CONNECT``, TLS: aiohttp's ``connect``; the pool never makes us wait,
    its limit is off), so a proxy trickling its answer cannot hold the call."""
    import aiohttp

    if stream:
        return aiohttp.ClientTimeout(total=None, connect=connect, sock_connect=connect,
                                     sock_read=read)
    return aiohttp.ClientTimeout(total=read, connect=connect, sock_connect=connect)
