"""``AsyncNanoGPT``: the asyncio client. A thin shell that moves bytes with aiohttp.

aiohttp is chosen by measurement (about 14x the ``openai`` SDK's async throughput at 50
concurrent requests) and imported on first use. The session and the concurrency slots belong to
one event loop (``_async.session``: made per loop, per forked child, and released when nobody
closed them); every use of an aiohttp private attribute is in ``_async.aiohttp_private``.

Bodies are taken from aiohttp undecoded (``auto_decompress=False``) and the session asks for
``identity``: a coded body is decoded here, never beyond ``max_response_bytes``
(``_decompress``). aiohttp's exceptions are never put in our messages by ``repr`` (it shows
every request header); credential headers reach it masked besides (the core masks them when
it builds a request: ``_redact``).
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from .._core.client import ClientBase, Request, lower_headers
from .._core.decompress import BoundedDecoder, UndecodableBody, decoder_for
from .._core.errors import APIResponseValidationError
from .._core.plan import CallPlan, TransportFailure
from .._core.stream import DRAIN_TIMEOUT, AsyncStream
from .._core.types import Balance
from .._resources import AsyncChat, AsyncModels
from .aiohttp_private import take_buffered
from .session import LoopSession, loop_session

if TYPE_CHECKING:
    import aiohttp


__all__ = ["AsyncNanoGPT"]

T = TypeVar("T")
_STREAM_PIECE = 65536  # a coded stream is decoded at most this much per read


def _describe(exc: BaseException) -> str:
    """What went wrong, from the exception's type and ``str``, never its ``repr``: aiohttp's
    repr of a response error carries the request headers (keys, proxy tokens)."""
    import aiohttp

    if isinstance(exc, aiohttp.ClientResponseError):
        text = f"{exc.status}, {exc.message}"  # its str() adds the URL, which we name anyway
    else:
        text = str(exc)
    text = " ".join(text.split())[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _failure(exc: BaseException) -> TransportFailure:
    """Classify an aiohttp/asyncio error: did the request leave, was it a timeout?"""
    import aiohttp

    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return TransportFailure(f"connect timed out: {_describe(exc)}", sent=False,
                                timeout=True)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return TransportFailure(f"could not connect: {_describe(exc)}", sent=False)
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return TransportFailure("timed out waiting for the server", sent=True, timeout=True)
    return TransportFailure(f"connection broken: {_describe(exc)}", sent=True)


# llhttp's words for a malformed chunk: the head had been parsed, the body had begun
_BODY_PARSE_ERROR = re.compile(r"chunk (size|ext|data)|after chunk", re.IGNORECASE)


def _body_had_started(exc: BaseException) -> bool:
    """aiohttp parses a head and the start of its body together; when the body is malformed
    it drops the head and fails the request as if no answer had come. What is left says
    whether the parser was already in the body: the error class with aiohttp's Python parser
    (a payload error among the causes), the message with its C parser (a bare BadHttpMessage
    about a chunk)."""
    import aiohttp
    from aiohttp.http_exceptions import PayloadEncodingError

    if not isinstance(exc, aiohttp.ClientResponseError):
        return False
    cause = exc.__cause__
    for _ in range(3):  # aiohttp's wrapper, then the parser's own error
        if cause is None:
            break
        if isinstance(cause, PayloadEncodingError):
            return True
        cause = cause.__cause__
    return bool(_BODY_PARSE_ERROR.search(str(exc.message)))


class AsyncNanoGPT(ClientBase):
    """The asyncio NanoGPT client; same arguments and namespaces as :class:`~nanogpt.NanoGPT`.

    >>> async with AsyncNanoGPT() as client:
    ...     r = await client.chat.completions.create(model="openai/gpt-5-mini",
    ...                                              messages=[{"role": "user", "content": "Hi"}])
    """

    def _start_shell(self) -> None:
        self._state: LoopSession | None = None
        self.chat = AsyncChat(self)
        self.models = AsyncModels(self)
        from .._batches import async_namespaces

        self.files, self.batches = async_namespaces(self)

    # public ---------------------------------------------------------------------------------

    async def balance(self) -> Balance:
        """The account balance in USD, as a ``Decimal`` (``.nano_balance`` too)."""
        return await self._call(self._core.balance_request(), self._core.decode_balance)

    async def close(self) -> None:
        """Close pooled connections. The client may still be used afterwards."""
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
                await slots.acquire(left)
            held = False
            try:
                try:
                    # until the head: a whole answer's attempt, head included, is under
                    # aiohttp's own `read` timer (`_client_timeout`), so only `total` needs a
                    # timer of ours; a stream's head is bounded by `first_event` (each byte of
                    # a head or interim answer resets aiohttp's read timer), and `total`
                    left = plan.bound(req.head_timeout if req.stream else None)
                    # an error body gets what is left of `read` from the send (and of
                    # `total`), for a stream request too: a trickled body never goes idle
                    body_by = plan.attempt_deadline(req.body_timeout)
                    sending = state.session.request(
                        plan.method, plan.url, data=req.body, headers=plan.headers,
                        allow_redirects=False, timeout=timeout)
                    resp = await (asyncio.wait_for(sending, left) if left is not None
                                  else sending)
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                    outcome = _failure(exc)
                    if _body_had_started(exc):
                        raise self._answer_cut(req, outcome) from None
                else:
                    if resp.status < 300:
                        plan.succeeded()
                        held = True
                        return resp, state, plan
                    outcome = (resp.status, resp.headers,
                               await _error_body(resp, limit, _until(body_by)))
            finally:
                if not held and slots is not None:
                    slots.release()
            if isinstance(outcome, TransportFailure):
                delay = plan.after_failure(outcome)
            else:
                delay = plan.after_status(*outcome)
            if delay:
                await asyncio.sleep(delay)

    def _answer_cut(self, req: Request, failure: TransportFailure) -> Exception:
        """A 2xx whose body broke before any of it could be handed over."""
        if req.stream:
            return self._core.stream_core({}).interrupted(failure)
        return self._core.answer_cut(failure)

    async def _read_answer(self, resp: aiohttp.ClientResponse, state: LoopSession,
                           plan: CallPlan, read: float | None = None) -> bytes:
        """The body of a 2xx answer (never retried once it started); frees the slot. It must
        come within what is left of ``total`` and, when given, ``read`` seconds from now (a
        whole body answering a stream request, whose own timer only bounds each silence)."""
        import aiohttp

        watch = _watch_body(resp)
        try:
            reading = _read_limited(resp, self._core.max_response_bytes)
            left = _until(plan.attempt_deadline(read))
            body = await (asyncio.wait_for(reading, left) if left is not None
                          else reading)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise self._core.answer_cut(_failure(exc)) from None
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
        return decode(resp.status, resp.headers, await self._read_answer(resp, state, plan))

    async def _open_stream(self, req: Request) -> AsyncStream:
        import aiohttp

        resp, state, plan = await self._exchange(req)
        owner = asyncio.current_task()  # the task that holds the slot, whoever closes
        headers = lower_headers(resp.headers.items())
        if not self._core.is_event_stream(headers):
            body = await self._read_answer(resp, state, plan, req.body_timeout)
            raise self._core.not_a_stream(resp.status, headers, body)
        try:
            decoder = decoder_for(headers.get("content-encoding"))
        except UndecodableBody as e:
            resp.close()
            if state.slots is not None:
                state.slots.release()
            raise self._core.stream_core(headers).interrupted(
                TransportFailure(str(e), sent=True)) from None
        # RuntimeError: aiohttp's "Connection closed." once the session was closed under it
        errors = (aiohttp.ClientError, asyncio.TimeoutError, OSError, RuntimeError)
        content = resp.content
        readany = content.readany
        failed: list[TransportFailure] = []
        watch = _watch_body(resp)

        async def read_raw() -> bytes:
            if failed:
                raise failed[0]
            try:
                return await readany()
            except errors as exc:
                # aiohttp raises before handing over bytes that arrived just ahead of the
                # failure; take them first, so the partial answer (already paid for) is kept.
                failed.append(_failure(exc))
                leftover = take_buffered(content)
                if leftover:
                    return leftover
                raise failed[0] from None

        read = read_raw if decoder is None else _decoding(read_raw, decoder)

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
            if watch is not None:
                watch.content = None
            try:
                if reusable:
                    resp.release()
                else:
                    resp.close()
            finally:
                if state.slots is not None:
                    state.slots.release(owner)

        return AsyncStream(read, drain, close, self._core.stream_core(headers, req.timeout),
                           headers)


def _decoding(read_raw: Callable[[], Awaitable[bytes]],
              decoder: BoundedDecoder) -> Callable[[], Awaitable[bytes]]:
    """A coded stream's ``read``: at most ``_STREAM_PIECE`` decoded bytes per call, and a turn
    of the event loop for each. A few hundred KiB of gzip already received can decode to
    hundreds of MiB (of keep-alive comments, say) without any read having to wait: without
    the turn, every other task of the program would stand still meanwhile."""

    async def read() -> bytes:
        try:
            while True:
                out = decoder.read(_STREAM_PIECE)
                if out:
                    await asyncio.sleep(0)
                    return out
                raw = await read_raw()
                if not raw:
                    decoder.finish()
                    return b""
                decoder.feed(raw)
        except UndecodableBody as e:
            raise TransportFailure(str(e), sent=True) from None

    return read


def _until(deadline: float | None) -> float | None:
    """Seconds from now to ``deadline`` (a ``CallPlan.attempt_deadline``), at least a moment:
    ``None`` for no deadline."""
    return None if deadline is None else max(deadline - time.monotonic(), 0.001)


async def _error_body(resp: aiohttp.ClientResponse, limit: int, left: float | None) -> bytes:
    """The body of an error answer, at most ``limit`` bytes and ``left`` seconds; ``b""``
    when it cannot be had (the status says enough)."""
    import aiohttp

    watch = _watch_body(resp)
    try:
        reading = _read_limited(resp, limit)
        return (await (asyncio.wait_for(reading, left) if left is not None
                       else reading))[:limit]
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError, UndecodableBody):
        return b""
    finally:
        if watch is not None:
            watch.content = None
        resp.release()


class _BodyWatch:
    """Fails a body's reader when its connection closes before the body ended.

    aiohttp, on a malformed chunk after the head was handed over, closes the connection but
    never tells the body's reader, and stops the read timer: a stream would then wait for
    ever (``idle`` included), a whole body until ``read``. One watch per connection, set to
    the body being read; the callback also takes the future's exception, which nobody else
    may ask for (asyncio would log it)."""

    __slots__ = ("content",)

    def __init__(self) -> None:
        self.content: aiohttp.StreamReader | None = None

    def __call__(self, closed: asyncio.Future[None]) -> None:
        if not closed.cancelled():
            closed.exception()
        content, self.content = self.content, None
        if content is not None and not content.is_eof() and content.exception() is None:
            import aiohttp

            content.set_exception(aiohttp.ClientPayloadError(
                "the connection closed before the body ended (malformed body?)"))


_BODY_WATCHES: weakref.WeakKeyDictionary[object, _BodyWatch] = weakref.WeakKeyDictionary()


def _watch_body(resp: aiohttp.ClientResponse) -> _BodyWatch | None:
    """Watch the connection of ``resp`` while its body is read (see ``_BodyWatch``); the
    caller sets ``.content`` back to None when done."""
    connection = resp.connection
    protocol = connection.protocol if connection is not None else None
    if protocol is None:
        return None  # the body is already complete, or the connection gone: nothing to wait
    watch = _BODY_WATCHES.get(protocol)
    if watch is None:
        closed = protocol.closed
        if closed is None:
            return None
        watch = _BODY_WATCHES[protocol] = _BodyWatch()
        closed.add_done_callback(watch)
    watch.content = resp.content
    return watch


async def _read_limited(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The (decoded) body, or its first ``limit + 1`` bytes when it is longer. Raises
    ``UndecodableBody`` for a content coding that cannot be decoded."""
    coding = resp.headers.get("Content-Encoding")
    if coding is not None:
        decoder = decoder_for(coding)
        if decoder is not None:
            return await _read_decoded(resp, decoder, limit)
    length = resp.content_length
    if length is not None and length <= limit:
        return await resp.read()  # the common case, and the cheapest
    data = bytearray()
    async for piece in resp.content.iter_any():
        data += piece
        if len(data) > limit:
            break
    return bytes(data)


async def _read_decoded(resp: aiohttp.ClientResponse, decoder: BoundedDecoder,
                        limit: int) -> bytes:
    """Decode while reading, never asking the decoder for more than ``limit + 1`` bytes."""
    data = bytearray()
    async for piece in resp.content.iter_any():
        decoder.feed(piece)
        data += decoder.read(limit + 1 - len(data))
        if len(data) > limit:
            return bytes(data)
    decoder.finish()
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
