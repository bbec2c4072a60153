"""The audio endpoints: speech (``POST /api/v1/audio/speech``), transcription
(``POST /api/v1/audio/transcriptions``) and the audio model list (``GET /api/v1/audio-models``).

Speech is a short, valid WAV file (16-bit mono, 8 kHz; the ``wave`` module), the same for the
same input, model, voice and speed: a tone whose pitch comes from a hash of them, a quarter of a
second per word (at most three seconds), with the input text kept in an extra RIFF chunk
(``ngpt``, which players skip). ``response_format`` ``wav`` and ``pcm`` (the bare samples) are
real; ``mp3``, ``opus``, ``aac`` and ``flac`` are FAKED: the bytes are that WAV, sent under the
format's ``Content-Type``. ``stream: true`` on a model that streams sends the file in 4 KiB
chunks (``Transfer-Encoding: chunked``), where ``reset_after_chunks`` / ``cut_after_chunks``
faults break it; whole answers take ``trickle`` and ``reset_after_chunks`` (cut half-way).

A transcription of a WAV this emulator made returns the text it was made from; of anything
else, a sentence naming the upload's name and size. Its JSON answer takes the body faults a
chat answer takes (``non_json``, ``reset_after_chunks``: cut half-way, ``trickle``). Its
duration is the WAV's (else one second per 16 KiB), billed per started minute at the model's
price. Every billed answer is charged in the ledger once, when it starts.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import math
import struct
import wave
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web

from . import _phases
from ._auth import unauthorized
from ._batches import parse_multipart
from ._errors import json_error
from ._exchange import Aborted, reset_connection
from ._exchange import RequestKeys as K
from ._records import RecordedRequest

if TYPE_CHECKING:
    from ._faults import Fault
    from ._routes import Site

__all__ = ["audio_models", "make_wav", "pcm", "speech", "spoken_text", "transcription"]

RATE = 8000  # samples per second
SECONDS_PER_WORD = 0.25
MAX_SECONDS = 3.0
MAX_INPUT_CHARS = 4096  # the emulator's own limit (NanoGPT's depends on the model)
MAX_UPLOAD_BYTES = 3 * 1024 * 1024  # the documented direct-upload limit
CHUNK = 4096  # bytes per chunk of a streamed answer
TEXT_CHUNK = b"ngpt"
OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage",
                 "shimmer", "verse")
# the documented models; prices from tts.mdx (USD per 1,000 input characters) and
# speech-to-text.mdx (USD per minute)
TTS_MODELS: dict[str, dict[str, Any]] = {
    "tts-1": {"per_1k_chars": 0.015, "stream": True, "voices": OPENAI_VOICES},
    "tts-1-hd": {"per_1k_chars": 0.030, "stream": True, "voices": OPENAI_VOICES},
    "gpt-4o-mini-tts": {"per_1k_chars": 0.0006, "stream": True, "voices": OPENAI_VOICES},
    "Kokoro-82m": {"per_1k_chars": 0.001, "stream": False,
                   "voices": ("af_bella", "af_nova", "am_adam", "bf_alice", "bm_daniel")},
    "Elevenlabs-Turbo-V2.5": {"per_1k_chars": 0.06, "stream": True,
                              "voices": ("Rachel", "Adam", "Bella", "Brian")},
}
STT_MODELS: dict[str, float] = {"Whisper-Large-V3": 0.01, "Wizper": 0.01,
                                "Elevenlabs-STT": 0.03}
CONTENT_TYPES = {"mp3": "audio/mpeg", "opus": "audio/opus", "aac": "audio/aac",
                 "flac": "audio/flac", "wav": "audio/wav", "pcm": "audio/pcm"}


# the audio ----------------------------------------------------------------------------------

def _samples(text: str, seed: bytes) -> bytes:
    """A tone, its pitch from ``seed``, as long as ``text`` has words (16-bit little-endian)."""
    words = max(1, len(text.split()))
    count = int(RATE * min(MAX_SECONDS, words * SECONDS_PER_WORD))
    pitch = 220 + int.from_bytes(hashlib.sha256(seed).digest()[:2], "big") % 660
    step = 2 * math.pi * pitch / RATE
    return b"".join(struct.pack("<h", int(8000 * math.sin(step * i))) for i in range(count))


def pcm(text: str, seed: str = "") -> bytes:
    """The bare samples of :func:`make_wav`'s file (``response_format: pcm``)."""
    return _samples(text, (seed + "\0" + text).encode())


def make_wav(text: str, seed: str = "") -> bytes:
    """A valid WAV file speaking ``text`` (a tone), with the text in an ``ngpt`` chunk."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm(text, seed))
    data = text.encode()
    chunk = TEXT_CHUNK + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")
    riff = out.getvalue() + chunk
    return riff[:4] + struct.pack("<I", len(riff) - 8) + riff[8:]


def spoken_text(data: bytes) -> str | None:
    """The text a WAV from :func:`make_wav` was made from, or None for any other bytes."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(data):
        name, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if name == TEXT_CHUNK:
            return data[pos + 8:pos + 8 + size].decode("utf-8", "replace")
        pos += 8 + size + (size % 2)
    return None


