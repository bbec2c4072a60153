"""``_core/deadlines.py``: every bound of a call from a ``Timeout`` and clock readings. Pure: the
clock readings are plain numbers passed in; no sockets, no sleeps."""

from __future__ import annotations

import pytest

from nanogpt import Timeout
from nanogpt._core.deadlines import (
    MIN_WAIT,
    Limits,
    StreamClocks,
    attempt_deadline,
    call_deadline,
    earliest,
    seconds_until,
    shortened,
)
from nanogpt._core.errors import APITimeoutError
from nanogpt._core.plan import CallPlan, HostPool, RetryPolicy

NONE = Timeout.coerce(None)


def test_earliest_ignores_what_is_not_set() -> None:
    assert earliest() is None
    assert earliest(None, None) is None
    assert earliest(None, 5.0, 3.0) == 3.0
    assert earliest(0.0, None) == 0.0  # zero is a bound, not "none"


def test_limits_of_a_whole_answer_are_read_for_head_body_and_each_wait() -> None:
    t = Timeout(connect=3, read=40, idle=7, total=100, first_event=20, stream_total=60)
    assert Limits.of(t, stream=False) == Limits(connect=3, each_read=40, head=40, body=40,
                                                total=100)


def test_limits_of_a_stream() -> None:
    t = Timeout(connect=3, read=40, idle=7, total=100, first_event=20, stream_total=60)
    # the head waits first_event; each wait is idle; an error body still gets read
    assert Limits.of(t, stream=True) == Limits(connect=3, each_read=7, head=20, body=40,
                                               total=100)
    # a wait never outlasts the stream's own clocks, nor the head a shorter stream_total
    short = Timeout(idle=120, first_event=30, stream_total=10)
    assert Limits.of(short, stream=True)[1:3] == (10, 10)
    assert Limits.of(Timeout(idle=None, first_event=None, stream_total=None),
                     stream=True)[1:3] == (None, None)
    assert Limits.of(NONE, stream=True) == Limits(None, None, None, None, None)


def test_timeout_stream_read_is_still_public_and_asks_the_limits() -> None:
    """``Timeout.stream_read`` was public before the deadlines moved to their own module (the
    refactor dropped it): kept, and read from ``Limits`` so the rule is written once."""
    assert Timeout().stream_read == 120.0
    assert Timeout(idle=None, first_event=None, stream_total=7).stream_read == 7
    assert Timeout(idle=120, first_event=30, stream_total=10).stream_read == 10
    assert Timeout.coerce(None).stream_read is None


def test_the_defaults() -> None:
    assert Limits.of(Timeout(), stream=False) == Limits(10, 600, 600, 600, None)
    assert Limits.of(Timeout(), stream=True) == Limits(10, 120, 600, 600, None)
    assert Limits.of(Timeout.coerce(30), stream=True) == Limits(10, 30, 30, 30, 30)


def test_the_total_clock_cuts_every_wait() -> None:
    assert call_deadline(None, 1000.0) is None
    end = call_deadline(10, 1000.0)
    assert end == 1010.0
    assert shortened(5, end, 1000.0) == 5  # the wait is shorter than what is left
    assert shortened(5, end, 1008.0) == 2  # what is left is shorter
    assert shortened(None, end, 1004.0) == 6
    assert shortened(5, None, 1004.0) == 5
    assert shortened(None, None, 1004.0) is None
    assert shortened(5, end, 1011.0) == -1  # zero or less: the time is up


def test_an_attempt_ends_at_its_limit_or_the_calls_deadline() -> None:
    assert attempt_deadline(30, None, 1000.0) == 1030.0
    assert attempt_deadline(30, 1010.0, 1000.0) == 1010.0
    assert attempt_deadline(None, 1010.0, 1000.0) == 1010.0
    assert attempt_deadline(None, None, 1000.0) is None


def test_a_wait_until_a_deadline_is_never_zero() -> None:
    assert seconds_until(None, 5.0) is None
    assert seconds_until(7.5, 5.0) == 2.5
    assert seconds_until(5.0, 7.0) == MIN_WAIT  # passed: still a moment, then it fails


def test_stream_clocks_first_event_until_the_first_chunk() -> None:
    clocks = StreamClocks(first_event=10, stream_total=None, now=100.0)
    assert clocks.deadline == 110.0
    assert clocks.expired(109.9) is None
    assert clocks.expired(110.0) == "first_event"
    clocks.first_chunk_came()
    assert clocks.deadline is None  # nothing more to check, no more clock reads
    assert clocks.expired(10_000.0) is None


def test_stream_clocks_stream_total_from_the_start() -> None:
    clocks = StreamClocks(first_event=5, stream_total=20, now=100.0)
    assert clocks.deadline == 105.0
    clocks.first_chunk_came()
    assert clocks.deadline == 120.0
    assert clocks.expired(119.0) is None
    assert clocks.expired(121.0) == "stream_total"
    both = StreamClocks(first_event=20, stream_total=20, now=0.0)
    assert both.expired(30.0) == "first_event"  # both ran out: no chunk ever came is the news
    assert StreamClocks(None, None, now=0.0).deadline is None


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _plan(total: float | None, clock: Clock) -> CallPlan:
    return CallPlan(method="POST", path="/chat/completions", headers={},
                    pool=HostPool(["https://a/api/v1"], clock=clock), policy=RetryPolicy(),
                    idempotent=False, total=total, clock=clock)


def test_the_plan_asks_the_deadlines_module() -> None:
    clock = Clock(1000.0)
    plan = _plan(10, clock)
    assert plan.deadline == 1010.0
    assert plan.bound(30) == 10
    assert plan.attempt_deadline(3) == 1003.0
    clock.t = 1007.0
    assert plan.remaining() == 3
    assert plan.bound(None) == 3
    assert plan.bound(1) == 1
    assert plan.attempt_deadline(30) == 1010.0
    clock.t = 1010.0
    with pytest.raises(APITimeoutError, match="total timeout ran out"):
        plan.bound(30)
    free = _plan(None, clock)
    assert free.bound(30) == 30 and free.remaining() is None
    assert free.attempt_deadline(None) is None
