"""Concurrency slots (``max_concurrency``) for both clients, and the fork generation.

Each slot is counted against the thread (sync) or task (async) that took it. That costs one
dict update under the lock a semaphore takes anyway, and lets a wait that can never end fail
at once: ``s = create(stream=True); for chunk in s: break`` in a loop keeps the old stream (and
its slot) alive in ``s`` while the next ``create`` waits for a slot. When the waiting thread or
task itself holds every slot, nobody else can free one: with no ``total`` timeout
:class:`ConcurrencyDeadlockError` is raised at once instead of hanging; with one, the wait ends
there as usual and the ``APITimeoutError`` says why. A caller that holds some slots and waits
for ones held elsewhere just waits.

A slot counts against the thread or task that opened the call until it is released, even when
another thread reads the stream; handing every open stream to other threads and then opening
one more from the same thread is therefore refused too, rather than waited on.

Fork: a child process starts with one thread, so slots taken by the parent's other threads would
never be given back there. ``fork_generation()`` changes in every child (``os.register_at_fork``);
the client then makes new :class:`ThreadSlots` with every slot free, and releasing a slot of the
old ones (a stream opened before the fork, closed in the child) does nothing.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

from ._core.errors import APITimeoutError, ConcurrencyDeadlockError

__all__ = ["TaskSlots", "ThreadSlots", "fork_generation"]

_generation = 0


def fork_generation() -> int:
    """Changes in a forked child: what was made before belongs to the parent process."""
    return _generation


def _after_fork_in_child() -> None:
    global _generation
    _generation += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

_ADVICE = ("Usually an earlier stream is still open: use `with client.chat.completions.create("
           "..., stream=True) as s:` or call s.close() before starting the next call")


def _deadlock(size: int, who: str) -> ConcurrencyDeadlockError:
    return ConcurrencyDeadlockError(
        f"this {who} already holds all {size} concurrency slots (max_concurrency={size}), "
        f"so waiting for another would never end. {_ADVICE}")


def _no_slot(size: int, holder: str | None) -> APITimeoutError:
    why = (f"; this {holder} itself holds all {size} of them. {_ADVICE}" if holder else "")
    return APITimeoutError("the total timeout ran out while waiting for a free concurrency "
                           f"slot (max_concurrency){why}")


class ThreadSlots:
    """At most ``size`` slots taken at once, across threads. ``acquire`` returns the owner to
    hand back to ``release`` (which may run in any thread)."""

    __slots__ = ("_cond", "_generation", "_held", "_lock", "_value", "_waiting", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._value = size  # free slots (named as in threading.Semaphore)
        self._waiting = 0
        # who holds slots: the Thread object, not its ident, which a new thread may reuse
        self._held: dict[threading.Thread, int] = {}
        self._generation = _generation

    def acquire(self, timeout: float | None) -> threading.Thread:
        """Take a slot, waiting at most ``timeout`` seconds (``None``: no limit). Not for use
        in a forked child: the client makes new slots there (see the module docstring)."""
        me = threading.current_thread()
        with self._lock:
            if not self._value:
                self._wait(me, timeout)
            self._value -= 1
            self._held[me] = self._held.get(me, 0) + 1
        return me

    def _wait(self, me: threading.Thread, timeout: float | None) -> None:
        """Wait for a free slot (the lock is held)."""
        mine = self._held.get(me, 0) >= self.size
        if mine and timeout is None:
            raise _deadlock(self.size, "thread")
        end = None if timeout is None else time.monotonic() + timeout
        self._waiting += 1
        try:
            while not self._value:
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    raise _no_slot(self.size, "thread" if mine else None)
                self._cond.wait(left)
        except BaseException:
            # interrupted (KeyboardInterrupt, a signal handler) perhaps just as a release woke
            # this thread: pass that wakeup on, or another waiter sleeps beside a free slot
            if self._value and self._waiting > 1:
                self._cond.notify()
            raise
        finally:
            self._waiting -= 1

    def release(self, owner: threading.Thread) -> None:
        if self._generation != _generation:
            return  # a forked child: these slots are the parent's, and this one was made anew
        with self._lock:
            left = self._held[owner] - 1
            if left:
                self._held[owner] = left
            else:
                del self._held[owner]
            self._value += 1
            if self._waiting:
                self._cond.notify()


class TaskSlots:
    """The asyncio twin of :class:`ThreadSlots`, for one event loop: slots are counted per task.
    ``release`` defaults to the current task; a release from elsewhere (a stream closed by
    another task, or collected) passes the owner that ``acquire`` returned."""

    __slots__ = ("_held", "_sem", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._sem = asyncio.Semaphore(size)
        self._held: dict[asyncio.Task[Any] | None, int] = {}

    @property
    def _value(self) -> int:
        """The free slots (named as in ``asyncio.Semaphore``)."""
        return self._sem._value

    async def acquire(self, timeout: float | None) -> asyncio.Task[Any] | None:
        """Take a slot, waiting at most ``timeout`` seconds (``None``: no limit)."""
        task = asyncio.current_task()
        mine = self._held.get(task, 0) >= self.size
        if mine and timeout is None:
            raise _deadlock(self.size, "task")
        try:
            await (asyncio.wait_for(self._sem.acquire(), timeout) if timeout is not None
                   else self._sem.acquire())
        except asyncio.TimeoutError:
            raise _no_slot(self.size, "task" if mine else None) from None
        self._held[task] = self._held.get(task, 0) + 1
        return task

    def release(self, owner: asyncio.Task[Any] | None = None) -> None:
        """Give a slot back; ``owner``: what ``acquire`` returned (default: the current task)."""
        task = owner if owner is not None else asyncio.current_task()
        left = self._held.get(task, 0) - 1
        if left > 0:
            self._held[task] = left
        else:
            self._held.pop(task, None)
        self._sem.release()
