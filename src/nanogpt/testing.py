"""Pytest helpers for your own tests: an emulator and clients pointed at it.

Installed as a pytest plugin, so the fixtures are available without imports:

    def test_my_bot(nanogpt_client, nanogpt_emulator):
        nanogpt_emulator.inject(status=429, retry_after=0)
        assert my_bot(nanogpt_client) == ...

``nanogpt_emulator`` is one server per test session (faults, counters and the ledger of
charges are reset per test);
``nanogpt_client`` is a ``NanoGPT`` pointed at it with a test key. Both clients are made with
``trust_env=False``: a developer's ``HTTPS_PROXY``/``HTTP_PROXY`` never routes the loopback
emulator's traffic through a proxy.

``nanogpt_async_client`` is an ``AsyncNanoGPT`` pointed at it, for plain pytest (no
pytest-asyncio or anyio plugin needed): run your coroutines with ``nanogpt_run``, which runs
them on the test's own event loop, the one the client is closed on after the test:

    def test_my_async_bot(nanogpt_async_client, nanogpt_run):
        assert nanogpt_run(my_async_bot(nanogpt_async_client)).startswith("Hello")

(Under an async test plugin, make the client in the test instead:
``async with AsyncNanoGPT(TEST_API_KEY, base_url=nanogpt_emulator.base_url) as client``.)

The emulator streams NanoGPT's documented format (``data:`` frames and ``data: [DONE]``). To
test a client against the quirks seen in the wild too (keep-alive comments, ``retry:``/``id:``
/``event:`` lines, usage on a chunk with no choices), override the options fixture in your
``conftest.py``; its dict is passed to ``Emulator(...)``:

    @pytest.fixture(scope="session")
    def nanogpt_emulator_options():
        return {"quirks": True}
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from . import AsyncNanoGPT, NanoGPT
    from .emulator import Emulator

TEST_API_KEY = "sk-nano-00000000-0000-4000-8000-000000000000"

__all__ = ["TEST_API_KEY", "nanogpt_async_client", "nanogpt_client", "nanogpt_emulator",
           "nanogpt_emulator_options", "nanogpt_emulator_session", "nanogpt_run"]

T = TypeVar("T")
FAST_RETRY_DELAY = 0.01  # the first retry's wait, in seconds: a test need not wait long
FAST_RETRY_MAX_DELAY = 0.05


@pytest.fixture(scope="session")
def nanogpt_emulator_options() -> dict[str, Any]:
    """Keyword arguments for the session's ``Emulator``: none by default (the documented
    stream format). Override it in your conftest.py, e.g. ``{"quirks": True}``."""
    return {}


@pytest.fixture(scope="session")
def nanogpt_emulator_session(nanogpt_emulator_options: dict[str, Any]) -> Iterator[Emulator]:
    """The session's emulator, built with ``nanogpt_emulator_options``."""
    from .emulator import Emulator

    with Emulator(**nanogpt_emulator_options) as emu:
        yield emu


@pytest.fixture
def nanogpt_emulator(nanogpt_emulator_session: Emulator) -> Iterator[Emulator]:
    """The session's emulator, with faults cleared and counters reset for this test."""
    emu = nanogpt_emulator_session
    emu.clear_faults()
    emu.reset_stats()
    yield emu
    emu.clear_faults()


@pytest.fixture
def nanogpt_client(nanogpt_emulator: Emulator) -> Iterator[NanoGPT]:
    """A ``NanoGPT`` client pointed at ``nanogpt_emulator``, with a test key and fast
    retries."""
    from . import NanoGPT

    with NanoGPT(TEST_API_KEY, base_url=nanogpt_emulator.base_url, trust_env=False,
                 retry_base_delay=FAST_RETRY_DELAY, retry_max_delay=FAST_RETRY_MAX_DELAY
                 ) as client:
        yield client


@pytest.fixture
def nanogpt_run() -> Iterator[Callable[[Coroutine[Any, Any, T]], T]]:
    """Runs a coroutine to its end on this test's event loop and returns its result:
    ``nanogpt_run(client.chat.completions.create(...))``. The loop is closed after the
    test; ``nanogpt_async_client`` is closed on it first."""
    loop = asyncio.new_event_loop()
    try:
        yield loop.run_until_complete
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


@pytest.fixture
def nanogpt_async_client(nanogpt_emulator: Emulator,
                         nanogpt_run: Callable[[Coroutine[Any, Any, None]], None]
                         ) -> Iterator[AsyncNanoGPT]:
    """An ``AsyncNanoGPT`` pointed at ``nanogpt_emulator``, with a test key and fast retries;
    use it in coroutines run by ``nanogpt_run``, which closes it after the test."""
    from . import AsyncNanoGPT

    client = AsyncNanoGPT(TEST_API_KEY, base_url=nanogpt_emulator.base_url, trust_env=False,
                          retry_base_delay=FAST_RETRY_DELAY,
                          retry_max_delay=FAST_RETRY_MAX_DELAY)
    try:
        yield client
    finally:
        nanogpt_run(client.close())
