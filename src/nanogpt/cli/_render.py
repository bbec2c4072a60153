"""Terminal output: Markdown and dimmed reasoning on a terminal, plain text in a pipe.

rich loads only when the output is a terminal. ``NO_COLOR`` is respected (rich reads it).
On a terminal, server text goes through ``_safe.visible`` before rich sees it, and what
Markdown renders is checked again (Markdown decodes character references such as ``&#27;``
itself, while rendering); in a pipe it is written byte for byte.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ._safe import visible

if TYPE_CHECKING:
    from rich.console import Console

    from .. import ChatCompletionChunk, Usage


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def is_stdout(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is where standard output goes (``-``, ``/dev/stdout``, the pipe or
    file fd 1 is): a command writing its data there says what it did on stderr instead."""
    if str(path) == "-":
        return True
    try:
        there, mine = os.stat(path), os.fstat(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no such path, or no real stdout
        return False
    return (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino)


_console: Console | None = None
_err_console: Console | None = None


def console() -> Console:
    global _console
    if _console is None:
        _console = _new_console(stderr=False)
    return _console


def err_console() -> Console:
    global _err_console
    if _err_console is None:
        _err_console = _new_console(stderr=True)
    return _err_console


def _new_console(*, stderr: bool) -> Console:
    """A rich console for stdout or stderr.

    Markup and emoji codes are off: model output, catalog names and server messages are
    printed as they are (":white_check_mark:" in an id is not a check mark). With
    ``NO_COLOR`` set (and not empty, as no-color.org says) no style is written at all: rich
    alone drops only the colours and still writes bold, dim and italic, which a user who asks
    for plain text does not want either."""
    from rich.console import Console

    plain = os.environ.get("NO_COLOR", "") != ""
    return Console(stderr=stderr, highlight=False, markup=False, emoji=False,
                   color_system=None if plain else "auto")


class SafeMarkdown:
    """Markdown of server text, made visible before parsing and again after rendering.
    Rendered from the current text only when rich refreshes (not once per chunk).

    Links are written as ``text (url)``, not as terminal hyperlinks (OSC 8): a hyperlink
    shows its text and hides its target, so ``[https://nano-gpt.com/topup](https://evil)``
    would read as the real site and open the other one."""

    def __init__(self, text: str = "") -> None:
        self.parts: list[str] = [text] if text else []

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.markdown import Markdown
        from rich.segment import Segment

        md = Markdown(visible("".join(self.parts)), hyperlinks=False)
        for seg in _without_padding(console, console.render(md, options)):
            if seg.control is None and seg.text and not seg.text.isprintable():
                seg = Segment(visible(seg.text), seg.style)
            if seg.style is not None and seg.style.link:  # no hyperlink, whatever the version
                seg = Segment(seg.text, seg.style.update_link(None), seg.control)
            yield seg


class Unpadded:
    """A rich renderable (a table) shown without the spaces that pad its lines to the
    terminal's width (see :func:`_without_padding`)."""

    def __init__(self, renderable: Any) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        yield from _without_padding(console, console.render(self.renderable, options))


def _without_padding(console: Any, segments: Iterable[Any]) -> Iterator[Any]:
    """The segments less the spaces rich pads each line with up to the terminal's width:
    they are invisible, but a copied answer (or a terminal resized narrower) carries them.
    Spaces with a background colour (a code block's) are what the user sees: kept."""
    from rich.segment import Segment

    line: list[Any] = []
    for seg in segments:
        if seg.control is not None or "\n" not in seg.text:
            line.append(seg)
            continue
        *ends, rest = seg.text.split("\n")
        for end in ends:
            if end:
                line.append(Segment(end, seg.style))
            yield from _trimmed(console, line)
            yield Segment("\n")
            line = []
        if rest:
            line.append(Segment(rest, seg.style))
    yield from line


def _trimmed(console: Any, line: list[Any]) -> list[Any]:
    """One line's segments, less the invisible spaces at its end."""
    from rich.segment import Segment

    while line and line[-1].control is None and _is_padding(console, line[-1]):
        last = line.pop()
        kept = last.text.rstrip(" ")
        if kept:
            line.append(Segment(kept, last.style))
            break
    return line


def _is_padding(console: Any, seg: Any) -> bool:
    """True for a segment that ends in spaces no one can see (no background is drawn)."""
    if not seg.text.endswith(" "):
        return False
    shows_background = (console.color_system is not None and seg.style is not None
                        and seg.style.bgcolor is not None)
    return not shows_background


class Answer:
    """What was shown: text, reasoning, and whether the user stopped it."""

    def __init__(self) -> None:
        self.text = ""
        self.reasoning = ""
        self.stopped = False
        self.started = time.monotonic()


def show_stream(chunks: Iterator[ChatCompletionChunk], *, hide_reasoning: bool,
                answer: Answer) -> None:
    """Print a stream as it arrives. KeyboardInterrupt propagates (the caller decides)."""
    if not stdout_is_terminal():
        write, flush = sys.stdout.write, sys.stdout.flush
        parts: list[str] = []
        try:
            for chunk in chunks:
                if chunk.choices:
                    content = chunk.choices[0].delta.content
                    if content:
                        parts.append(content)
                        write(content)
                        flush()
        finally:
            answer.text = "".join(parts)
            if answer.text and not answer.text.endswith("\n"):
                write("\n")
            flush()
        return
    from rich.live import Live

    con = console()
    live_md = SafeMarkdown()
    text: list[str] = []  # as received: the conversation goes on with the real text
    reasoning: list[str] = []
    live: Live | None = None
    try:
        for chunk in chunks:
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta
            if delta.reasoning:
                reasoning.append(delta.reasoning)
                if not hide_reasoning and live is None:
                    con.print(visible(delta.reasoning), style="dim italic", end="")
            if delta.content:
                if live is None:
                    if reasoning and not hide_reasoning:
                        con.print()
                    live = Live(live_md, console=con, refresh_per_second=12,
                                vertical_overflow="visible")
                    live.start()
                text.append(delta.content)
                live_md.parts.append(delta.content)
    finally:
        if live is not None:
            live.stop()
        elif reasoning and not hide_reasoning:
            con.print()
        answer.text = "".join(text)
        answer.reasoning = "".join(reasoning)


def show_text(text: str, reasoning: str | None, *, hide_reasoning: bool) -> None:
    if not stdout_is_terminal():
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    con = console()
    if reasoning and not hide_reasoning:
        con.print(visible(reasoning), style="dim italic")
    con.print(SafeMarkdown(text))


def total_tokens(usage: Usage | None) -> int | None:
    """The token count of an answer, or None: a count the server wrote oddly ("n/a", a
    list) must not turn a finished, paid-for answer into an error."""
    if usage is None:
        return None
    try:
        n = usage.total_tokens
    except (ValueError, TypeError, OverflowError):
        return None
    return n if isinstance(n, int) and not isinstance(n, bool) else None


def dollars(cost: Decimal) -> str:
    """A charge as ``$0.000019``. The server chooses the number: ``1e999999999`` written out
    in full is a billion digits (a 1 GB line, or a MemoryError), so a charge that far from
    a cent keeps its exponent, and one with more digits than a price has is rounded."""
    if cost.is_finite() and -30 <= cost.adjusted() <= 30 and len(cost.as_tuple().digits) <= 40:
        return f"${cost:f}"
    return f"${cost:.6g}"


def plural(count: int, word: str) -> str:
    """``1 token``, ``2 tokens``, ``0 tokens``: a count with its noun agreeing (English nouns
    that take an ``s``; every noun the command line counts does)."""
    return f"{count} {word}{'s' * (count != 1)}"


def stats_line(model: str, tokens: int | None, cost: Decimal | None, seconds: float) -> str:
    bits = [visible(model, name=True)]
    if tokens is not None:
        bits.append(plural(tokens, "token"))
    if cost is not None:
        bits.append(dollars(cost))
    bits.append(f"{seconds:.1f}s")
    return " · ".join(bits)


def show_stats(line: str, *, always: bool = False) -> None:
    """Tokens and cost on stderr: on a terminal, or when asked for."""
    if sys.stderr.isatty():
        err_console().print(line, style="dim")
    elif always:
        sys.stderr.write(line + "\n")
