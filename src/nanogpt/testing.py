"""Pytest helpers for your own tests: an emulator and clients pointed at it.

Installed as a pytest plugin, so the fixtures are available without imports:

    def test_my_bot(nanogpt_client, nanogpt_emulator):
        nanogpt_emulator.inject(status=429, retry_after=0)
        assert my_bot(nanogpt_client) == ...

``nanogpt_emulator`` is one server per test session (faults and counters are reset per test);
``nanogpt_client`` is a ``NanoGPT`` pointed at it with a test key.

The emulator streams NanoGPT's documented format (``data:`` frames and ``data: [DONE]``). To
test a client against the quirks seen in the wild too (keep-alive comments, ``retry:``/``id:``
/``event:`` lines, usage on a chunk with no choices), override the options fixture in your
``conftest.py``; its dict is passed to ``Emulator(...)``:

    @pytest.fixture(scope="session")
    def nanogpt_emulator_options():
        return {"quirks": True}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from . import NanoGPT
    from .emulator import Emulator

TEST_API_KEY = "sk-nano-00000000-0000-4000-8000-000000000000"

__all__ = ["TEST_API_KEY", "nanogpt_client", "nanogpt_emulator", "nanogpt_emulator_options",
           "nanogpt_emulator_session"]


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

    with NanoGPT(TEST_API_KEY, base_url=nanogpt_emulator.base_url, retry_base_delay=0.01,
                 retry_max_delay=0.05) as client:
        yield client
