"""``AsyncNanoGPT``: the asyncio client. A thin shell that moves bytes with aiohttp.

aiohttp is chosen by measurement (about 14x the ``openai`` SDK's async throughput at 50
concurrent requests) and imported on first use. The session and the concurrency semaphore belong
to one event loop; a client used from a new loop (``asyncio.run`` twice) makes new ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from ._client import ClientBase, Request, lower_headers
from ._errors import APITimeoutError
from ._plan import CallPlan, TransportFailure
from ._resources import AsyncChat, AsyncModels
from ._stream import DRAIN_TIMEOUT, AsyncStream
from ._types import Balance

if TYPE_CHECKING:
    import aiohttp


__all__ = ["AsyncNanoGPT"]

T = TypeVar("T")


def _failure(exc: BaseException) -> TransportFailure:
    """Classify an aiohttp/asyncio error: did the request leave, was it a timeout?"""
    import aiohttp

    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return TransportFailure(f"connect timed out: {exc}", sent=False, timeout=True)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return TransportFailure(f"could not connect: {exc}", sent=False)
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return TransportFailure("timed out waiting for the server", sent=True, timeout=True)
    return TransportFailure(f"connection broken: {exc!r}", sent=True)


class _LoopState:
    __slots__ = ("loop", "session", "slots")

    def __init__(self, loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession,
                 slots: asyncio.Semaphore | None) -> None:
        self.loop = loop
        self.session = session
        self.slots = slots


class AsyncNanoGPT(ClientBase):
    """The asyncio NanoGPT client; same arguments and namespaces as :class:`~nanogpt.NanoGPT`.

    >>> async with AsyncNanoGPT() as client:
    ...     r = await client.chat.completions.create(model="openai/gpt-5-mini",
    ...                                              messages=[{"role": "user", "content": "Hi"}])
    """

    def _start_shell(self) -> None:
        self._state: _LoopState | None = None
        self.chat = AsyncChat(self)
        self.models = AsyncModels(self)

    # public ---------------------------------------------------------------------------------

    async def balance(self) -> Balance:
        """The account balance in USD, as a ``Decimal`` (``.nano_balance`` too)."""
        return await self._call(self._core.balance_request(), self._core.decode_balance)

    async def close(self) -> None:
        """Close pooled connections. The client may still be used afterwards."""
        state, self._state = self._state, None
        if state is not None and not state.session.closed:
            await state.session.close()

    async def __aenter__(self) -> AsyncNanoGPT:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # the shell ------------------------------------------------------------------------------

    def _loop_state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._state
        if state is not None and state.loop is loop and not state.session.closed:
            return state
        if state is not None and state.loop is not loop:
            if state.loop.is_running():
                # two live loops would each get their own limit: refuse rather than exceed it
                raise RuntimeError(
                    "this AsyncNanoGPT is in use on another running event loop; create one "
                    "client per event loop (or per thread)")
            _abandon(state.session)  # its loop has ended (asyncio.run called again)
        import aiohttp

        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
        session = aiohttp.ClientSession(connector=connector, auto_decompress=True,
                                        skip_auto_headers=("User-Agent",))
        # aiohttp re-sends an idempotent request once on a dropped keep-alive connection; our
        # plan owns every retry (and counts it), so that is turned off where aiohttp allows it
        if hasattr(session, "_retry_connection"):
            session._retry_connection = False
        n = self._core.max_concurrency
        state = self._state = _LoopState(loop, session, asyncio.Semaphore(n) if n else None)
        return state

    async def _exchange(self, req: Request
                        ) -> tuple[aiohttp.ClientResponse, _LoopState, CallPlan]:
        """Send under the retry plan; returns a 2xx response whose concurrency slot is held."""
        import aiohttp

        state = self._loop_state()
        plan = self._core.plan(req)
        limit = self._core.max_response_bytes
        timeout = _client_timeout(req.timeout.connect, req.read_timeout, req.stream)
        slots = state.slots
        while True:
            outcome: TransportFailure | tuple[int, Mapping[str, str], bytes]
            left = plan.bound(None)  # what is left of the total timeout; raises when none
            if slots is not None:  # waiting for a slot counts against `total`
                try:
                    await (asyncio.wait_for(slots.acquire(), left) if left is not None
                           else slots.acquire())
                except asyncio.TimeoutError:
                    raise APITimeoutError("the total timeout ran out while waiting for a free "
                                          "concurrency slot (max_concurrency)") from None
            held = False
            try:
                try:
                    left = plan.bound(None)
                    sending = state.session.request(
                        plan.method, plan.url, data=req.body, headers=plan.headers,
                        allow_redirects=False, timeout=timeout)
                    resp = await (asyncio.wait_for(sending, left) if left is not None
                                  else sending)
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                    outcome = _failure(exc)
                else:
                    if resp.status < 300:
                        plan.succeeded()
                        held = True
                        return resp, state, plan
                    try:
                        reading = _read_limited(resp, limit)
                        left = plan.remaining()
                        body = (await (asyncio.wait_for(reading, max(left, 0.001))
                                       if left is not None else reading))[:limit]
                    except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                        body = b""  # the status says enough
                    finally:
                        resp.release()
                    outcome = (resp.status, resp.headers, body)
            finally:
                if not held and slots is not None:
                    slots.release()
            if isinstance(outcome, TransportFailure):
                delay = plan.after_failure(outcome)
            else:
                delay = plan.after_status(*outcome)
            if delay:
                await asyncio.sleep(delay)

    async def _read_answer(self, resp: aiohttp.ClientResponse, state: _LoopState,
                           plan: CallPlan) -> bytes:
        """The body of a 2xx answer (never retried once it started); frees the slot."""
        import aiohttp

        try:
            reading = _read_limited(resp, self._core.max_response_bytes)
            left = plan.remaining()
            body = await (asyncio.wait_for(reading, max(left, 0.001)) if left is not None
                          else reading)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise self._core.answer_cut(_failure(exc)) from None
        finally:
            resp.release()
            if state.slots is not None:
                state.slots.release()
        return self._core.check_size(resp.status, resp.headers, body)

    async def _call(self, req: Request,
                    decode: Callable[[int, Mapping[str, str], bytes], T]) -> T:
        resp, state, plan = await self._exchange(req)
        return decode(resp.status, resp.headers, await self._read_answer(resp, state, plan))

    async def _open_stream(self, req: Request) -> AsyncStream:
        import aiohttp

        resp, state, plan = await self._exchange(req)
        headers = lower_headers(resp.headers.items())
        if not self._core.is_event_stream(headers):
            body = await self._read_answer(resp, state, plan)
            raise self._core.not_a_stream(resp.status, headers, body)
        # RuntimeError: aiohttp's "Connection closed." once the session was closed under it
        errors = (aiohttp.ClientError, asyncio.TimeoutError, OSError, RuntimeError)
        content = resp.content
        readany = content.readany
        failed: list[TransportFailure] = []

        async def read() -> bytes:
            if failed:
                raise failed[0]
            try:
                return await readany()
            except errors as exc:
                # aiohttp raises before handing over bytes that arrived just ahead of the
                # failure; take them first, so the partial answer (already paid for) is kept.
                failed.append(_failure(exc))
                leftover = _salvage(content)
                if leftover:
                    return leftover
                raise failed[0] from None

        async def to_end() -> None:
            while await read():
                pass

        async def drain() -> bool:
            try:
                await asyncio.wait_for(to_end(), DRAIN_TIMEOUT)
            except (TransportFailure, asyncio.TimeoutError):
                return False
            return True

        def close(reusable: bool) -> None:
            try:
                if reusable:
                    resp.release()
                else:
                    resp.close()
            finally:
                if state.slots is not None:
                    state.slots.release()

        return AsyncStream(read, drain, close, self._core.stream_core(headers, req.timeout),
                           headers)


def _salvage(content: aiohttp.StreamReader) -> bytes:
    buffer = getattr(content, "_buffer", None)
    if not buffer:
        return b""
    data = b"".join(buffer)
    buffer.clear()
    return data


def _abandon(session: aiohttp.ClientSession) -> None:
    """Let go of a session whose event loop is gone, without awaiting on that loop."""
    connector = session.connector
    session.detach()
    if connector is not None:
        with contextlib.suppress(Exception):
            connector._close()


async def _read_limited(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, or its first ``limit + 1`` bytes when it is longer."""
    length = resp.content_length
    if length is not None and length <= limit:
        return await resp.read()  # the common case, and the cheapest
    data = bytearray()
    async for piece in resp.content.iter_any():
        data += piece
        if len(data) > limit:
            break
    return bytes(data)


@functools.lru_cache(maxsize=64)
def _client_timeout(connect: float | None, read: float | None,
                    stream: bool) -> aiohttp.ClientTimeout:
    """A stream is bounded by silence between reads (``sock_read``); a non-streamed answer,
    which the service sends in one go, by one timer for the whole attempt (cheaper than
    re-arming a read timer for every packet)."""
    import aiohttp

    if stream:
        return aiohttp.ClientTimeout(total=None, connect=None, sock_connect=connect,
                                     sock_read=read)
    return aiohttp.ClientTimeout(total=read, connect=None, sock_connect=connect)
