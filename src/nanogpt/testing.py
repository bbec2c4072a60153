"""Pytest helpers for your own tests: an emulator and clients pointed at it.

Installed as a pytest plugin, so the fixtures are available without imports:

    def test_my_bot(nanogpt_client, nanogpt_emulator):
        nanogpt_emulator.inject(status=429, retry_after=0)
        assert my_bot(nanogpt_client) == ...

``nanogpt_emulator`` is one server per test session (faults and counters are reset per test);
``nanogpt_client`` is a ``NanoGPT`` pointed at it with a test key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from . import NanoGPT
    from .emulator import Emulator

TEST_API_KEY = "sk-nano-00000000-0000-4000-8000-000000000000"

__all__ = ["TEST_API_KEY", "nanogpt_client", "nanogpt_emulator", "nanogpt_emulator_session"]


@pytest.fixture(scope="session")
def nanogpt_emulator_session() -> Iterator[Emulator]:
    from .emulator import Emulator

    with Emulator() as emu:
        yield emu


@pytest.fixture
def nanogpt_emulator(nanogpt_emulator_session: Emulator) -> Iterator[Emulator]:
    emu = nanogpt_emulator_session
    emu.clear_faults()
    emu.reset_stats()
    yield emu
    emu.clear_faults()


@pytest.fixture
def nanogpt_client(nanogpt_emulator: Emulator) -> Iterator[NanoGPT]:
    from . import NanoGPT

    with NanoGPT(TEST_API_KEY, base_url=nanogpt_emulator.base_url, retry_base_delay=0.01,
                 retry_max_delay=0.05) as client:
        yield client
