"""The conversation: ``nanogpt chat`` with no prompt on a terminal.

Line editing and history (kept across sessions) come from readline. Ctrl-C stops the answer
being written and keeps the session; Ctrl-D (or /quit) leaves.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import stat
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import _files, _fuzzy, _settings
from ._render import (
    Answer,
    Unpadded,
    console,
    dollars,
    plural,
    show_stream,
    stats_line,
    total_tokens,
)
from ._safe import visible

if TYPE_CHECKING:
    from .. import Model
    from ._app import App

HELP = """\
/model [TEXT]        pick a model (fuzzy search over the catalog; shows price and context)
/set PARAM [VALUE]   set a sampling parameter for this session (no VALUE: back to default)
/system [TEXT|off]   show, set or clear the system prompt
/cost                what this session has cost so far
/clear               forget the conversation (keeps the system prompt)
/save FILE           save the conversation to a new file (Markdown, or JSON if FILE ends
                     in .json); /save! FILE replaces an existing one
/help                this list
/quit                leave (Ctrl-D works too); Ctrl-C stops an answer"""


def _error(message: str) -> None:
    con = console()
    con.print("error:", style="red", end=" ")
    # one line: the terminal may wrap it, but no line break is put into it (a long path in
    # the message moved where rich broke the line)
    con.print(visible(message, name=True), soft_wrap=True)


def _refuse_what_is_not_a_file(path: Path, given: str) -> None:
    """A directory or a device at ``path`` is said to be one. The save puts a new file in
    place by renaming, so "exists; /save! replaces it" would be false for a directory, and
    /save! would swap a device (``/dev/null``, for root) for a plain file. A symlink is fine:
    the link itself is replaced, never what it points to."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:  # absent (or unreachable: the write says why)
        return
    if stat.S_ISDIR(mode):
        raise click.ClickException(
            f"{path} is a directory; give a file name in it, as in "
            f"'/save {given.rstrip('/')}/conversation.md'")
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise click.ClickException(f"{path} is not a regular file (a device, a pipe or a "
                                   f"socket); save to a file")


def _price(v: float | None) -> str:
    return "-" if v is None else f"${v:g}"


