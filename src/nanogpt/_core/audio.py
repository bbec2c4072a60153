"""The sans-I/O half of NanoGPT's audio endpoints: speech (text to speech), transcription
(speech to text) and the audio model list. ``AudioCore`` checks every argument and builds each
request; it decodes each answer into the typed results here. The namespaces that move the bytes
(``client.audio``) are in ``nanogpt._audio``. No I/O.

Facts (``docs/nanogpt-api.md``, "Audio"): ``POST /api/v1/audio/speech`` (JSON in, audio bytes
out; ``stream: true`` sends them as they are made), ``POST /api/v1/audio/transcriptions``
(a ``multipart/form-data`` upload, or JSON naming a ``file_url``), ``GET /api/v1/audio-models``
(``type=tts|stt|all``; the key is optional). Both POSTs are billed (speech per input character,
transcription per minute of audio): like chat, never re-sent once they may have reached the
server.

A speech answer read as a stream is read through :class:`AudioStreamBase`, which both shells'
stream objects share: it hands over the bytes as they come, gives the connection back once
(reusable only when the body was read to its end), and turns a broken body into the error a cut
answer gets (never retried: it is billed once audio started).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

import msgspec

from .errors import APIResponseValidationError, InvalidParameterError
from .multipart import form_data
from .params import add_extra_body
from .results import with_request_id
from .types import KeepsRaw, ModelPage, json_object, typed_object, unexpected_answer

if TYPE_CHECKING:
    from .client import ClientCore, Request
    from .transport import TransportFailure

__all__ = ["AUDIO_EXTENSIONS", "MAX_UPLOAD_BYTES", "SPEECH_FORMATS", "AudioCore",
           "AudioModel", "AudioModelList", "AudioModelType", "AudioStreamBase", "SpeechAudio",
           "SpeechFormat", "Transcription", "TranscriptionFormat", "TranscriptionSegment"]

SpeechFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]
SPEECH_FORMATS: tuple[str, ...] = ("mp3", "opus", "aac", "flac", "wav", "pcm")
TranscriptionFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]
AudioModelType = Literal["all", "tts", "stt"]
# the media types of the documented formats: audio (MP3, OGG, WAV, M4A, AAC) and, for the
# models that take it, video (MP4, MOV, AVI, MKV, WEBM)
AUDIO_EXTENSIONS: dict[str, str] = {
    ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".wav": "audio/wav", ".m4a": "audio/mp4",
    ".aac": "audio/aac", ".mp4": "video/mp4", ".mov": "video/quicktime",
    ".avi": "video/x-msvideo", ".mkv": "video/x-matroska", ".webm": "video/webm"}
# a direct upload is documented up to 3 MB (larger files: upload them and pass ``file_url``)
MAX_UPLOAD_BYTES = 3 * 1024 * 1024
_CONTENT_TYPES = {"mp3": "audio/mpeg", "opus": "audio/opus", "aac": "audio/aac",
                  "flac": "audio/flac", "wav": "audio/wav", "pcm": "audio/pcm"}
CHUNK_SIZE = 65536
JSON_EXCERPT = 4096  # of a JSON answer to a speech stream, read for the error


# typed results --------------------------------------------------------------------------------

class SpeechAudio:
    """The audio of a speech call, read whole: ``content`` (bytes), ``content_type``,
    ``save(path)``; ``iter_bytes()`` to hand it on in pieces."""

    def __init__(self, content: bytes, content_type: str | None,
                 request_id: str | None = None) -> None:
        self.content = content
        self.content_type = content_type
        self.request_id = request_id

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """The content in pieces of ``chunk_size`` bytes (64 KiB by default)."""
        size = _chunk_size(chunk_size)
        return (self.content[i:i + size] for i in range(0, len(self.content), size))

    def write_to_file(self, path: str | os.PathLike[str]) -> None:
        """Write the audio to ``path`` (replacing it)."""
        with open(path, "wb") as f:
            f.write(self.content)

    save = write_to_file

    def __len__(self) -> int:
        return len(self.content)

    def __repr__(self) -> str:
        return f"SpeechAudio({len(self.content)} bytes, {self.content_type!r})"


class TranscriptionSegment(msgspec.Struct, dict=True):
    """One timed piece of a transcript (when the model gives them)."""

    text: str = ""
    start: float | None = None
    end: float | None = None
    speaker: str | None = None


class Transcription(KeepsRaw):
    """What a transcription returned: ``text``; ``language`` and ``duration`` (seconds) when
    NanoGPT reports them; ``segments`` and ``words`` when the model gives them (``.raw`` keeps
    every field)."""

    text: str = ""
    language: str | None = None
    duration: float | None = None
    segments: list[TranscriptionSegment] | None = None
    words: list[Any] | None = None


class AudioModel(KeepsRaw):
    """One model of ``GET /api/v1/audio-models``: ``text_to_speech`` / ``speech_to_text`` say
    what it does; ``supported_parameters`` (voices, formats, ...) as NanoGPT lists them."""

    id: str
    object: str = "model"
    name: str | None = None
    description: str | None = None
    architecture: dict[str, Any] | None = None
    pricing: dict[str, Any] | None = None
    capabilities: dict[str, Any] | None = None
    supported_parameters: dict[str, Any] | None = None

    @property
    def text_to_speech(self) -> bool:
        return bool((self.capabilities or {}).get("text_to_speech"))

    @property
    def speech_to_text(self) -> bool:
        return bool((self.capabilities or {}).get("speech_to_text"))


class AudioModelList(ModelPage[AudioModel]):
    """The audio models (``client.audio.models()``): a :class:`ModelPage` of
    :class:`AudioModel`."""


# argument checks -------------------------------------------------------------------------------

def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidParameterError(name, "must be a non-empty string")
    return value


def _optional_text(name: str, value: Any) -> str | None:
    return None if value is None else _text(name, value)


def _chunk_size(value: int | None) -> int:
    if value is None:
        return CHUNK_SIZE
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameterError("chunk_size", "must be a positive integer")
    return value


def _speed(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value <= 0:
        raise InvalidParameterError("speed", "must be a positive number (1 is normal speed)")
    return float(value)


def upload_media_type(filename: str) -> str:
    """The media type of an upload named ``filename``; a name whose extension is not a
    documented audio or video format is refused (a name without one is sent as bytes)."""
    ext = os.path.splitext(filename)[1].lower()
    if not ext:
        return "application/octet-stream"
    media = AUDIO_EXTENSIONS.get(ext)
    if media is None:
        known = ", ".join(e[1:] for e in AUDIO_EXTENSIONS)
        raise InvalidParameterError("file", f"{ext[1:]!r} is not a format NanoGPT transcribes "
                                    f"(it documents {known})")
    return media


def check_upload_size(size: int) -> None:
    if size > MAX_UPLOAD_BYTES:
        raise InvalidParameterError(
            "file", f"is over {MAX_UPLOAD_BYTES} bytes, what NanoGPT takes as an upload "
            f"(3 MB): put larger files online and pass file_url=")
    if size == 0:
        raise InvalidParameterError("file", "is empty")


# requests and answers --------------------------------------------------------------------------

class AudioCore:
    """The sans-I/O half of ``client.audio``."""

    def __init__(self, core: ClientCore) -> None:
        self.core = core

    def speech_request(self, *, model: Any, input: Any, voice: Any, response_format: Any,
                       speed: Any, instructions: Any, stream: bool,
                       extra_body: Mapping[str, Any] | None,
                       extra_headers: Mapping[str, str] | None, timeout: Any) -> Request:
        """``POST /audio/speech``; ``stream`` asks NanoGPT for the bytes as they are made (the
        models that cannot stream answer whole, which reads the same)."""
        body: dict[str, Any] = {"model": _text("model", model), "input": _text("input", input)}
        if voice is not None:
            body["voice"] = _text("voice", voice)
        if response_format is not None:
            body["response_format"] = _text("response_format", response_format)
        chosen_speed = _speed(speed)
        if chosen_speed is not None:
            body["speed"] = chosen_speed
        if instructions is not None:
            body["instructions"] = _text("instructions", instructions)
        if stream:
            body["stream"] = True
        add_extra_body(body, extra_body)
        # billed per input character: never re-sent once it may have reached the server
        req = self.core.request("POST", "/audio/speech", body=body, idempotent=False,
                                extra_headers=extra_headers, timeout=timeout)
        req.headers.setdefault("accept", _accept(body.get("response_format")))
        req.headers["accept-encoding"] = "identity"  # audio is compressed already
        req.stream = stream  # a stream is bounded by its silences, not by one `read` timer
        return req

    def transcription_upload_request(self, data: bytes, filename: str, *, model: Any,
                                     language: Any, response_format: Any,
                                     extra_body: Mapping[str, Any] | None,
                                     extra_headers: Mapping[str, str] | None,
                                     timeout: Any) -> Request:
        """``POST /audio/transcriptions`` as ``multipart/form-data`` (``file`` and the text
        fields)."""
        fields = self._transcription_fields(model, language, response_format, extra_body)
        if not isinstance(data, bytes):
            raise InvalidParameterError("file", "must be a path, bytes or a binary file object")
        check_upload_size(len(data))
        media = upload_media_type(filename)
        body, content_type = form_data({k: str(v) for k, v in fields.items()},
                                       {"file": (filename, data, media)})
        req = self.core.request("POST", "/audio/transcriptions", idempotent=False,
                                extra_headers=extra_headers, timeout=timeout)
        req.body = body
        req.headers["content-type"] = content_type
        return req

    def transcription_url_request(self, file_url: Any, *, model: Any, language: Any,
                                  response_format: Any, extra_body: Mapping[str, Any] | None,
                                  extra_headers: Mapping[str, str] | None,
                                  timeout: Any) -> Request:
        """``POST /audio/transcriptions`` as JSON naming the audio's ``file_url``."""
        url = _text("file_url", file_url)
        if not url.startswith(("https://", "http://")):
            raise InvalidParameterError("file_url", "must be an http(s) URL")
        fields = self._transcription_fields(model, language, response_format, extra_body)
        return self.core.request("POST", "/audio/transcriptions",
                                 body={"file_url": url, **fields}, idempotent=False,
                                 extra_headers=extra_headers, timeout=timeout)

    @staticmethod
    def _transcription_fields(model: Any, language: Any, response_format: Any,
                              extra_body: Mapping[str, Any] | None) -> dict[str, Any]:
        fields: dict[str, Any] = {"model": _text("model", model)}
        lang = _optional_text("language", language)
        if lang is not None:
            fields["language"] = lang
        fmt = _optional_text("response_format", response_format)
        if fmt is not None:
            fields["response_format"] = fmt
        add_extra_body(fields, extra_body)
        return fields

    def models_request(self, type: Any = "all") -> Request:
        """``GET /audio-models`` (free, the key optional: sent when the client has one)."""
        if type not in ("all", "tts", "stt"):
            raise InvalidParameterError("type", "must be 'all', 'tts' or 'stt'")
        query = urlencode({"detailed": "true", "type": type})
        return self.core.request("GET", f"/audio-models?{query}", auth="bearer-if-set")

    # decoding -----------------------------------------------------------------------------------

    @staticmethod
    def decode_speech(status: int, headers: Mapping[str, str], body: bytes) -> SpeechAudio:
        content_type = _header(headers, "content-type")
        if content_type is not None and "json" in content_type.lower():
            raise not_audio(status, headers, body)
        return SpeechAudio(body, content_type, _header(headers, "x-request-id"))

    @staticmethod
    def decode_transcription(status: int, headers: Mapping[str, str],
                             body: bytes) -> Transcription:
        content_type = (_header(headers, "content-type") or "").lower()
        if "html" in content_type:  # a proxy's or portal's page, never a transcript
            raise unexpected_answer("a transcription", status, headers, body, "it is HTML")
        if "json" not in content_type and not body.lstrip().startswith(b"{"):
            # response_format text, srt or vtt: the transcript as it came
            out = Transcription(text=body.decode("utf-8", "replace"))
            out.__dict__["_raw_dict"] = {"text": out.text}
            return out
        raw = json_object("a transcription", status, headers, body)
        if "text" not in raw and isinstance(raw.get("transcription"), str):
            raw = {**raw, "text": raw["transcription"]}  # the /api/transcribe spelling
        if not isinstance(raw.get("text"), str):  # a billed call: "" would pass for silence
            raise unexpected_answer("a transcription", status, headers, body,
                                    "its text is missing or not a string")
        return typed_object(raw, Transcription, status, headers, body)

    @staticmethod
    def decode_models(status: int, headers: Mapping[str, str], body: bytes) -> AudioModelList:
        raw = json_object("an audio model list", status, headers, body)
        items = raw.get("data")
        models = [typed_object(m, AudioModel, status, headers, body)
                  for m in (items if isinstance(items, list) else [])
                  if isinstance(m, dict) and isinstance(m.get("id"), str)]
        out = AudioModelList(models)
        out.__dict__["_raw"] = raw
        return with_request_id(out, headers)


