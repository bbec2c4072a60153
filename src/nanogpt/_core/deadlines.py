"""Every time bound of a call, computed from a ``Timeout`` and clock readings. No clock here.

The module reads no clock: a caller passes ``now`` (a ``time.monotonic()`` reading), so each
bound is a sum a test can check with plain numbers. The shells enforce what it computes (a
socket timeout, the blocking client's watchdog, ``asyncio.wait_for``, aiohttp's timers); which
bound is enforced where is the table in :class:`~nanogpt._core.config.Timeout`.

Two kinds of number: a *limit* is a duration in seconds (``None``: no bound), a *deadline* a
clock reading by which something must be over (``None``: none).

* :class:`Limits`: the durations of one request, from its ``Timeout`` and whether it streams.
* :func:`call_deadline`, :func:`shortened`, :func:`attempt_deadline`: the ``total`` clock of
  a call, and each wait cut to what is left of it (``CallPlan`` keeps the call's deadline).
* :class:`StreamClocks`: a started stream's ``first_event`` and ``stream_total`` deadlines.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .config import Timeout

__all__ = ["Limits", "StreamClocks", "attempt_deadline", "call_deadline", "earliest",
           "seconds_until", "shortened"]

MIN_WAIT = 0.001  # a wait handed to asyncio is at least this, so that it still fails in time


def earliest(*bounds: float | None) -> float | None:
    """The smallest of the bounds that are set (``None``: none is). Limits and deadlines use
    ``None`` for "no bound", so ``min`` alone would not do."""
    return min((b for b in bounds if b is not None), default=None)


class Limits(NamedTuple):
    """The durations that bound one request (seconds; ``None``: no bound)."""

    connect: float | None
    """Opening the connection (TCP and TLS)."""
    each_read: float | None
    """Each wait for bytes: ``read`` for a whole answer; for a stream ``idle``, or a shorter
    ``first_event``/``stream_total`` (so a wait never outlasts the stream's own clocks)."""
    head: float | None
    """The longest wait for the answer's head, from the send: ``read`` (for a whole answer,
    its body too); for a stream, ``first_event`` or a shorter ``stream_total``. Each byte of a
    head resets ``idle``: without this, interim (1xx) answers without end, or a head trickled
    a byte at a time, would hold a stream request for ever."""
    body: float | None
    """Reading a whole body: ``read``, also for an error body (or a JSON answer) to a stream
    request, whose ``idle`` only bounds each silence."""
    total: float | None
    """The whole call, until the answer (for a stream: until it starts)."""

    @classmethod
    def of(cls, timeout: Timeout, stream: bool) -> Limits:
        """The limits of a request under ``timeout`` (kept: a client makes few ``Timeout``
        objects, and this is asked for on every request)."""
        return _limits(timeout, stream)


@functools.lru_cache(maxsize=128)
def _limits(timeout: Timeout, stream: bool) -> Limits:
    if stream:
        head = earliest(timeout.first_event, timeout.stream_total)
        each_read = earliest(timeout.idle, head)
    else:
        head = each_read = timeout.read
    return Limits(connect=timeout.connect, each_read=each_read, head=head, body=timeout.read,
                  total=timeout.total)


def call_deadline(total: float | None, now: float) -> float | None:
    """When a call that starts at ``now`` must be over (``total`` from now), or None."""
    return None if total is None else now + total


def shortened(limit: float | None, deadline: float | None, now: float) -> float | None:
    """``limit`` cut to what is left before ``deadline``. Zero or less: the time is up."""
    if deadline is None:
        return limit
    left = deadline - now
    return left if limit is None else min(limit, left)


def attempt_deadline(limit: float | None, deadline: float | None,
                     now: float) -> float | None:
    """When an attempt that starts at ``now`` must be over: ``limit`` from now, or the call's
    ``deadline`` if sooner."""
    return earliest(None if limit is None else now + limit, deadline)


def seconds_until(deadline: float | None, now: float) -> float | None:
    """A wait that ends at ``deadline``, at least ``MIN_WAIT`` (a deadline just passed still
    gets a moment, and fails); None for no deadline."""
    return None if deadline is None else max(deadline - now, MIN_WAIT)


class StreamClocks:
    """A started stream's two clocks: ``first_event`` (until its first chunk) and
    ``stream_total`` (until its end). ``deadline`` is the nearer one still running, or None:
    a stream checks :meth:`expired` after a read only while it is set."""

    __slots__ = ("deadline", "end_by", "first_by")

    def __init__(self, first_event: float | None, stream_total: float | None,
                 now: float) -> None:
        self.first_by = None if first_event is None else now + first_event
        self.end_by = None if stream_total is None else now + stream_total
        self.deadline = earliest(self.first_by, self.end_by)

    def first_chunk_came(self) -> None:
        """The ``first_event`` clock is done."""
        self.first_by = None
        self.deadline = self.end_by

    def expired(self, now: float) -> str | None:
        """The name of the clock that has run out at ``now`` (``"first_event"`` first when
        both have), or None."""
        if self.deadline is None or now < self.deadline:
            return None
        if self.first_by is not None and self.first_by <= self.deadline:
            return "first_event"
        return "stream_total"
