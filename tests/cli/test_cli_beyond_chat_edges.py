"""Issue 12's commands as a new user meets them: pipes, special files, big and non-UTF-8 inputs.

Each test runs the command line as a subprocess against the session emulator (see the ``run``
and ``env`` fixtures in ``tests/conftest.py``).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import stat
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

from test_cli import assert_one_line_error


def run_bytes(env: dict[str, str], *args: str, stdin: bytes = b"",
              cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """``python -m nanogpt ARGS`` with binary standard input and output (in ``cwd``: the
    package under test found by an absolute path)."""
    import nanogpt

    src = str(Path(nanogpt.__file__).resolve().parents[1])
    env = {**env, "PYTHONPATH": os.pathsep.join([src, env.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "nanogpt", *args], input=stdin,
                          capture_output=True, env=env, timeout=60, cwd=cwd)


def spoken_wav(run: Any, tmp_path: Path, text: str) -> bytes:
    out = tmp_path / "said.wav"
    assert run("speak", text, "-o", str(out)).returncode == 0
    return out.read_bytes()


def test_speak_dash_writes_the_audio_to_standard_output(env, emu, tmp_path) -> None:
    """``-o -`` is standard output (as for curl and ffmpeg): the audio goes down the pipe, what
    was saved goes to stderr, and no file named '-' appears."""
    r = run_bytes(env, "speak", "piped", "audio", "-o", "-", "--format", "wav", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout[:4] == b"RIFF", (r.stdout[:200], r.stderr)
    with wave.open(io.BytesIO(r.stdout)) as w:
        assert w.getnframes() > 0
    assert not (tmp_path / "-").exists() and not list(tmp_path.glob("*.part"))
    assert b"standard output" in r.stderr


def test_speak_into_a_named_pipe_writes_into_it_and_keeps_it(env, emu, tmp_path) -> None:
    """An existing file that is not a regular one (a FIFO here; /dev/stdout, a device) is
    written in place: renaming a finished part file over it would replace the pipe (or, as
    root, /dev/stdout itself) with a plain file."""
    fifo = tmp_path / "audio.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # lets the writer open it at once
    try:
        r = run_bytes(env, "speak", "hi", "-o", str(fifo), "--format", "wav")
        assert r.returncode == 0, r.stderr
        assert stat.S_ISFIFO(os.stat(fifo).st_mode)
        got = b""
        while True:
            try:
                piece = os.read(reader, 65536)
            except BlockingIOError:
                break
            if not piece:
                break
            got += piece
    finally:
        os.close(reader)
    assert got[:4] == b"RIFF" and len(got) > 44
    assert not list(tmp_path.glob("*.part"))


def test_transcribe_reads_a_pipe(env, emu, run, tmp_path) -> None:
    """A pipe has no size to look up: ``/dev/stdin`` (and ``-``) are read, not refused as
    empty."""
    audio = spoken_wav(run, tmp_path, "through a pipe")
    for name in ("/dev/stdin", "-"):
        r = run_bytes(env, "transcribe", name, stdin=audio)
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"through a pipe\n"


def test_transcribe_a_big_pipe_is_refused_before_sending(env, emu) -> None:
    r = run_bytes(env, "transcribe", "/dev/stdin", stdin=b"\0" * (3 * 1024 * 1024 + 1))
    assert r.returncode == 2 and b"3 MB" in r.stderr
    assert emu.count("/audio/transcriptions") == 0


def test_transcribe_too_big_advises_a_url_not_a_python_keyword(run, emu, tmp_path) -> None:
    big = tmp_path / "long.mp3"
    with open(big, "wb") as f:
        f.truncate(3 * 1024 * 1024 + 1)
    r = run("transcribe", str(big))
    assert_one_line_error(r, "3 MB", "https:// URL")
    assert "file_url=" not in r.stderr
    assert emu.count() == 0


def test_embed_file_that_is_not_utf8_is_one_line(run, emu, tmp_path) -> None:
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9\n".encode("latin-1"))
    r = run("embed", "--file", str(bad))
    assert_one_line_error(r, "latin1.txt", "UTF-8")
    assert "unexpected" not in r.stderr and r.returncode == 2
    assert emu.count() == 0


def test_usage_from_in_the_future_blames_from_not_a_to_never_given(run, emu) -> None:
    r = run("usage", "--from", "2999-01-01")
    assert_one_line_error(r, "'--from'", "2999-01-01", "today")
    assert "--to" not in r.stderr and "from_" not in r.stderr
    assert emu.count() == 0


def test_usage_reversed_range_speaks_in_flags(run, emu) -> None:
    r = run("usage", "--from", "2026-05-02", "--to", "2026-05-01")
    assert_one_line_error(r, "'--to'", "2026-05-01", "2026-05-02")
    assert "from_" not in r.stderr
    assert emu.count() == 0


def test_empty_arguments_are_named_as_the_command_line_names_them(run, emu, tmp_path) -> None:
    """Not by the Python parameter behind them (``--model``, ``query``), which the command
    has no flag for."""
    r = run("models", "providers", "")
    assert_one_line_error(r, "ID")
    assert "--model" not in r.stderr
    r = run("search", " ")
    assert_one_line_error(r, "QUERY")
    r = run("speak", " ", "-o", str(tmp_path / "x.wav"))
    assert_one_line_error(r, "TEXT")
    assert emu.count() == 0


def narrow_terminal(env: dict[str, str], *args: str) -> str:
    """What a command shows on a 40-column terminal, colour off."""
    import pexpect

    p = pexpect.spawn(sys.executable, ["-m", "nanogpt", *args], encoding="utf-8", timeout=30,
                      env={**env, "COLUMNS": "40", "TERM": "xterm", "NO_COLOR": "1"},
                      dimensions=(50, 40))
    p.expect(pexpect.EOF)
    p.close()
    return str(p.before or "").replace("\r\n", "\n")


def test_a_narrow_terminal_cuts_no_value_from_usage_or_quota(env, emu) -> None:
    """A table wider than the terminal never loses a value to an ellipsis (a cost shown as
    '$0…', a limit as '1,000,…') nor a whole column: it is shown as plain text, which the
    terminal wraps."""
    emu.ledger.charge("text-embedding-3-small", "embedding", 0.0260639, input_tokens=9)
    emu.ledger.charge("openai/gpt-5-nano", "chat", 0.0000038, input_tokens=4, output_tokens=9)
    for args, name in ((("usage", "--by", "model"), "text-embedding-3-small"),
                       (("usage",), str(dt.datetime.now(dt.timezone.utc).date()))):
        shown = narrow_terminal(env, *args)
        assert "…" not in shown, shown
        assert "$0.0260677" in shown and name in shown, shown
    shown = narrow_terminal(env, "quota")
    assert "…" not in shown, shown
    assert "1,000,000" in shown and "resets" in shown and "(in " in shown, shown


def test_an_unknown_model_lists_the_ids_that_command_takes(run, emu, tmp_path) -> None:
    """``nanogpt models`` lists chat models only: an embedding or audio model NanoGPT refuses
    is answered with the ids that command can take (a usage error, nothing billed)."""
    r = run("embed", "-m", "text-embedding-3-smal", "hi")
    assert_one_line_error(r, "'--model'", "text-embedding-3-small", "Invalid model specified")
    assert r.returncode == 2
    r = run("speak", "hi", "-m", "tts-one", "-o", str(tmp_path / "x.mp3"))
    assert_one_line_error(r, "'--model'", "tts-1", "gpt-4o-mini-tts")
    assert not list(tmp_path.iterdir())
    r = run("transcribe", "https://example.com/a.mp3", "-m", "whisper")
    assert_one_line_error(r, "'--model'", "Whisper-Large-V3")
    assert emu.ledger.entries() == []


def test_image_to_a_folder_that_refuses_files_is_refused_before_paying(run, emu) -> None:
    """The folder exists but cannot take a new file (``/proc`` here; a read-only folder for
    a user): found out by creating the file before the image is paid for, not after, when
    the paid image could only be lost."""
    r = run("image", "a lighthouse", "-o", "/proc/nanogpt-adv12.png")
    assert_one_line_error(r, "/proc/nanogpt-adv12.png")
    assert emu.count("/images") == 0 and emu.ledger.entries() == []


def test_image_dash_writes_the_image_to_standard_output(env, emu, tmp_path) -> None:
    r = run_bytes(env, "image", "a lighthouse", "-o", "-", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "-").exists()
    assert b"standard output" in r.stderr and b"cost" in r.stderr
    r = run_bytes(env, "image", "x", "-n", "2", "-o", "-", cwd=tmp_path)
    assert r.returncode == 2 and b"one image" in r.stderr
    assert emu.count("/images") == 1


def test_transcribing_a_folder_says_give_a_file(run, emu, tmp_path) -> None:
    r = run("transcribe", str(tmp_path))
    assert_one_line_error(r, str(tmp_path), "is a folder", "give a file")
    assert emu.count() == 0


def test_dev_stdout_as_the_output_gets_only_the_bytes(env, emu, tmp_path) -> None:
    """``-o /dev/stdout`` is standard output too: what was saved goes to stderr, or it would
    be appended to the audio or image in the pipe."""
    r = run_bytes(env, "speak", "hi", "-o", "/dev/stdout", "--format", "wav")
    assert r.returncode == 0, r.stderr
    assert r.stdout[:4] == b"RIFF" and b"saved" not in r.stdout and b"saved" in r.stderr
    assert r.stdout.endswith(b"ngpt\x02\x00\x00\x00hi")  # the emulator's text chunk, last
    r = run_bytes(env, "image", "x", "-o", "/dev/stdout")
    assert r.returncode == 0, r.stderr
    assert r.stdout[:8] == b"\x89PNG\r\n\x1a\n" and b"saved" not in r.stdout
    assert r.stdout.endswith(b"IEND\xaeB`\x82") and b"cost" in r.stderr


def test_search_with_to_before_from_is_refused_before_paying(run, emu) -> None:
    """A search is billed: a date range that can hold nothing is refused, not paid for."""
    r = run("search", "x", "--from", "2026-05-02", "--to", "2026-05-01")
    assert_one_line_error(r, "2026-05-01", "2026-05-02")
    assert r.returncode == 2 and emu.count() == 0
