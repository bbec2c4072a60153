"""Errors survive pickling (``multiprocessing``, ``ProcessPoolExecutor``, task queues send
exceptions between processes so): the same class, message and attributes come out. The
errors are real ones, raised by both clients against the emulator."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import pytest

from conftest import USER
from nanogpt import (
    APIResponseValidationError,
    InvalidParameterError,
    NanoGPTError,
    RateLimitError,
    StreamError,
)
from nanogpt.emulator import Emulator, Fault

MODEL = "openai/gpt-5-nano"


def _raised(call: Callable[[], Any]) -> NanoGPTError:
    with pytest.raises(NanoGPTError) as info:
        call()
    return info.value


def _same_after_pickling(error: NanoGPTError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.__dict__ == error.__dict__


def test_errors_of_both_clients_survive_pickling(make_client: Callable[..., Any],
                                                 emu: Emulator) -> None:
    client = make_client(max_retries=0)
    chat = client.chat.completions

    emu.inject(Fault(status=429, retry_after=7), path="/chat", times=1)
    limited = _raised(lambda: chat.create(model=MODEL, messages=USER))
    assert isinstance(limited, RateLimitError)
    _same_after_pickling(limited)
    assert pickle.loads(pickle.dumps(limited)).retry_after == limited.retry_after

    emu.inject(Fault(non_json=True), path="/chat", times=1)
    invalid = _raised(lambda: chat.create(model=MODEL, messages=USER))
    assert isinstance(invalid, APIResponseValidationError)
    _same_after_pickling(invalid)

    emu.inject(Fault(cut_after_chunks=2), path="/chat", times=1)
    cut = _raised(lambda: list(chat.create(model=MODEL, messages=USER, stream=True)))
    assert isinstance(cut, StreamError)
    _same_after_pickling(cut)

    bad = _raised(lambda: chat.create(model=MODEL, messages=USER, temperature="hot"))
    assert isinstance(bad, InvalidParameterError)
    _same_after_pickling(bad)
