"""The emulator's audio endpoints on the wire (urllib3, no SDK): speech is a short valid WAV,
stable per input, chunked when streamed; transcription hears the text a WAV of its own was made
from; the documented error codes; the audio model list without a key."""

from __future__ import annotations

import io
import json
import wave
from typing import Any

import pytest
import urllib3

from nanogpt.emulator import Emulator, Fault
from nanogpt.emulator._audio import make_wav, pcm, spoken_text

KEY = {"Authorization": "Bearer sk-nano-test"}


def post(emu: Emulator, path: str, body: Any, headers: dict[str, str] | None = None,
         **kw: Any) -> urllib3.BaseHTTPResponse:
    return urllib3.request("POST", emu.base_url + path, body=json.dumps(body).encode(),
                           headers={**KEY, "Content-Type": "application/json",
                                    **(headers or {})}, retries=False, **kw)


def speech(emu: Emulator, **body: Any) -> urllib3.BaseHTTPResponse:
    body.setdefault("model", "tts-1")
    body.setdefault("input", "hello there")
    return post(emu, "/audio/speech", body)


def test_make_wav_is_valid_stable_and_carries_its_text() -> None:
    data = make_wav("one two three", "seed")
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
        assert w.getnframes() == int(8000 * 0.75)
        assert w.readframes(w.getnframes()) == pcm("one two three", "seed")
    assert make_wav("one two three", "seed") == data
    assert make_wav("one two four", "seed") != data
    assert spoken_text(data) == "one two three"
    assert spoken_text(make_wav("odd", "")) == "odd"  # an odd-length chunk is padded
    assert spoken_text(b"ID3 not a wav") is None


@pytest.mark.parametrize("fmt, content_type", [
    ("wav", "audio/wav"), ("mp3", "audio/mpeg"), ("opus", "audio/opus"), ("flac", "audio/flac"),
    ("aac", "audio/aac"), ("pcm", "audio/pcm")])
def test_speech_formats_and_their_content_types(emu, fmt, content_type) -> None:
    r = speech(emu, response_format=fmt)
    assert r.status == 200 and r.headers["Content-Type"] == content_type
    if fmt == "pcm":
        assert r.data == pcm("hello there", "tts-1/alloy/1")
    else:  # a real WAV (mp3, opus, aac, flac are faked: documented in the module)
        assert spoken_text(r.data) == "hello there"
    assert emu.ledger.entries()[-1].kind == "speech"


def test_streamed_speech_is_chunked_and_the_same_audio(emu) -> None:
    whole = speech(emu, response_format="wav").data
    r = speech(emu, response_format="wav", stream=True)
    assert r.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in r.headers
    assert r.data == whole
    not_streaming = speech(emu, model="Kokoro-82m", voice="af_bella", stream=True)
    assert not_streaming.headers.get("Content-Length")  # stream is ignored, as documented


@pytest.mark.parametrize("body, code", [
    ({"model": "nope"}, "invalid_model"), ({"voice": "nobody"}, "invalid_voice"),
    ({"response_format": "ogg"}, "unsupported_format"), ({"input": "x" * 4097}, "input_too_long"),
    ({"input": ""}, "invalid_request"), ({"speed": 9}, "invalid_request")])
def test_speech_errors_are_documented_json(emu, body, code) -> None:
    before = len(emu.ledger.entries())
    r = speech(emu, **body)
    assert r.status == 400
    assert r.json()["error"]["code"] == code
    assert len(emu.ledger.entries()) == before  # nothing charged


def test_speech_needs_a_key(emu) -> None:
    r = urllib3.request("POST", emu.base_url + "/audio/speech", json={"model": "tts-1",
                                                                      "input": "hi"})
    assert r.status == 401 and r.json()["error"]["code"] == "missing_api_key"


def test_a_streamed_speech_cut_by_a_fault(emu) -> None:
    emu.inject(Fault(cut_after_chunks=1), path="/audio/speech")
    with pytest.raises(urllib3.exceptions.ProtocolError):
        speech(emu, input="word " * 40, response_format="wav", stream=True)


def multipart(name: str, data: bytes, **fields: str) -> tuple[bytes, str]:
    from nanogpt._core.multipart import form_data

    return form_data(fields, {"file": (name, data, "audio/wav")})


def transcribe(emu: Emulator, name: str, data: bytes, **fields: str
               ) -> urllib3.BaseHTTPResponse:
    body, content_type = multipart(name, data, **fields)
    return urllib3.request("POST", emu.base_url + "/audio/transcriptions", body=body,
                           headers={**KEY, "Content-Type": content_type}, retries=False)


def test_transcription_hears_its_own_wav_and_bills_per_minute(emu) -> None:
    r = transcribe(emu, "a.wav", make_wav("good morning"), model="Elevenlabs-STT",
                   language="fr")
    assert r.json() == {"text": "good morning", "language": "fr", "duration": 0.5}
    last = emu.ledger.entries()[-1]
    assert (last.model, last.kind, last.amount) == ("Elevenlabs-STT", "transcription", 0.03)
    other = transcribe(emu, "x.mp3", b"\xff" * 20, model="Wizper").json()
    assert other["text"] == "Transcript of x.mp3 (20 bytes)."


def test_transcription_errors(emu) -> None:
    assert transcribe(emu, "a.wav", b"x", model="nope").json()["error"]["code"] == \
        "invalid_model"
    big = transcribe(emu, "a.wav", b"x" * (3 * 1024 * 1024 + 1), model="Wizper")
    assert big.status == 413 and big.json()["error"]["code"] == "file_too_large"
    no_file = post(emu, "/audio/transcriptions", {"model": "Wizper"})
    assert no_file.status == 400 and no_file.json()["error"]["param"] == "file"
    by_url = post(emu, "/audio/transcriptions", {"model": "Wizper",
                                                  "audio_url": "https://e.com/talk.ogg"})
    assert by_url.json()["text"] == "Transcript of talk.ogg."


def test_audio_models_without_a_key(emu) -> None:
    every = urllib3.request("GET", emu.base_url + "/audio-models").json()
    assert every["object"] == "list" and every["meta"]["count"] == len(every["data"])
    stt = urllib3.request("GET", emu.base_url + "/audio-models?type=stt").json()
    assert stt["meta"]["type"] == "stt"
    assert all(m["capabilities"]["speech_to_text"] for m in stt["data"])
    bad = urllib3.request("GET", emu.base_url + "/audio-models?type=video")
    assert bad.status == 400
