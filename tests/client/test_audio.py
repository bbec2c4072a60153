"""``client.audio``, on both clients against the emulator: speech whole and streamed (bounded
memory, the connection given back and reused, a cut body never re-sent), transcription by
upload and by URL, the audio model lists; the documented errors, bad input refused before
anything is sent, faults, and the charges in the emulator's ledger."""

from __future__ import annotations

import io
import re
import wave
from pathlib import Path
from typing import Any

import pytest

from nanogpt import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    InvalidParameterError,
)
from nanogpt.emulator import INVALID_API_KEY, Fault
from nanogpt.types import (
    AudioModelList,
    SpeechAudio,
    Transcription,
    TranscriptionSegment,
)

TTS = "tts-1"
STT = "Whisper-Large-V3"
TEXT = "the quick brown fox jumps over the lazy dog"


def speak(client: Any, **kw: Any) -> SpeechAudio:
    kw.setdefault("model", TTS)
    kw.setdefault("input", TEXT)
    kw.setdefault("voice", "alloy")
    kw.setdefault("response_format", "wav")
    return client.audio.speech.create(**kw)  # type: ignore[no-any-return]


def stream_to_file(kind: str, loop_thread: Any, client: Any, path: Path,
                   chunk_size: int | None = None, **kw: Any) -> tuple[int, Any]:
    """Open a speech stream on either client and write it to ``path``."""
    kw.setdefault("model", TTS)
    kw.setdefault("input", TEXT)
    kw.setdefault("voice", "alloy")
    kw.setdefault("response_format", "wav")
    stream = client.audio.speech.stream(**kw)
    if kind == "sync":
        with stream:
            return stream.stream_to_file(path, chunk_size=chunk_size), stream

    async def write() -> int:
        async with stream:
            return await stream.stream_to_file(path, chunk_size=chunk_size)  # type: ignore

    return loop_thread.run(write()), stream


def frames(data: bytes) -> int:
    with wave.open(io.BytesIO(data), "rb") as w:
        return w.getnframes()


# speech -----------------------------------------------------------------------------------

def test_speech_is_a_valid_wav_with_its_type_and_request_id(client, emu) -> None:
    audio = speak(client)
    assert isinstance(audio, SpeechAudio)
    assert frames(audio.content) > 0
    assert audio.content_type == "audio/wav"
    assert audio.request_id is not None and audio.request_id.startswith("emu-")
    assert b"".join(audio.iter_bytes(1000)) == audio.content
    assert all(len(p) == 1000 for p in list(audio.iter_bytes(1000))[:-1])
    body = emu.requests[-1].body
    assert body == {"model": TTS, "input": TEXT, "voice": "alloy", "response_format": "wav"}
    assert speak(client).content == audio.content  # deterministic per input
    assert speak(client, input="something else").content != audio.content


def test_speech_save_writes_the_file(client, tmp_path) -> None:
    audio = speak(client)
    audio.save(tmp_path / "a.wav")
    assert (tmp_path / "a.wav").read_bytes() == audio.content


def test_speech_is_charged_once_per_input_character(client, emu) -> None:
    before = len(emu.ledger.entries())
    speak(client)
    charges = emu.ledger.entries()[before:]
    assert [(c.model, c.kind) for c in charges] == [(TTS, "speech")]
    assert charges[0].amount == pytest.approx(len(TEXT) * 0.015 / 1000)


def test_streamed_speech_reaches_the_file_and_reuses_the_connection(
        kind, loop_thread, make_client, emu, tmp_path) -> None:
    client = make_client()
    whole = speak(client, input=TEXT * 3).content
    written, stream = stream_to_file(kind, loop_thread, client, tmp_path / "s.wav",
                                     input=TEXT * 3)
    assert written == len(whole) and (tmp_path / "s.wav").read_bytes() == whole
    assert stream.bytes_read == len(whole) and stream.content_type == "audio/wav"
    assert emu.requests[-1].body["stream"] is True
    speak(client)
    assert len(emu.peers) == 1  # the body was read to its end: the connection was reused


def test_streamed_speech_in_fixed_pieces(kind, loop_thread, make_client, tmp_path) -> None:
    client = make_client()
    whole = speak(client, input=TEXT * 3).content
    written, _ = stream_to_file(kind, loop_thread, client, tmp_path / "p.wav", chunk_size=1000,
                                input=TEXT * 3)
    assert written == len(whole)


