"""Speech against hostile servers, both clients: audio cut short of its ``Content-Length``
(an error with ``answer_cut``, never a short file handed over as whole, never re-sent; the
file ``stream_to_file`` was writing is removed)."""

from __future__ import annotations

import gzip
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from nanogpt import APIConnectionError, APIResponseValidationError
from rawserver import RawConn

SENT = 5000
PROMISED = 100_000


def _cut_audio(conn: RawConn) -> None:
    """Promises PROMISED bytes of audio, sends SENT, and closes."""
    if conn.read_request() is None:
        return
    conn.send(b"HTTP/1.1 200 OK\r\ncontent-type: audio/mpeg\r\n"
              b"content-length: %d\r\n\r\n" % PROMISED + b"\xff" * SENT)
    conn.sock.shutdown(socket.SHUT_RDWR)


def _stream_to_file(kind: str, loop_thread: Any, client: Any, path: Path) -> int:
    stream = client.audio.speech.stream(model="tts-1", input="hi", voice="alloy")
    if kind == "sync":
        with stream:
            return int(stream.stream_to_file(path))

    async def write() -> int:
        async with stream:
            return int(await stream.stream_to_file(path))

    return int(loop_thread.run(write()))


def test_streamed_audio_cut_short_of_its_length_is_an_error(kind, loop_thread, make_client,
                                                           raw_server, tmp_path) -> None:
    srv = raw_server(_cut_audio)
    client = make_client(base_url=srv.base_url)
    with pytest.raises(APIConnectionError) as info:
        _stream_to_file(kind, loop_thread, client, tmp_path / "out.mp3")
    assert info.value.answer_cut and srv.count("POST") == 1
    assert not (tmp_path / "out.mp3").exists()  # no cut audio under the name asked for


def test_a_cut_stream_to_a_device_leaves_the_device_alone(kind, loop_thread, make_client,
                                                         raw_server) -> None:
    srv = raw_server(_cut_audio)
    client = make_client(base_url=srv.base_url)
    with pytest.raises(APIConnectionError):
        _stream_to_file(kind, loop_thread, client, Path(os.devnull))
    assert Path(os.devnull).exists()


def test_whole_audio_cut_short_of_its_length_is_an_error(make_client, raw_server) -> None:
    srv = raw_server(_cut_audio)
    client = make_client(base_url=srv.base_url)
    with pytest.raises(APIConnectionError) as info:
        client.audio.speech.create(model="tts-1", input="hi", voice="alloy")
    assert info.value.answer_cut and srv.count("POST") == 1


AUDIO = bytes(range(256)) * 64


def _gzip_audio(conn: RawConn) -> None:
    """Answers with gzip-coded audio, though the client asked for identity."""
    while conn.read_request() is not None:
        coded = gzip.compress(AUDIO)
        conn.send(b"HTTP/1.1 200 OK\r\ncontent-type: audio/mpeg\r\ncontent-encoding: gzip\r\n"
                  b"content-length: %d\r\n\r\n" % len(coded) + coded)


def test_coded_audio_is_decoded_or_refused_never_handed_over_coded(kind, make_client,
                                                                   raw_server) -> None:
    """The async client decodes a coded body (bounded); the sync one decodes none, so it must
    refuse it (a typed error), not hand the gzip bytes over as the audio."""
    srv = raw_server(_gzip_audio)
    client = make_client(base_url=srv.base_url)
    if kind == "async":
        assert client.audio.speech.create(model="tts-1", input="hi").content == AUDIO
        return
    with pytest.raises(APIResponseValidationError, match="gzip"):
        client.audio.speech.create(model="tts-1", input="hi")
    with (pytest.raises(APIResponseValidationError, match="gzip"),
          client.audio.speech.stream(model="tts-1", input="hi") as s):
        s.read()
    assert srv.count("POST") == 2


def test_whole_audio_promising_more_than_the_limit_and_cut_is_an_error(make_client,
                                                                      raw_server) -> None:
    """A body longer than ``max_response_bytes`` is read only up to the limit: one cut before
    that must still be told from a whole answer."""
    srv = raw_server(_cut_audio)
    client = make_client(base_url=srv.base_url, max_response_bytes=PROMISED // 2)
    with pytest.raises(APIConnectionError) as info:
        client.audio.speech.create(model="tts-1", input="hi", voice="alloy")
    assert info.value.answer_cut and srv.count("POST") == 1
