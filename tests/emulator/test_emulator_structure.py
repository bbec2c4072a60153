"""The emulator's two extension points stay single places (issue 9): every handler is routed
and every route has a handler; every fault field lives in one phase's record and says what an
``X-Emulator-Fault`` header may ask for.
"""

from __future__ import annotations

import dataclasses
import inspect

from nanogpt.emulator import (
    Fault,
    _account,
    _audio,
    _completions,
    _embeddings,
    _faults,
    _images,
    _login,
    _routing,
    _search,
    _usage,
)
from nanogpt.emulator._batches import BatchStore
from nanogpt.emulator._routes import ROUTES


def public_handlers() -> set[object]:
    """The public coroutine functions of the handler modules, and the store's."""
    found: set[object] = set()
    for owner in (_account, _audio, _completions, _embeddings, _images, _login, _routing,
                  _search, _usage, BatchStore):
        for name, value in vars(owner).items():
            if not name.startswith("_") and inspect.iscoroutinefunction(value):
                found.add(value)
    return found


def test_every_handler_has_a_route_and_every_route_a_handler() -> None:
    routed = {inspect.unwrap(route.handler) for route in ROUTES}
    assert routed == public_handlers()
    assert all(inspect.iscoroutinefunction(route.handler) for route in ROUTES)
    assert len({(r.method, r.path) for r in ROUTES}) == len(ROUTES)


def test_every_fault_field_is_in_one_phase_and_checked_for_headers() -> None:
    fields = [f for record in _faults.PHASES.values() for f in dataclasses.fields(record)]
    names = [f.name for f in fields]
    assert len(names) == len(set(names))  # a flat keyword names one field
    assert all("check" in f.metadata for f in fields)
    assert Fault(status=429, stall_after_chunks=3, crlf=True) == Fault(
        crlf=True, stall_after_chunks=3, status=429)
    assert repr(Fault(status=429, retry_after=0)) == "Fault(status=429, retry_after=0)"