class Session:
    def __init__(self, app: App, model: str, system: str | None, params: dict[str, Any], *,
                 hide_reasoning: bool) -> None:
        self.app = app
        self.model = model
        self.system = system
        self.params = dict(params)
        self.hide_reasoning = hide_reasoning
        self.messages: list[dict[str, str]] = []
        self.cost = Decimal(0)
        self.tokens = 0
        self.answers = 0
        self.unpriced = 0  # answers whose charge could not be added up

    # the loop ---------------------------------------------------------------------------

    def run(self) -> None:
        history = self._load_history()
        con = console()
        con.print("nanogpt", style="bold", end="")
        con.print(f" · {visible(self.model, name=True)} · /help for commands · Ctrl-D to quit")
        try:
            while True:
                try:
                    line = input("› ")
                except EOFError:
                    con.print()
                    break
                except KeyboardInterrupt:
                    con.print()
                    continue
                line = line.strip()
                if not line:
                    continue
                if line.startswith("/"):
                    if not self.command(line):
                        break
                    continue
                self.ask(line)
        finally:
            self._save_history(history)

    def ask(self, text: str) -> None:
        from .. import NanoGPTError
        from ._advice import one_line, show_traceback
        from ._chat import with_suggestions

        con = console()
        messages = ([{"role": "system", "content": self.system}] if self.system else [])
        messages += [*self.messages, {"role": "user", "content": text}]
        answer = Answer()
        started = time.monotonic()
        stream = None
        try:
            stream = self.app.client().chat.completions.create(
                model=self.model, messages=messages, stream=True,
                stream_options={"include_usage": True}, **self.params)
            with stream:
                show_stream(stream, hide_reasoning=self.hide_reasoning, answer=answer)
        except KeyboardInterrupt:  # before or during the answer: stop it, keep the session
            answer.stopped = True
            con.print("[stopped]", style="dim")
        except Exception as e:  # NanoGPTError or not: one line, and the session goes on
            _error(one_line(with_suggestions(self.app, e, self.model))[0])
            if not isinstance(e, NanoGPTError) and self.app.verbose:
                show_traceback()
        if not answer.text:
            return
        self.messages += [{"role": "user", "content": text},
                          {"role": "assistant", "content": answer.text}]
        self.answers += 1
        tokens = total_tokens(stream.usage) if stream is not None else None
        cost = stream.cost if stream is not None else None
        self._count(tokens, cost)
        con.print(stats_line(self.model, tokens, cost, time.monotonic() - started),
                  style="dim")

    def _count(self, tokens: int | None, cost: Decimal | None) -> None:
        """Add an answer to the session's totals. The server writes the numbers: one that
        the sum cannot hold (``1e999999999`` overflows a Decimal; ``NaN`` would stick) is left
        out and counted as unpriced, rather than ending the session after a paid answer."""
        if tokens is not None:
            self.tokens += tokens
        if cost is None:
            return
        try:
            if not cost.is_finite():
                raise ArithmeticError(cost)
            self.cost += cost
        except ArithmeticError:
            self.unpriced += 1

    # slash commands ----------------------------------------------------------------------

    def command(self, line: str) -> bool:
        """Run one slash command; False means leave."""
        name, _, rest = line[1:].partition(" ")
        rest = rest.strip()
        con = console()
        if name in ("quit", "exit", "q"):
            return False
        handler: Any = getattr(self, f"cmd_{name}", None)
        if name == "save!":
            handler = functools.partial(self.cmd_save, overwrite=True)
        if handler is None:
            con.print(f"unknown command /{visible(name)}; /help lists them")
            return True
        try:
            handler(rest)
        except click.ClickException as e:
            _error(e.format_message())
        except Exception as e:
            from ._advice import one_line

            _error(one_line(e)[0])
        return True

    def cmd_help(self, rest: str) -> None:
        console().print(HELP)

    def cmd_model(self, rest: str) -> None:
        con = console()
        models = self.app.catalog()
        exact = [m for m in models if m.id == rest]
        matches = exact or _fuzzy.search(rest, models)
        if not rest:
            con.print(f"current model: {visible(self.model, name=True)}")
        if not matches:
            con.print(f"no model matches {visible(repr(rest))}")
            return
        if rest and len(matches) == 1:
            self._use(matches[0])
            return
        shown = matches[:15]
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for col in ("#", "id", "$/M in", "$/M out", "context"):
            table.add_column(col, justify="right" if col != "id" else "left")
        for i, m in enumerate(shown, 1):
            table.add_row(str(i), visible(m.id, name=True), _price(m.pricing.prompt),
                          _price(m.pricing.completion),
                          f"{m.context_length:,}" if m.context_length else "-")
        con.print(Unpadded(table))
        if len(matches) > len(shown):
            con.print(f"... and {len(matches) - len(shown)} more; type more letters",
                      style="dim")
        picked = self._pick(len(shown))
        if picked is None:
            con.print(f"model unchanged: {visible(self.model, name=True)}")
        else:
            self._use(shown[picked - 1])

    def _pick(self, count: int) -> int | None:
        """The number the user picks from 1 to ``count``; None keeps the current model (Enter,
        Ctrl-D or Ctrl-C). Anything else is said to be wrong, and asked again: a silent
        "keep" after a typo would send the next question to a model the user did not mean."""
        con = console()
        while True:
            try:
                choice = input("pick a number (Enter keeps the current model): ").strip()
            except (EOFError, KeyboardInterrupt):
                con.print()
                return None
            if not choice:
                return None
            if choice.isdecimal() and 1 <= int(choice) <= count:
                return int(choice)
            numbers = f"one of the numbers 1 to {count}" if count > 1 else "1"
            con.print(f"{visible(repr(choice))} is not {numbers}; pick again", soft_wrap=True)

    def _use(self, m: Model) -> None:
        self.model = m.id
        console().print(f"model: {visible(m.id, name=True)} ({_price(m.pricing.prompt)} in, "
                        f"{_price(m.pricing.completion)} out per million tokens)")

    def cmd_set(self, rest: str) -> None:
        name, _, value = rest.partition(" ")
        name = name.replace("-", "_")
        if name not in _settings.SAMPLING:
            raise click.ClickException(f"/set takes one of: {', '.join(_settings.SAMPLING)}")
        if not value.strip():
            self.params.pop(name, None)
            console().print(f"{name}: default")
            return
        self.params[name] = _settings.parse_setting(name, value.strip())
        console().print(f"{name} = {visible(str(self.params[name]), name=True)}")

    def cmd_system(self, rest: str) -> None:
        if not rest:
            console().print(f"system prompt: {visible(self.system or '(none)')}")
            return
        self.system = None if rest == "off" else rest
        console().print("system prompt " + ("cleared" if self.system is None else "set"))

    def cmd_cost(self, rest: str) -> None:
        odd = f" (and {plural(self.unpriced, 'charge')} too odd to add)" \
            if self.unpriced else ""
        console().print(f"this session: {dollars(self.cost)}{odd} over "
                        f"{plural(self.answers, 'answer')}, {plural(self.tokens, 'token')}")

    def cmd_clear(self, rest: str) -> None:
        self.messages = []
        console().print("conversation cleared")

    def cmd_save(self, rest: str, *, overwrite: bool = False) -> None:
        """Save to a new file (0600: a conversation can be private); ``/save!`` overwrites."""
        if not rest:
            raise click.ClickException("/save needs a file name")
        path = Path(rest).expanduser()
        _refuse_what_is_not_a_file(path, rest)
        messages = ([{"role": "system", "content": self.system}] if self.system else [])
        messages += self.messages
        if path.suffix == ".json":
            text = json.dumps({"model": self.model, "messages": messages}, indent=2,
                              ensure_ascii=False) + "\n"
        else:
            parts = [f"# Conversation with {self.model}\n"]
            for m in messages:
                parts.append(f"## {m['role']}\n\n{m['content']}\n")
            text = "\n".join(parts)
        try:
            _files.write_private(path, text.encode("utf-8", "surrogateescape"), make_dir=False,
                                 overwrite=overwrite)
        except FileExistsError:
            raise click.ClickException(f"{path} exists; '/save! {rest}' replaces it") from None
        except OSError as e:
            raise click.ClickException(f"cannot save to {path}: {e.strerror or e}; pick another "
                                       f"file name or directory") from None
        console().print(f"saved {plural(len(messages), 'message')} to {visible(str(path))}")

    # history -----------------------------------------------------------------------------

    def _load_history(self) -> Any:
        try:
            import readline
        except ImportError:  # pragma: no cover - e.g. Windows without pyreadline
            return None
        path = _settings.history_path()
        with contextlib.suppress(OSError):
            readline.read_history_file(path)
        readline.set_history_length(1000)
        return readline

    def _save_history(self, readline: Any) -> None:
        """readline writes to a fresh 0600 file of ours, which then replaces the history:
        a symlink at ``history`` is replaced, never written through."""
        if readline is None:
            return

        def fill(fd: int, tmp: str) -> None:
            os.close(fd)
            readline.write_history_file(tmp)

        with contextlib.suppress(OSError, click.ClickException):
            _files.replace_private(_settings.history_path(), fill)