def test_with_streaming_response_is_the_openai_spelling(kind, loop_thread, make_client,
                                                        tmp_path) -> None:
    client = make_client()
    opened = client.audio.speech.with_streaming_response.create(
        model=TTS, input=TEXT, voice="alloy", response_format="wav")
    if kind == "sync":
        with opened as r:
            data = r.read()
    else:
        async def read() -> bytes:
            async with opened as r:
                return await r.read()  # type: ignore[no-any-return]
        data = loop_thread.run(read())
    assert data == speak(client).content


def test_a_stream_closed_early_gives_its_slot_back(kind, loop_thread, make_client,
                                                   emu) -> None:
    """One slot: a stream closed after its first piece lets the next call run."""
    client = make_client(max_concurrency=1)
    stream = client.audio.speech.stream(model=TTS, input=TEXT * 20, voice="alloy")
    if kind == "sync":
        first = next(iter(stream.iter_bytes(100)))
        stream.close()
    else:
        async def first_then_close() -> bytes:
            piece = await stream.iter_bytes(100).__anext__()
            await stream.close()
            return piece  # type: ignore[no-any-return]
        first = loop_thread.run(first_then_close())
    assert len(first) == 100
    assert speak(client).content  # not refused, not waiting: the slot came back


def test_a_cut_stream_is_an_error_and_never_sent_again(kind, loop_thread, make_client, emu,
                                                       tmp_path) -> None:
    emu.inject(Fault(reset_after_chunks=1), path="/audio/speech")
    before = len(emu.ledger.entries())
    with pytest.raises(APIConnectionError) as e:
        stream_to_file(kind, loop_thread, make_client(), tmp_path / "cut.wav", input=TEXT * 3)
    assert e.value.answer_cut
    assert emu.count("/audio/speech") == 1
    assert len(emu.ledger.entries()) == before + 1


def test_a_whole_answer_cut_half_way_is_not_retried(make_client, emu) -> None:
    emu.inject(Fault(reset_after_chunks=0), path="/audio/speech")
    with pytest.raises(APIConnectionError) as e:
        speak(make_client())
    assert e.value.answer_cut
    assert emu.count("/audio/speech") == 1


def test_speech_rate_limited_then_served(make_client, emu) -> None:
    emu.inject(Fault(status=429, retry_after=0), path="/audio/speech")
    assert speak(make_client()).content
    assert emu.count("/audio/speech") == 2
    assert [c.kind for c in emu.ledger.entries()[-1:]] == ["speech"]


def test_speech_documented_errors_are_typed_and_not_retried(client, emu) -> None:
    cases = [({"model": "no-such-tts"}, "invalid_model"),
             ({"voice": "nobody"}, "invalid_voice"),
             ({"response_format": "ogg-vorbis"}, "unsupported_format"),
             ({"input": "x" * 5000}, "input_too_long")]
    for args, code in cases:
        emu.reset_stats()
        with pytest.raises(BadRequestError) as e:
            speak(client, **args)
        assert e.value.code == code
        assert emu.count() == 1


def test_a_refused_key_is_an_authentication_error(make_client, emu) -> None:
    with pytest.raises(AuthenticationError):
        speak(make_client(INVALID_API_KEY))
    assert emu.count() == 1


@pytest.mark.parametrize("args, param", [
    ({"input": ""}, "input"), ({"input": None}, "input"), ({"model": ""}, "model"),
    ({"voice": 3}, "voice"), ({"speed": -1}, "speed"), ({"speed": True}, "speed"),
    ({"response_format": ""}, "response_format"), ({"extra_body": [1]}, "extra_body")])
def test_bad_speech_arguments_are_refused_before_sending(client, emu, args, param) -> None:
    with pytest.raises(InvalidParameterError) as e:
        speak(client, **args)
    assert e.value.param == param
    assert emu.count() == 0


def test_a_json_answer_to_speech_is_not_taken_for_audio(kind, loop_thread, make_client, emu,
                                                       tmp_path) -> None:
    """Whole or streamed, a JSON 200 is an error that quotes it, not audio (nor a file)."""
    from nanogpt import APIResponseValidationError

    client = make_client(max_concurrency=1)
    for _ in range(2):
        emu.inject(Fault(body='{"audioUrl": "https://example.com/a.mp3"}'),
                   path="/audio/speech")
    with pytest.raises(APIResponseValidationError, match="audioUrl"):
        speak(client)
    with pytest.raises(APIResponseValidationError, match="audioUrl"):
        stream_to_file(kind, loop_thread, client, tmp_path / "x.wav")
    assert not (tmp_path / "x.wav").exists()
    assert speak(client).content  # the one slot was given back


