"""Body faults on the billed transcription endpoint, as on chat, embeddings and search: a JSON
answer cut half-way (``reset_after_chunks``) and one that is not JSON (``non_json``)."""

from __future__ import annotations

import pytest

import nanogpt
from nanogpt.emulator import Fault
from nanogpt.emulator._audio import make_wav

PATH = "/audio/transcriptions"


def wav() -> bytes:
    return make_wav("a short note")


def test_a_transcription_cut_half_way_is_billed_once_and_not_retried(make_client, emu) -> None:
    client = make_client()
    emu.inject(Fault(reset_after_chunks=0), path=PATH)
    with pytest.raises(nanogpt.APIConnectionError) as e:
        client.audio.transcriptions.create(model="Whisper-Large-V3", file=wav(),
                                           filename="note.wav")
    assert e.value.answer_cut
    assert emu.count(PATH) == 1
    assert [c.kind for c in emu.ledger.entries()] == ["transcription"]


def test_a_transcription_that_is_not_json(make_client, emu) -> None:
    client = make_client()
    emu.inject(Fault(non_json=True), path=PATH)
    with pytest.raises(nanogpt.APIResponseValidationError):
        client.audio.transcriptions.create(model="Whisper-Large-V3", file=wav(),
                                           filename="note.wav")
    assert emu.count(PATH) == 1
