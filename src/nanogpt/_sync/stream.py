"""``Stream``: a streamed answer read with blocking calls, and ``ResponseBody``, the
:class:`~nanogpt._core.transport.StreamBody` it reads (an answer on a pooled ``http.client``
connection). Decoding and the stream's clocks are the core's (``StreamCore``, ``StreamBase``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from .._core.stream import StreamBase, StreamCore
from .._core.transport import DRAIN_TIMEOUT, StreamBody, TransportFailure
from .._core.types import ChatCompletion, ChatCompletionChunk
from .._slots import fork_generation

if TYPE_CHECKING:
    from .http import Response

__all__ = ["ResponseBody", "Stream"]

READ_SIZE = 65536


class ResponseBody:
    """The body of a streamed answer on a pooled connection, read only in the process that
    opened it: in a forked child its socket is the parent's, and every byte read there is one
    the parent's reader never sees. ``free_slot`` gives the concurrency slot back."""

    __slots__ = ("_free_slot", "_generation", "_read1", "_resp")

    def __init__(self, resp: Response, free_slot: Callable[[], None]) -> None:
        self._resp = resp
        self._read1 = resp.read1
        self._free_slot = free_slot
        self._generation = fork_generation()

    def read(self) -> bytes:
        if fork_generation() != self._generation:
            raise TransportFailure("the stream was opened before fork(): only the parent "
                                   "process may read it", sent=True)
        return self._read1(READ_SIZE)

    def drain(self) -> bool:
        # in a forked child, reading would take the parent's bytes (its socket is shared)
        return fork_generation() == self._generation and self._resp.drain(DRAIN_TIMEOUT)

    def release(self, reusable: bool) -> None:
        try:
            self._resp.release(reusable)
        finally:
            self._free_slot()


class Stream(StreamBase):
    """A streamed chat completion: iterate for chunks; then ``.text``, ``.usage``, ``.cost``...

    Use it as a context manager (``with client.chat.completions.create(..., stream=True) as
    s:``), or call ``close()``, to give the connection and its concurrency slot back early. A
    stream dropped without closing is released when it is garbage-collected (it holds no
    reference cycle, so in CPython that is at once), but a stream still bound to a name is not
    dropped: ``s = create(stream=True)`` in a loop that breaks out of ``for chunk in s`` keeps
    the previous stream's slot while the next ``create`` waits. When that thread holds every
    slot, the wait is refused with ``ConcurrencyDeadlockError``.
    """

    def __init__(self, body: StreamBody, core: StreamCore, headers: dict[str, str]) -> None:
        super().__init__(body.release, core, headers)
        self._read = body.read
        self._drain = body.drain

    def __iter__(self) -> Iterator[ChatCompletionChunk]:
        return self

    def __next__(self) -> ChatCompletionChunk:
        pos = self._pos
        if pos < len(self._buf):
            self._pos = pos + 1
            return self._buf[pos]
        core = self._core
        while not self._closed:
            try:
                if core.finished:
                    if core.error is None:  # [DONE]: briefly wait for the end, to reuse
                        self._reusable = self._drain()
                    self._end()
                    break
                chunk = self._take(self._read())
            except TransportFailure as f:
                self._give_back()
                raise core.interrupted(f) from None
            except BaseException:  # StreamError, KeyboardInterrupt, anything: give back
                self._give_back()
                raise
            if chunk is not None:
                return chunk
        raise StopIteration

    def get_final_completion(self) -> ChatCompletion:
        """Read what is left and return the whole answer as one ``ChatCompletion``.

        Raises ``StreamError`` if the stream failed or was closed before it finished."""
        for _ in self:
            pass
        return self._core.final()

    def close(self) -> None:
        """Give the connection back (closing it if the body was not read to its end)."""
        self._give_back()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
