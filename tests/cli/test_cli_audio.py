"""``nanogpt speak`` and ``nanogpt transcribe``, run as subprocesses against the emulator."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
import wave
from pathlib import Path

from nanogpt.emulator import Fault
from test_cli import assert_one_line_error


def test_speak_saves_a_valid_file_and_says_where(run, emu, tmp_path) -> None:
    out = tmp_path / "hello.wav"
    r = run("speak", "hello", "from", "the", "terminal", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"saved {out.stat().st_size:,} bytes of audio/wav to {out}"
    with wave.open(io.BytesIO(out.read_bytes())) as w:
        assert w.getnframes() > 0
    body = emu.requests[-1].body
    assert body["input"] == "hello from the terminal" and body["response_format"] == "wav"
    assert body["stream"] is True and body["voice"] == "alloy"
    assert not list(tmp_path.glob("*.part"))


def test_speak_json_and_format_from_the_flag(run, emu, tmp_path) -> None:
    out = tmp_path / "note.bin"
    r = run("speak", "-", "-o", str(out), "--format", "flac", "--voice", "nova", "--json",
            "-m", "tts-1-hd", input="read from stdin")
    assert r.returncode == 0, r.stderr
    facts = json.loads(r.stdout)
    assert facts["bytes"] == out.stat().st_size and facts["content_type"] == "audio/flac"
    assert (facts["format"], facts["model"], facts["voice"]) == ("flac", "tts-1-hd", "nova")
    assert emu.requests[-1].body["input"] == "read from stdin"


def test_speak_cut_off_leaves_no_file(run, emu, tmp_path) -> None:
    out = tmp_path / "cut.wav"
    emu.inject(Fault(reset_after_chunks=1), path="/audio/speech")
    r = run("speak", "word " * 50, "-o", str(out))
    assert_one_line_error(r, "cut off", "not retried")
    assert not out.exists() and not list(tmp_path.glob("*.part"))
    assert emu.count("/audio/speech") == 1


def test_speak_to_a_folder_that_does_not_exist_sends_nothing(run, emu, tmp_path) -> None:
    r = run("speak", "hi", "-o", str(tmp_path / "no" / "such" / "x.mp3"))
    assert_one_line_error(r, "does not exist", "check it")
    assert emu.count() == 0


def test_speak_api_errors_are_one_line(run, emu, tmp_path) -> None:
    r = run("speak", "hi", "-o", str(tmp_path / "x.mp3"), "--voice", "nobody")
    assert_one_line_error(r, "invalid_voice")
    assert not (tmp_path / "x.mp3").exists()


def test_transcribe_prints_the_text_or_json(run, emu, tmp_path) -> None:
    out = tmp_path / "said.wav"
    assert run("speak", "testing one two", "-o", str(out)).returncode == 0
    r = run("transcribe", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "testing one two\n"
    r = run("transcribe", str(out), "--json", "--language", "en", "-m", "Wizper")
    assert json.loads(r.stdout)["text"] == "testing one two"
    assert emu.requests[-1].headers["content-type"].startswith("multipart/form-data")


def test_transcribe_a_url(run, emu) -> None:
    r = run("transcribe", "https://example.com/talk.mp3")
    assert r.stdout == "Transcript of talk.mp3.\n"
    assert emu.requests[-1].body["file_url"] == "https://example.com/talk.mp3"


def test_transcribe_bad_files_are_one_line_and_send_nothing(run, emu, tmp_path) -> None:
    assert_one_line_error(run("transcribe", str(tmp_path / "missing.mp3")), "missing.mp3",
                          "check it")
    notes = tmp_path / "notes.csv"
    notes.write_text("a,b\n")
    assert_one_line_error(run("transcribe", str(notes)), "csv", "documents mp3")
    big = tmp_path / "long.mp3"
    with open(big, "wb") as f:
        f.truncate(3 * 1024 * 1024 + 1)
    assert_one_line_error(run("transcribe", str(big)), "https:// URL")
    assert emu.count() == 0


def test_help_lists_the_audio_commands(run) -> None:
    r = run("--help")
    assert "speak" in r.stdout and "transcribe" in r.stdout



def test_the_readme_session_is_true(env, tmp_path) -> None:
    """The README's ``speak`` / ``transcribe`` session (a ``text`` block, since it writes a
    file), run in a fresh folder."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    cli_part = readme.split("\n## The command line", 1)[1].split("### Beyond chat\n", 1)[1]
    (block,) = [b for b in re.findall(r"```text\n(.*?)```", cli_part.split("\n### ", 1)[0],
                                      re.S) if "nanogpt --offline speak" in b]
    lines = block.splitlines()
    # run in tmp_path: the package under test found by an absolute path, not `src`
    import nanogpt

    here = str(Path(nanogpt.__file__).resolve().parents[1])
    env = {**env, "PYTHONPATH": os.pathsep.join([here, env.get("PYTHONPATH", "")])}
    commands = [i for i, line in enumerate(lines) if line.startswith("$ nanogpt ")]
    assert len(commands) == 2
    for i in commands:
        args = shlex.split(lines[i][len("$ nanogpt "):])
        r = subprocess.run([sys.executable, "-m", "nanogpt", *args], capture_output=True,
                           text=True, env=env, cwd=tmp_path, timeout=60)
        assert r.stdout.rstrip("\n") == lines[i + 1], r.stderr
