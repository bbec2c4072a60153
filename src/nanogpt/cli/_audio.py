"""``nanogpt speak`` (text to speech, streamed to a file) and ``nanogpt transcribe`` (speech to
text).

``speak`` writes the audio as it arrives to ``FILE.part`` beside ``FILE`` (opened before the
request, so a path that cannot be written costs nothing) and renames it when the last byte came,
so an answer cut off half-way never leaves a truncated ``FILE`` behind (the part file is
removed). ``-o -`` writes to standard output instead (refused on a terminal; what was saved
is then said on stderr), and an existing file that is not a regular one (a named pipe,
``/dev/stdout``, a device) is written in place: renaming over it would replace it. The format
follows ``FILE``'s extension when it names one NanoGPT documents (mp3, opus, aac, flac, wav,
pcm), else mp3, unless ``--format`` says otherwise.

``transcribe -`` uploads standard input (a pipe has no size to check first: the SDK reads at
most one byte over the limit).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from ._render import is_stdout
from ._safe import visible, visible_json

if TYPE_CHECKING:
    from ._app import App

__all__ = ["speak", "transcribe"]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
DEFAULT_TTS_MODEL = "gpt-4o-mini-tts"  # the cheapest documented TTS model, and it streams
DEFAULT_VOICE = "alloy"
DEFAULT_STT_MODEL = "Whisper-Large-V3"
FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")


def format_for(path: Path, chosen: str | None) -> str:
    """``--format``, else the output file's extension when it is a documented format, else
    mp3."""
    if chosen:
        return chosen
    ext = path.suffix.lower().lstrip(".")
    return ext if ext in FORMATS else "mp3"


@click.command(context_settings=CONTEXT, short_help="Say TEXT and save the audio to FILE.")
@click.argument("text", nargs=-1, required=True)
@click.option("-o", "--output", "output", required=True, metavar="FILE",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the audio (written as it arrives; replaced when complete).")
@click.option("-m", "--model", default=DEFAULT_TTS_MODEL, show_default=True,
              help="Text-to-speech model (NanoGPT lists them at GET /api/v1/audio-models).")
@click.option("--voice", default=DEFAULT_VOICE, show_default=True, help="Voice preset.")
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="Audio format (default: from FILE's extension, else mp3).")
@click.option("--speed", type=click.FloatRange(min=0, min_open=True),
              help="Speaking rate (1 is normal).")
@click.option("--json", "as_json", is_flag=True, help="Print what was saved as JSON.")
@click.pass_obj
def speak(app: App, /, text: tuple[str, ...], output: Path, model: str, voice: str,
          fmt: str | None, speed: float | None, as_json: bool) -> None:
    """Say TEXT and save the audio to FILE ('-' as TEXT: read it from stdin; -o -: write
    the audio to stdout).

    \b
    Examples:
      nanogpt speak 'Hello from NanoGPT' -o hello.mp3
      nanogpt speak --voice nova -o note.wav 'Remember the milk'
    """
    words = sys.stdin.read() if text == ("-",) else " ".join(text)
    response_format = format_for(output, fmt)
    to_stdout = str(output) == "-"
    if to_stdout and sys.stdout.isatty():
        raise click.UsageError("-o -: standard output is a terminal, not a place for audio; "
                               "redirect it (> speech.mp3) or give a file name")
    client = app.client()
    args = {"model": model, "input": words, "voice": voice,
            "response_format": response_format, "speed": speed}
    from ._advice import known_models

    with known_models("text-to-speech", lambda: client.audio.models("tts").ids):
        if to_stdout:
            sys.stdout.flush()
            written, s = _speak_into(sys.stdout.buffer, client, args)
        elif _written_in_place(output):
            with open(output, "wb") as f:
                written, s = _speak_into(f, client, args)
        else:
            written, s = _speak_to_part_file(output, client, args)
    where = "standard output" if to_stdout else str(output)
    facts = {"path": where, "bytes": written, "content_type": s.content_type,
             "format": response_format, "model": model, "voice": voice,
             "request_id": s.request_id}
    # with the audio on standard output, what was saved is said on stderr
    say = click.get_text_stream("stderr") if to_stdout or is_stdout(output) else None
    if as_json:
        click.echo(json.dumps(facts, indent=2), file=say)
        return
    click.echo(f"saved {written:,} bytes of {visible(s.content_type or response_format)} "
               f"to {where}", file=say)


def _written_in_place(output: Path) -> bool:
    """An existing file that is not a regular one (a named pipe, ``/dev/stdout``, a device):
    written as the audio arrives, since renaming a finished part file over it would replace
    the pipe or device itself (as root, ``/dev/stdout`` for every program after)."""
    try:
        return not stat.S_ISREG(os.stat(output).st_mode)
    except OSError:
        return False


def _speak_into(f: IO[bytes], client: Any, args: dict[str, Any]) -> tuple[int, Any]:
    """Stream the speech into ``f``; the number of bytes written and the stream."""
    written = 0
    with client.audio.speech.stream(**args) as s:
        for piece in s.iter_bytes():
            f.write(piece)
            written += len(piece)
    f.flush()
    return written, s


def _speak_to_part_file(output: Path, client: Any, args: dict[str, Any]) -> tuple[int, Any]:
    """Stream into ``FILE.part`` (opened before the request: a path that cannot be written
    costs nothing) and rename it to ``output`` once the last byte came; removed otherwise."""
    part = output.with_name(output.name + ".part")
    try:
        with open(part, "wb") as f:
            written, s = _speak_into(f, client, args)
        os.replace(part, output)
    finally:
        with contextlib.suppress(OSError):
            part.unlink()
    return written, s


@click.command(context_settings=CONTEXT, short_help="Print what is said in an audio file.")
@click.argument("file", metavar="FILE")
@click.option("-m", "--model", default=DEFAULT_STT_MODEL, show_default=True,
              help="Speech-to-text model.")
@click.option("--language", metavar="CODE", help="Language of the audio (default: detected).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
@click.pass_obj
def transcribe(app: App, /, file: str, model: str, language: str | None,
               as_json: bool) -> None:
    """Print what is said in FILE (mp3, ogg, wav, m4a, aac; up to 3 MB; '-': standard
    input), or at an http(s) URL.

    \b
    Examples:
      nanogpt transcribe meeting.mp3
      nanogpt transcribe --language de https://example.com/interview.mp3
    """
    args: dict[str, Any] = {"model": model, "language": language}
    if file.startswith(("https://", "http://")):
        args["file_url"] = file
    elif file == "-":
        args["file"], args["filename"] = sys.stdin.buffer, "stdin"
    else:
        args["file"] = Path(file)
    from ._advice import known_models

    client = app.client()
    with known_models("speech-to-text", lambda: client.audio.models("stt").ids):
        result = client.audio.transcriptions.create(**args)
    if as_json:
        click.echo(visible_json(json.dumps(result.to_dict(), indent=2, ensure_ascii=False)))
        return
    click.echo(visible(result.text))