def wav_seconds(data: bytes) -> float | None:
    """The duration of a WAV file, or None when ``data`` is not one."""
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            return w.getnframes() / w.getframerate()
    except (wave.Error, EOFError, ValueError, struct.error):
        return None


# handlers -----------------------------------------------------------------------------------

async def speech(site: Site, request: web.Request) -> web.StreamResponse:
    """``POST /api/v1/audio/speech``: a WAV (see the module docstring), whole or streamed."""
    rid = request[K.rid]
    refused = unauthorized(request)
    if refused is not None:
        return refused
    body: Any = request[K.json]
    problem = _speech_problem(body)
    if problem is not None:
        status, code, param, message = problem
        return json_error(rid, status, message, code=code, param=param)
    model = TTS_MODELS[body["model"]]
    fmt = body.get("response_format") or "mp3"
    voice = body.get("voice") or model["voices"][0]
    seed = f"{body['model']}/{voice}/{body.get('speed') or 1}"
    audio = pcm(body["input"], seed) if fmt == "pcm" else make_wav(body["input"], seed)
    cast(RecordedRequest, request[K.record]).started = True  # the answer starts here
    chars = len(body["input"])
    # billed per input character (no tokens counted)
    site.ledger.charge(body["model"], "speech", round(chars * model["per_1k_chars"] / 1000, 10))
    headers = {"Content-Type": CONTENT_TYPES[fmt]}
    fault = cast("Fault | None", request[K.fault])
    if body.get("stream") is True and model["stream"]:
        try:
            return await _stream(request, fault, audio, headers)
        except ConnectionError:  # the client went away mid-stream
            raise Aborted from None
    return await _whole(request, fault, audio, headers)


def _speech_problem(body: Any) -> tuple[int, str, str | None, str] | None:
    """What is wrong with a speech request, as (status, code, param, message)."""
    if not isinstance(body, dict):
        return 400, "invalid_request", None, "the body must be a JSON object"
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return 400, "invalid_request", "model", "model is required"
    if model not in TTS_MODELS:
        return 400, "invalid_model", "model", f"{model!r} is not a text-to-speech model"
    text = body.get("input")
    if not isinstance(text, str) or not text.strip():
        return 400, "invalid_request", "input", "input is required"
    if len(text) > MAX_INPUT_CHARS:
        return 400, "input_too_long", "input", \
            f"input is {len(text)} characters; {model} takes at most {MAX_INPUT_CHARS}"
    voice = body.get("voice")
    if voice is not None and voice not in TTS_MODELS[model]["voices"]:
        return 400, "invalid_voice", "voice", f"{voice!r} is not a voice of {model}"
    fmt = body.get("response_format")
    if fmt is not None and fmt not in CONTENT_TYPES:
        return 400, "unsupported_format", "response_format", \
            f"response_format {fmt!r} is not one of {', '.join(CONTENT_TYPES)}"
    speed = body.get("speed")
    if speed is not None and (isinstance(speed, bool) or not isinstance(speed, (int, float))
                              or not 0.25 <= speed <= 4.0):
        return 400, "invalid_request", "speed", "speed must be a number from 0.25 to 4"
    return None


