"""Results of every capability survive ``pickle`` and ``copy.deepcopy`` whole: ``.raw`` (the
fields the class does not declare too) and ``.request_id``, which live beside a struct's fields
and which a msgspec struct's own pickling leaves out; on both clients against the emulator."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import pytest

HI = [{"role": "user", "content": "hi"}]
JSONL = b'{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{}}\n'

CALLS: dict[str, Callable[[Any], Any]] = {
    "chat": lambda c: c.chat.completions.create(model="openai/gpt-5-mini", messages=HI),
    "usage": lambda c: c.usage(),
    "quota": lambda c: c.subscription.usage(),
    "providers": lambda c: c.models.providers("deepseek/deepseek-v3.2"),
    "tokens": lambda c: c.messages.count_tokens(model="openai/gpt-5-mini", messages=HI),
    "embeddings": lambda c: c.embeddings.create(model="text-embedding-3-small", input="hi"),
    "images": lambda c: c.images.generate(model="hidream", prompt="a cat"),
    "transcription": lambda c: c.audio.transcriptions.create(
        model="Whisper-Large-V3", file=b"\x00" * 10, filename="a.wav"),
    "audio_models": lambda c: c.audio.models(),
    "web": lambda c: c.web.search("q"),
    "file": lambda c: c.files.create(JSONL, filename="a.jsonl"),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_a_result_keeps_its_raw_and_request_id_through_pickle_and_deepcopy(client,
                                                                           name) -> None:
    result = CALLS[name](client)
    assert result.request_id is not None
    for again in (pickle.loads(pickle.dumps(result)), copy.deepcopy(result), copy.copy(result)):
        assert type(again) is type(result)
        assert again.raw == result.raw
        assert again.request_id == result.request_id
        assert repr(again) == repr(result)