# transcription ----------------------------------------------------------------------------

def test_transcribing_what_was_spoken_returns_its_text(client, emu, tmp_path) -> None:
    path = tmp_path / "said.wav"
    speak(client).save(path)
    before = len(emu.ledger.entries())
    result = client.audio.transcriptions.create(model=STT, file=path, language="en")
    assert isinstance(result, Transcription)
    assert result.text == TEXT and result.language == "en"
    assert result.duration is not None and result.duration > 0
    assert result.request_id is not None
    charges = emu.ledger.entries()[before:]
    assert [(c.model, c.kind, c.amount) for c in charges] == [(STT, "transcription", 0.01)]
    seen = emu.requests[-1]
    assert seen.headers["content-type"].startswith("multipart/form-data")


def test_transcription_takes_bytes_and_file_objects(client, tmp_path) -> None:
    audio = speak(client).content
    assert client.audio.transcriptions.create(model=STT, file=audio).text == TEXT
    path = tmp_path / "said.wav"
    path.write_bytes(audio)
    with open(path, "rb") as f:
        assert client.audio.transcriptions.create(model=STT, file=f).text == TEXT
    other = client.audio.transcriptions.create(model=STT, file=b"\x00" * 100,
                                               filename="noise.mp3")
    assert other.text == "Transcript of noise.mp3 (100 bytes)."


def test_transcription_by_url_sends_json(client, emu) -> None:
    result = client.audio.transcriptions.create(model=STT, file_url="https://example.com/a.mp3")
    assert result.text == "Transcript of a.mp3."
    assert emu.requests[-1].body == {"file_url": "https://example.com/a.mp3", "model": STT}


def test_transcription_formats(client) -> None:
    audio = speak(client).content
    plain = client.audio.transcriptions.create(model=STT, file=audio, response_format="text")
    assert plain.text == TEXT
    verbose = client.audio.transcriptions.create(model=STT, file=audio,
                                                 response_format="verbose_json")
    assert verbose.segments and isinstance(verbose.segments[0], TranscriptionSegment)
    assert verbose.segments[0].text == TEXT
    assert verbose.raw["segments"][0]["id"] == 0


@pytest.mark.parametrize("args, param", [
    ({}, "file"), ({"file": b"x", "file_url": "https://e.com/a.mp3"}, "file"),
    ({"file": b""}, "file"), ({"file": b"x" * (3 * 1024 * 1024 + 1)}, "file"),
    ({"file": b"x", "filename": "notes.csv"}, "file"), ({"file": 12}, "file"),
    ({"file_url": "ftp://e.com/a.mp3"}, "file_url"), ({"file": b"x", "model": ""}, "model"),
    ({"file": b"x", "language": ""}, "language"), ({"file": io.StringIO("text")}, "file")])
def test_bad_transcription_arguments_are_refused_before_sending(client, emu, args,
                                                                 param) -> None:
    args.setdefault("model", STT)
    with pytest.raises(InvalidParameterError) as e:
        client.audio.transcriptions.create(**args)
    assert e.value.param == param
    assert emu.count() == 0


def test_a_large_file_is_refused_before_it_is_read(client, emu, tmp_path) -> None:
    big = tmp_path / "long.mp3"
    with open(big, "wb") as f:
        f.truncate(3 * 1024 * 1024 + 1)
    with pytest.raises(InvalidParameterError, match="file_url"):
        client.audio.transcriptions.create(model=STT, file=big)
    with pytest.raises(FileNotFoundError):
        client.audio.transcriptions.create(model=STT, file=tmp_path / "missing.mp3")
    assert emu.count() == 0


def test_transcription_unknown_model_is_a_bad_request(client, emu) -> None:
    with pytest.raises(BadRequestError) as e:
        client.audio.transcriptions.create(model="nope", file=b"x", filename="a.wav")
    assert e.value.code == "invalid_model"
    assert emu.count() == 1


def test_transcription_after_a_503_is_served(make_client, emu) -> None:
    emu.inject(Fault(status=503, retry_after=0), path="/audio/transcriptions")
    assert make_client().audio.transcriptions.create(model=STT, file=b"x" * 10,
                                                     filename="a.wav").text
    assert emu.count("/audio/transcriptions") == 2


# the audio models, and the namespace on copies -------------------------------------------

