"""NanoGPT's audio endpoints as a namespace: ``client.audio.speech``,
``client.audio.transcriptions`` and ``client.audio.models()`` (sync and async, same shape).

Each method builds its request in :class:`~nanogpt._core.audio.AudioCore` (the checks, the
bodies, the decoding; no I/O) and moves the bytes through its client's shell. Speech comes whole
(``create``: a :class:`~nanogpt._core.audio.SpeechAudio`) or as a stream (``stream``, or
``with_streaming_response.create``: a :class:`SpeechStream` read a piece at a time, on the
shell's own stream body, so memory stays bounded however long the audio). Both billed calls are
sent once: never again after they may have reached the server, and a body that broke off is an
error, not a retry.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ._core.audio import (
    JSON_EXCERPT,
    MAX_UPLOAD_BYTES,
    AudioCore,
    AudioModelList,
    AudioModelType,
    AudioStreamBase,
    SpeechAudio,
    SpeechFormat,
    Transcription,
    TranscriptionFormat,
    check_chunk_size,
    check_upload_size,
    upload_media_type,
)
from ._core.config import Timeout
from ._core.errors import InvalidParameterError
from ._core.transport import AsyncStreamBody, StreamBody, TransportFailure

if TYPE_CHECKING:
    from ._async.client import AsyncNanoGPT
    from ._core.client import Request
    from ._sync.client import NanoGPT

__all__ = ["AsyncAudio", "AsyncSpeech", "AsyncSpeechOpening", "AsyncSpeechStream",
           "AsyncStreamingSpeech", "AsyncTranscriptions", "Audio", "AudioFile", "Speech",
           "SpeechStream", "StreamingSpeech", "Transcriptions"]

AudioFile = str | os.PathLike[str] | bytes | IO[bytes]  # what transcriptions take


def _read_upload(file: Any, filename: str | None) -> tuple[bytes, str]:
    """The bytes to upload and the name to give them; a path is checked (format, size)
    before it is read."""
    if isinstance(file, (bytes, bytearray, memoryview)):
        return bytes(file), filename or "audio"
    if isinstance(file, (str, os.PathLike)):
        path = Path(file)
        name = filename or path.name
        upload_media_type(name)
        check_upload_size(path.stat().st_size)  # a missing file: FileNotFoundError
        return path.read_bytes(), name
    read = getattr(file, "read", None)
    if not callable(read):
        raise InvalidParameterError("file", "must be a path, bytes or a binary file object")
    data = read(MAX_UPLOAD_BYTES + 1)  # one byte more than allowed: enough to refuse it
    if not isinstance(data, bytes):
        raise InvalidParameterError("file", "must be opened in binary mode ('rb')")
    return data, filename or os.path.basename(str(getattr(file, "name", "") or "")) or "audio"


def _discard_partial(f: IO[bytes]) -> None:
    """Close and remove a file a stream was written to when the stream broke off: a cut audio
    file under the name asked for passes for a whole one. Only a regular file is removed
    (never ``/dev/stdout``, a pipe or another device); best effort."""
    try:
        regular = stat.S_ISREG(os.fstat(f.fileno()).st_mode)
        f.close()
        if regular:
            os.unlink(f.name)
    except (OSError, ValueError, TypeError):
        pass


# streamed speech ----------------------------------------------------------------------------

class SpeechStream(AudioStreamBase):
    """Speech audio as it arrives: ``iter_bytes()``, ``stream_to_file(path)``, ``read()``.

    Use it as a context manager (or ``close()`` it) to give the connection and its concurrency
    slot back early; read to its end, the connection is reused. A body that breaks off raises
    ``APIConnectionError`` (``answer_cut``): never retried, the audio is billed once started.
    Its clocks: ``total`` and ``first_event`` until the answer's head, then ``idle`` for each
    silence (``stream_total`` is a chat stream's: audio that keeps coming is not cut).
    Memory stays bounded: each read hands over what arrived (at most 64 KiB), and
    ``max_response_bytes`` does not apply (it bounds what is read whole).
    """

    def __init__(self, body: StreamBody, status: int, headers: dict[str, str],
                 answer_cut: Callable[[TransportFailure], Exception]) -> None:
        super().__init__(body.release, status, headers, answer_cut)
        self._read = body.read

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """The audio in pieces of ``chunk_size`` bytes (the last may be shorter); None: as it
        arrives."""
        size = check_chunk_size(chunk_size)
        while True:
            piece = self._next_pending(size)
            if piece is None:
                if self._closed:
                    return
                try:
                    piece = self._take(self._read(), size)
                except TransportFailure as f:
                    raise self._failed(f) from None
                except BaseException:
                    self._give_back()
                    raise
            if piece is not None:
                yield piece

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_bytes()

    def _check_audio(self) -> SpeechStream:
        """Itself, unless the answer is JSON (then that is read, a little, and raised)."""
        if not self._answered_with_json:
            return self
        head = b""
        for piece in self.iter_bytes():
            head += piece
            if len(head) >= JSON_EXCERPT:
                break
        raise self._not_audio(head)

    def read(self) -> bytes:
        """The rest of the audio, whole (in memory: prefer ``stream_to_file`` for long
        audio)."""
        return b"".join(self.iter_bytes())

    def stream_to_file(self, path: str | os.PathLike[str], *,
                       chunk_size: int | None = None) -> int:
        """Write the audio to ``path`` as it arrives; returns the number of bytes written. If
        the stream fails, the file is removed (no cut audio passes for whole) and the error
        raised."""
        written = 0
        f = open(path, "wb")  # noqa: SIM115 (closed below, or removed on a failure)
        try:
            for piece in self.iter_bytes(chunk_size):
                f.write(piece)
                written += len(piece)
        except BaseException:
            _discard_partial(f)
            raise
        f.close()
        return written

    write_to_file = save = stream_to_file

    def close(self) -> None:
        """Give the connection back (closing it if the audio was not read to its end)."""
        self._give_back()

    def __enter__(self) -> SpeechStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncSpeechStream(AudioStreamBase):
    """The asyncio twin of :class:`SpeechStream` (``async for piece in s.iter_bytes()``,
    ``await s.stream_to_file(path)``); an async context manager."""

    def __init__(self, body: AsyncStreamBody, status: int, headers: dict[str, str],
                 answer_cut: Callable[[TransportFailure], Exception]) -> None:
        super().__init__(body.release, status, headers, answer_cut)
        self._read = body.read

    async def iter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        size = check_chunk_size(chunk_size)
        while True:
            piece = self._next_pending(size)
            if piece is None:
                if self._closed:
                    return
                try:
                    piece = self._take(await self._read(), size)
                except TransportFailure as f:
                    raise self._failed(f) from None
                except BaseException:
                    self._give_back()
                    raise
            if piece is not None:
                yield piece

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.iter_bytes()

    async def _check_audio(self) -> AsyncSpeechStream:
        """As :meth:`SpeechStream._check_audio`."""
        if not self._answered_with_json:
            return self
        head = b""
        async for piece in self.iter_bytes():
            head += piece
            if len(head) >= JSON_EXCERPT:
                break
        raise self._not_audio(head)

    async def read(self) -> bytes:
        return b"".join([piece async for piece in self.iter_bytes()])

    async def stream_to_file(self, path: str | os.PathLike[str], *,
                             chunk_size: int | None = None) -> int:
        """Write the audio to ``path`` as it arrives (the writes in a worker thread); on a
        failure, as :meth:`SpeechStream.stream_to_file`: the file is removed."""
        written = 0
        f = await asyncio.to_thread(open, path, "wb")
        try:
            async for piece in self.iter_bytes(chunk_size):
                await asyncio.to_thread(f.write, piece)
                written += len(piece)
        except BaseException:
            _discard_partial(f)  # not in a thread: a cancelled task may not await again
            raise
        await asyncio.to_thread(f.close)
        return written

    write_to_file = save = stream_to_file

    async def close(self) -> None:
        self._give_back()

    async def __aenter__(self) -> AsyncSpeechStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class AsyncSpeechOpening:
    """What ``AsyncSpeech.with_streaming_response.create`` returns: awaited, the open stream;
    as ``async with``, the open stream, closed at the end."""

    def __init__(self, opening: Callable[[], Awaitable[AsyncSpeechStream]]) -> None:
        self._opening = opening
        self._stream: AsyncSpeechStream | None = None

    def __await__(self) -> Generator[Any, None, AsyncSpeechStream]:
        return self._opening().__await__()

    async def __aenter__(self) -> AsyncSpeechStream:
        self._stream = await self._opening()
        return self._stream

    async def __aexit__(self, *exc: object) -> None:
        if self._stream is not None:
            await self._stream.close()


# the namespaces -----------------------------------------------------------------------------

class Speech:
    """``client.audio.speech``: text to speech (``POST /audio/speech``)."""

    def __init__(self, client: NanoGPT, core: AudioCore) -> None:
        self._client, self._core = client, core

    def create(self, *, model: str, input: str, voice: str | None = None,
               response_format: SpeechFormat | str | None = None, speed: float | None = None,
               instructions: str | None = None, extra_body: Mapping[str, Any] | None = None,
               extra_headers: Mapping[str, str] | None = None,
               timeout: Timeout | float | None = None) -> SpeechAudio:
        """The audio, read whole (at most the client's ``max_response_bytes``). Billed per
        input character; sent once."""
        req = self._core.speech_request(
            model=model, input=input, voice=voice, response_format=response_format,
            speed=speed, instructions=instructions, stream=False, extra_body=extra_body,
            extra_headers=extra_headers, timeout=timeout)
        return self._client._call(req, self._core.decode_speech)

    def stream(self, *, model: str, input: str, voice: str | None = None,
               response_format: SpeechFormat | str | None = None, speed: float | None = None,
               instructions: str | None = None, extra_body: Mapping[str, Any] | None = None,
               extra_headers: Mapping[str, str] | None = None,
               timeout: Timeout | float | None = None) -> SpeechStream:
        """The audio as it is made (NanoGPT's ``stream: true``; a model that cannot stream
        answers whole, read the same way): ``with client.audio.speech.stream(...) as s:
        s.stream_to_file("out.mp3")``."""
        req = self._core.speech_request(
            model=model, input=input, voice=voice, response_format=response_format,
            speed=speed, instructions=instructions, stream=True, extra_body=extra_body,
            extra_headers=extra_headers, timeout=timeout)
        status, headers, body = self._client._open_body(req)
        stream = SpeechStream(body, status, headers, self._client._core.answer_cut)
        return self._client._deliver_stream(status, headers, stream._check_audio())

    @property
    def with_streaming_response(self) -> StreamingSpeech:
        """``with client.audio.speech.with_streaming_response.create(...) as r:
        r.stream_to_file(path)`` (the ``openai`` spelling of :meth:`stream`)."""
        return StreamingSpeech(self)


class StreamingSpeech:
    """``client.audio.speech.with_streaming_response``: ``create`` opens a :class:`SpeechStream`
    (use it in a ``with`` block)."""

    def __init__(self, speech: Speech) -> None:
        self.create = speech.stream


class Transcriptions:
    """``client.audio.transcriptions``: speech to text (``POST /audio/transcriptions``)."""

    def __init__(self, client: NanoGPT, core: AudioCore) -> None:
        self._client, self._core = client, core

    def create(self, *, model: str, file: AudioFile | None = None, file_url: str | None = None,
               filename: str | None = None, language: str | None = None,
               response_format: TranscriptionFormat | str | None = None,
               extra_body: Mapping[str, Any] | None = None,
               extra_headers: Mapping[str, str] | None = None,
               timeout: Timeout | float | None = None) -> Transcription:
        """Transcribe ``file`` (a path, bytes or a binary file object; up to 3 MB, uploaded)
        or the audio at ``file_url``. Billed per minute of audio; sent once."""
        req = _transcription_request(self._core, file, file_url, filename, model=model,
                                     language=language, response_format=response_format,
                                     extra_body=extra_body, extra_headers=extra_headers,
                                     timeout=timeout)
        return self._client._call(req, self._core.decode_transcription)


def _transcription_request(core: AudioCore, file: Any, file_url: Any, filename: str | None,
                           **fields: Any) -> Request:
    if (file is None) == (file_url is None):
        raise InvalidParameterError("file", "give either file= or file_url=")
    if file_url is not None:
        return core.transcription_url_request(file_url, **fields)
    data, name = _read_upload(file, filename)
    return core.transcription_upload_request(data, name, **fields)


class Audio:
    """``client.audio``: ``speech``, ``transcriptions``, and ``models()``."""

    def __init__(self, client: NanoGPT) -> None:
        self._client = client
        self._core = core = AudioCore(client._core)
        self.speech = Speech(client, core)
        self.transcriptions = Transcriptions(client, core)

    def models(self, type: AudioModelType = "all") -> AudioModelList:
        """The audio models (``"tts"``: text to speech, ``"stt"``: speech to text)."""
        return self._client._call(self._core.models_request(type), self._core.decode_models)


class AsyncSpeech:
    """``client.audio.speech`` of the async client."""

    def __init__(self, client: AsyncNanoGPT, core: AudioCore) -> None:
        self._client, self._core = client, core

    async def create(self, *, model: str, input: str, voice: str | None = None,
                     response_format: SpeechFormat | str | None = None,
                     speed: float | None = None, instructions: str | None = None,
                     extra_body: Mapping[str, Any] | None = None,
                     extra_headers: Mapping[str, str] | None = None,
                     timeout: Timeout | float | None = None) -> SpeechAudio:
        req = self._core.speech_request(
            model=model, input=input, voice=voice, response_format=response_format,
            speed=speed, instructions=instructions, stream=False, extra_body=extra_body,
            extra_headers=extra_headers, timeout=timeout)
        return await self._client._call(req, self._core.decode_speech)

    async def stream(self, *, model: str, input: str, voice: str | None = None,
                     response_format: SpeechFormat | str | None = None,
                     speed: float | None = None, instructions: str | None = None,
                     extra_body: Mapping[str, Any] | None = None,
                     extra_headers: Mapping[str, str] | None = None,
                     timeout: Timeout | float | None = None) -> AsyncSpeechStream:
        """``async with await client.audio.speech.stream(...) as s: await
        s.stream_to_file(path)``."""
        req = self._core.speech_request(
            model=model, input=input, voice=voice, response_format=response_format,
            speed=speed, instructions=instructions, stream=True, extra_body=extra_body,
            extra_headers=extra_headers, timeout=timeout)
        status, headers, body = await self._client._open_body(req)
        stream = AsyncSpeechStream(body, status, headers, self._client._core.answer_cut)
        return self._client._deliver_stream(status, headers, await stream._check_audio())

    @property
    def with_streaming_response(self) -> AsyncStreamingSpeech:
        """``async with client.audio.speech.with_streaming_response.create(...) as r:``."""
        return AsyncStreamingSpeech(self)


class AsyncStreamingSpeech:
    """``client.audio.speech.with_streaming_response`` of the async client."""

    def __init__(self, speech: AsyncSpeech) -> None:
        self._speech = speech

    def create(self, **kwargs: Any) -> AsyncSpeechOpening:
        """As :meth:`AsyncSpeech.stream` (same keywords), for ``async with``."""
        return AsyncSpeechOpening(lambda: self._speech.stream(**kwargs))


class AsyncTranscriptions:
    """``client.audio.transcriptions`` of the async client."""

    def __init__(self, client: AsyncNanoGPT, core: AudioCore) -> None:
        self._client, self._core = client, core

    async def create(self, *, model: str, file: AudioFile | None = None,
                     file_url: str | None = None, filename: str | None = None,
                     language: str | None = None,
                     response_format: TranscriptionFormat | str | None = None,
                     extra_body: Mapping[str, Any] | None = None,
                     extra_headers: Mapping[str, str] | None = None,
                     timeout: Timeout | float | None = None) -> Transcription:
        fields = {"model": model, "language": language, "response_format": response_format,
                  "extra_body": extra_body, "extra_headers": extra_headers,
                  "timeout": timeout}
        if isinstance(file, (str, os.PathLike)) or hasattr(file, "read"):
            # reading a file may block: in a worker thread
            req = await asyncio.to_thread(_transcription_request, self._core, file, file_url,
                                          filename, **fields)
        else:
            req = _transcription_request(self._core, file, file_url, filename, **fields)
        return await self._client._call(req, self._core.decode_transcription)


class AsyncAudio:
    """``client.audio`` of the async client."""

    def __init__(self, client: AsyncNanoGPT) -> None:
        self._client = client
        self._core = core = AudioCore(client._core)
        self.speech = AsyncSpeech(client, core)
        self.transcriptions = AsyncTranscriptions(client, core)

    async def models(self, type: AudioModelType = "all") -> AudioModelList:
        return await self._client._call(self._core.models_request(type),
                                        self._core.decode_models)
