"""Reading what a caller hands to an upload (``nanogpt._uploads.read_upload``), on both clients
against the emulator: a raw (unbuffered) pipe that hands over its bytes in pieces is read to its
end, not sent cut at the first piece; a file whose name is not valid UTF-8 is still sent."""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

import pytest

from nanogpt.emulator import Emulator

STT = "Whisper-Large-V3"


def raw_pipe_with(data: bytes) -> tuple[Any, threading.Thread]:
    """The read end of a pipe as an unbuffered binary file, with a thread writing ``data``
    into it: each ``read`` hands over at most what the pipe holds (64 KiB on Linux)."""
    read_fd, write_fd = os.pipe()

    def write() -> None:
        with open(write_fd, "wb", buffering=0) as w, contextlib.suppress(BrokenPipeError):
            view = memoryview(data)
            while view:
                view = view[w.write(view[:16384]) or 0:]

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    return open(read_fd, "rb", buffering=0), writer


def test_a_raw_pipe_is_read_to_its_end_not_to_its_first_piece(client, emu: Emulator) -> None:
    audio = b"\x00" * 500_000
    pipe, writer = raw_pipe_with(audio)
    with pipe:
        result = client.audio.transcriptions.create(model=STT, file=pipe, filename="a.wav")
    writer.join(10)
    assert result.text == "Transcript of a.wav (500000 bytes)."


def test_a_raw_pipe_batch_file_is_uploaded_whole(client, emu: Emulator) -> None:
    line = b'{"custom_id":"r1","method":"POST","url":"/v1/chat/completions","body":{}}\n'
    content = line * 5000
    pipe, writer = raw_pipe_with(content)
    with pipe:
        uploaded = client.files.create(pipe, filename="in.jsonl")
    writer.join(10)
    assert uploaded.bytes == len(content)


def test_a_file_name_that_is_not_utf8_is_still_sent(client, emu: Emulator, tmp_path) -> None:
    path = os.path.join(os.fsencode(tmp_path), b"caf\xe9.wav")
    with open(path, "wb") as f:
        f.write(b"\x00" * 100)
    result = client.audio.transcriptions.create(model=STT, file=os.fsdecode(path))
    assert result.text.startswith("Transcript of caf") and "(100 bytes)" in result.text


@pytest.mark.parametrize("kind", ["sync"])
def test_a_file_opened_by_descriptor_gets_the_default_name(make_client, emu: Emulator,
                                                            tmp_path) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(b"\x00" * 10)
    with open(os.open(path, os.O_RDONLY), "rb") as f:
        result = make_client().audio.transcriptions.create(model=STT, file=f)
    assert result.text == "Transcript of audio (10 bytes)."