def test_audio_model_lists_are_typed_and_filtered(client, emu) -> None:
    every = client.audio.models()
    assert isinstance(every, AudioModelList)
    tts, stt = client.audio.models("tts"), client.audio.models("stt")
    assert TTS in tts.ids and STT in stt.ids
    assert sorted(every.ids) == sorted(tts.ids + stt.ids)
    assert all(m.text_to_speech and not m.speech_to_text for m in tts)
    assert all(m.speech_to_text for m in stt)
    assert "alloy" in tts.data[0].supported_parameters["voices"]  # type: ignore[index]
    assert every.raw["meta"]["count"] == len(every)
    assert emu.requests[-1].path.endswith("type=stt")
    with pytest.raises(InvalidParameterError):
        client.audio.models("music")


def test_audio_models_need_no_key(make_client) -> None:
    assert make_client(api_key=None).audio.models("tts").ids


def test_copies_of_the_client_have_their_own_audio(make_client, kind, loop_thread) -> None:
    client = make_client()
    assert client.audio.models("stt").ids
    copy = client.with_options(timeout=30)
    target = getattr(client, "_target", client)  # the async client behind the test proxy
    assert copy.audio is not target.audio and copy.audio._client is copy
    listed = copy.audio.models("stt")
    assert (listed if kind == "sync" else loop_thread.run(listed)).ids
    raw = client.with_raw_response.audio.speech.create(model=TTS, input=TEXT, voice="alloy",
                                                        response_format="wav")
    assert raw.status_code == 200 and frames(raw.content) > 0
    assert raw.headers["content-type"] == "audio/wav"


def _readme_section(heading: str) -> str:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    return re.split(r"\n#{2,4} ", readme.split(f"{heading}\n", 1)[1], maxsplit=1)[0]


def test_the_readme_example_runs(emu, monkeypatch, tmp_path, capsys) -> None:
    from conftest import KEY

    (example,) = re.findall(r"```python\n(.*?)```", _readme_section(
        "#### Speech and transcription"), re.S)
    monkeypatch.setenv("NANOGPT_API_KEY", KEY)
    monkeypatch.setenv("NANOGPT_BASE_URL", emu.base_url)
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md", "exec"), {"__name__": "readme_example"})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("audio/wav ") and out[1].startswith("Hello from NanoGPT en ")
    assert frames((tmp_path / "hello.wav").read_bytes()) > 0
    assert (tmp_path / "chapter.mp3").stat().st_size > 0
    assert emu.requests[-3].body["stream"] is True


# bounded memory ----------------------------------------------------------------------------

LONG_AUDIO = 16 * 1024 * 1024  # bytes a raw server streams: 16 times max_response_bytes


def _long_audio(conn: Any) -> None:
    """Answers each speech request with LONG_AUDIO bytes of "audio", chunked, 64 KiB a chunk."""
    piece = bytes(range(256)) * 256
    while conn.read_request() is not None:
        conn.send(b"HTTP/1.1 200 OK\r\ncontent-type: audio/mpeg\r\n"
                  b"transfer-encoding: chunked\r\n\r\n")
        for _ in range(LONG_AUDIO // len(piece)):
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        conn.send(b"0\r\n\r\n")


def test_a_long_stream_goes_to_disk_in_bounded_memory(kind, loop_thread, make_client,
                                                      raw_server, tmp_path) -> None:
    """Streamed speech is not held whole: 16 MiB reach the file while the client's
    ``max_response_bytes`` is 1 MiB, and the memory traced meanwhile stays under 4 MiB."""
    import tracemalloc

    srv = raw_server(_long_audio)
    client = make_client(base_url=srv.base_url, max_response_bytes=1024 * 1024)
    tracemalloc.start()
    try:
        written, _ = stream_to_file(kind, loop_thread, client, tmp_path / "long.mp3")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written == LONG_AUDIO == (tmp_path / "long.mp3").stat().st_size
    assert peak < 4 * 1024 * 1024
    assert srv.count("POST") == 1


def test_usage_reflects_what_audio_cost(client, emu) -> None:
    """The emulator's usage endpoint reads the ledger: speech and transcription show in it."""
    speak(client)
    client.audio.transcriptions.create(model="Wizper", file=b"x" * 10, filename="a.wav")
    by_model = {row.model: row for row in client.usage(group_by="model").by_model}
    assert by_model[TTS].requests == 1 and by_model["Wizper"].requests == 1
    assert float(by_model["Wizper"].cost) == pytest.approx(0.01)
    assert float(by_model[TTS].cost) == pytest.approx(len(TEXT) * 0.015 / 1000)