def not_audio(status: int, headers: Mapping[str, str], body: bytes) -> APIResponseValidationError:
    """A 2xx speech answer that is JSON, not audio."""
    return unexpected_answer("audio", status, headers, body, "the answer is JSON")


def _accept(response_format: Any) -> str:
    media = _CONTENT_TYPES.get(response_format) if isinstance(response_format, str) else None
    return f"{media}, audio/*;q=0.9, */*;q=0.1" if media else "audio/*, */*;q=0.1"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.title())
    return value


# streamed speech -----------------------------------------------------------------------------

class AudioStreamBase:
    """What both shells' speech streams share: every step of reading that does not wait.

    ``release`` is the body's :meth:`~nanogpt._core.transport.StreamBody.release`, called
    once by :meth:`_give_back` with whether the body was read to its end; ``answer_cut`` makes
    the error for a body that broke (never retried: the audio had started, it is billed).
    """

    def __init__(self, release: Callable[[bool], None], status: int,
                 headers: dict[str, str],
                 answer_cut: Callable[[TransportFailure], Exception]) -> None:
        self._release = release
        self._answer_cut = answer_cut
        self._closed = False
        self._done = False
        self._reusable = False
        self._pending = b""
        self.status_code = status
        self.headers = headers
        self.bytes_read = 0

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")

    @property
    def _answered_with_json(self) -> bool:
        """A JSON body where audio was asked for (kept to ``JSON_EXCERPT`` bytes for the
        error, read through the stream, which is then closed)."""
        return "json" in (self.content_type or "").lower()

    def _not_audio(self, head: bytes) -> APIResponseValidationError:
        self._give_back()
        return not_audio(self.status_code, self.headers, head)

    def _take(self, data: bytes, size: int | None) -> bytes | None:
        """Feed what was read: a piece to hand over (of ``size`` bytes; None: as it came), or
        None (read more). At the end of the body the connection goes back (reusable)."""
        if not data:
            self._done = self._reusable = True
            self._give_back()
            piece, self._pending = self._pending, b""
            return piece or None
        self.bytes_read += len(data)
        if size is None:
            return data
        buf = self._pending + data if self._pending else data
        if len(buf) < size:
            self._pending = buf
            return None
        self._pending = buf[size:]
        return buf[:size]

    def _next_pending(self, size: int | None) -> bytes | None:
        """A piece already read, when one is whole (or the body ended)."""
        if not self._pending:
            return None
        if size is None or len(self._pending) >= size or self._done:
            piece, self._pending = self._pending[:size], self._pending[size:]
            return piece
        return None

    def _failed(self, failure: TransportFailure) -> Exception:
        self._give_back()
        return self._answer_cut(failure)

    def _give_back(self) -> None:
        """Release the connection and the concurrency slot, once; does not wait."""
        if not self._closed:
            self._closed = True
            self._release(self._reusable)

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self._give_back()

    def __repr__(self) -> str:
        state = "done" if self._done else "closed" if self._closed else "open"
        return f"{type(self).__name__}({self.content_type!r}, {self.bytes_read} bytes read, " \
            f"{state})"


def check_chunk_size(value: int | None) -> int | None:
    """A stream's piece size: None hands over the bytes as they come."""
    return None if value is None else _chunk_size(value)