async def _whole(request: web.Request, fault: Fault | None, audio: bytes,
                 headers: dict[str, str]) -> web.StreamResponse:
    """A whole answer: trickled with ``trickle``, cut half-way with ``reset_after_chunks``."""
    if fault is None or fault.frames.reset_after_chunks is None:
        return await _phases.send_whole(request, fault, 200, audio, headers)
    resp = web.StreamResponse(status=200, headers={
        "X-Request-ID": request[K.rid], **headers, "Content-Length": str(len(audio))})
    await resp.prepare(request)
    await resp.write(audio[: len(audio) // 2])
    await asyncio.sleep(0.05)
    reset_connection(request)
    raise Aborted


async def _stream(request: web.Request, fault: Fault | None, audio: bytes,
                  headers: dict[str, str]) -> web.StreamResponse:
    """The audio in ``CHUNK``-byte chunks; ``reset_after_chunks`` / ``cut_after_chunks``
    break it after N of them."""
    resp = web.StreamResponse(status=200, headers={"X-Request-ID": request[K.rid], **headers})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    for n, at in enumerate(range(0, len(audio), CHUNK)):
        if fault is not None:
            if fault.frames.reset_after_chunks == n:
                await asyncio.sleep(0.05)  # let the client take what was sent first
                reset_connection(request)
                raise Aborted
            if fault.frames.cut_after_chunks == n:
                assert request.transport is not None
                request.transport.close()
                raise Aborted
        await resp.write(audio[at:at + CHUNK])
    await resp.write_eof()
    return resp


async def transcription(site: Site, request: web.Request) -> web.StreamResponse:
    """``POST /api/v1/audio/transcriptions``: multipart (``file``) or JSON (``file_url``)."""
    rid = request[K.rid]
    refused = unauthorized(request)
    if refused is not None:
        return refused
    content_type = request.headers.get("Content-Type", "")
    if content_type.lower().startswith("multipart/form-data"):
        fields, files = parse_multipart(content_type, await request.read())
        if "file" not in files:
            return json_error(rid, 400, "a multipart/form-data body with a 'file' part is "
                              "required", code="missing_required_parameter", param="file")
        name, data = files["file"]
        if len(data) > MAX_UPLOAD_BYTES:
            return json_error(rid, 413, f"the file is {len(data)} bytes; upload at most "
                              f"{MAX_UPLOAD_BYTES} bytes, or pass file_url",
                              code="file_too_large", param="file")
        source: tuple[str, bytes | None] = (name or "upload", data)
    else:
        body = request[K.json]
        fields = body if isinstance(body, dict) else {}
        url = fields.get("file_url") or fields.get("audio_url")
        if not isinstance(url, str) or not url:
            return json_error(rid, 400, "send a multipart 'file', or JSON with file_url",
                              code="missing_required_parameter", param="file")
        source = (url.rsplit("/", 1)[-1] or "audio", None)
    model = fields.get("model")
    if not isinstance(model, str) or not model:
        return json_error(rid, 400, "model is required", code="invalid_request", param="model")
    if model not in STT_MODELS:
        return json_error(rid, 400, f"{model!r} is not a speech-to-text model",
                          code="invalid_model", param="model")
    text, seconds = _heard(*source)
    cast(RecordedRequest, request[K.record]).started = True
    minutes = max(1, math.ceil(seconds / 60))
    site.ledger.charge(model, "transcription", round(minutes * STT_MODELS[model], 10))
    language = fields.get("language") or "en"
    fmt = fields.get("response_format") or "json"
    fault = cast("Fault | None", request[K.fault])
    if fmt in ("text", "srt", "vtt"):
        return await _phases.send_whole(request, fault, 200, text.encode(),
                                        {"Content-Type": "text/plain; charset=utf-8"})
    answer: dict[str, Any] = {"text": text, "language": language,
                              "duration": round(seconds, 3)}
    if fmt == "verbose_json":
        answer["segments"] = [{"id": 0, "start": 0.0, "end": round(seconds, 3), "text": text}]
    # a billed JSON answer: the body faults act as on chat (not JSON, cut half-way, trickled)
    return await _phases.send_chat_body(request, fault, json.dumps(answer).encode())


def _heard(name: str, data: bytes | None) -> tuple[str, float]:
    """What the emulator "hears" in an upload (or at a URL), and its length in seconds."""
    if data is None:
        return f"Transcript of {name}.", 30.0
    seconds = wav_seconds(data)
    spoken = spoken_text(data)
    if spoken is not None:
        return spoken, seconds or 1.0
    return f"Transcript of {name} ({len(data)} bytes).", seconds or max(1.0, len(data) / 16384)


async def audio_models(site: Site, request: web.Request) -> web.Response:
    """``GET /api/v1/audio-models?type=all|tts|stt`` (no key needed)."""
    kind = request.query.get("type", "all")
    if kind not in ("all", "tts", "stt"):
        return json_error(request[K.rid], 400, "type must be all, tts or stt",
                          code="invalid_request", param="type")
    data: list[dict[str, Any]] = []
    if kind in ("all", "tts"):
        data += [_tts_entry(mid, m) for mid, m in TTS_MODELS.items()]
    if kind in ("all", "stt"):
        data += [_stt_entry(mid, price) for mid, price in STT_MODELS.items()]
    meta: dict[str, Any] = {"count": len(data)}
    if kind != "all":
        meta["type"] = kind
    return web.json_response({"object": "list", "data": data, "meta": meta},
                             headers={"X-Request-ID": request[K.rid]})


def _tts_entry(model_id: str, m: dict[str, Any]) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "name": model_id,
            "description": f"{model_id} text to speech (emulated)",
            "architecture": {"modality": "audio", "input_modalities": ["text"],
                             "output_modalities": ["audio"]},
            "pricing": {"currency": "USD", "per_1k_characters": m["per_1k_chars"]},
            "capabilities": {"text_to_speech": True, "speech_to_text": False},
            "supported_parameters": {"voices": list(m["voices"]),
                                     "formats": list(CONTENT_TYPES), "streaming": m["stream"]}}


def _stt_entry(model_id: str, price: float) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "name": model_id,
            "description": f"{model_id} speech to text (emulated)",
            "architecture": {"modality": "audio", "input_modalities": ["audio"],
                             "output_modalities": ["text"]},
            "pricing": {"currency": "USD", "per_minute": price},
            "capabilities": {"text_to_speech": False, "speech_to_text": True},
            "supported_parameters": {"max_upload_bytes": MAX_UPLOAD_BYTES}}
