"""The first hour of a new user (issue 9): what the command line says when someone tries it.

Each test drives the real command (a subprocess, or a pseudo-terminal for the conversation and
for what is drawn on a terminal) against the emulator over loopback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]
SGR = re.compile(r"\x1b\[[0-9;]*m")  # a style: colour, bold, dim, italic, ...


# the search and the "did you mean" live in their own module --------------------------------

def test_models_does_not_load_the_conversation_module(env) -> None:
    code = ("import sys, nanogpt.cli._models; "
            "print('nanogpt.cli._interactive' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.stdout.strip() == "False", r.stderr


@pytest.mark.parametrize("wrong,expected", [
    ("deepseek-v3.2", ["deepseek/deepseek-v3.2"]),  # the provider left out
    ("DeepSeek/DeepSeek-V3.2", ["deepseek/deepseek-v3.2"]),  # another letter case
    ("openai/gpt5-mini", ["openai/gpt-5-mini"]),  # a typo
    ("gpt-5-min", ["openai/gpt-5-mini"]),
    ("claude-sonnet", ["anthropic/claude-sonnet-4.5"]),  # the version left out
    ("zzzz", []),
    ("", []),
])
def test_closest_ids(wrong: str, expected: list[str]) -> None:
    from nanogpt._contract import closest_ids

    ids = ["anthropic/claude-sonnet-4.5", "deepseek/deepseek-r1", "deepseek/deepseek-v3.2",
           "openai/gpt-5-mini", "openai/gpt-5-nano"]
    assert closest_ids(wrong, ids)[:len(expected) or None] == expected


def test_an_unknown_model_gets_did_you_mean_from_the_cached_catalog(run, emu) -> None:
    assert run("models").returncode == 0  # the catalog is now cached on disk
    lists = emu.count("/models")
    r = run("chat", "-m", "deepseek-v3.2", "hi")
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nanogpt: "), r.stderr
    assert "did you mean deepseek/deepseek-v3.2?" in lines[0]
    assert emu.count("/chat") == 1  # the one refused call: nothing sent again
    assert emu.count("/models") == lists  # the suggestions came from the cache


def test_an_unknown_model_with_no_cache_lists_the_catalog_once(run, emu) -> None:
    r = run("chat", "-m", "claude-sonnet", "--no-stream", "hi")
    assert "did you mean anthropic/claude-sonnet-4.5?" in r.stderr
    assert emu.count("/chat") == 1 and emu.count("/models") == 1  # the free listing


def test_an_id_like_no_other_keeps_the_plain_advice(run, emu) -> None:
    r = run("chat", "-m", "zzzz", "hi")
    assert "did you mean" not in r.stderr and "nanogpt models --search" in r.stderr
    assert emu.count("/chat") == 1


# models --subscription --paid ----------------------------------------------------------------

def test_subscription_and_paid_together_are_refused_before_anything_is_fetched(run, emu) -> None:
    r = run("models", "--subscription", "--paid")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--subscription and --paid" in lines[0], r.stderr
    assert r.stdout == "" and emu.count("/models") == 0


# the emulate banner ---------------------------------------------------------------------------

@pytest.fixture
def fresh_shell(tmp_path: Path) -> dict[str, str]:
    """The environment of a new shell: no NANOGPT_ variable, ``nanogpt`` on the PATH (this
    interpreter, this source tree), private config and cache folders."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "nanogpt"
    script.write_text(f'#!/bin/sh\nexec {sys.executable} -m nanogpt "$@"\n')
    script.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "HOME": str(tmp_path), "NANOGPT_CONFIG_DIR": str(tmp_path / "config"),
           "NANOGPT_CACHE_DIR": str(tmp_path / "cache")}
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def banner(command: list[str], env: dict[str, str]) -> Iterator[str]:
    """Starts ``command`` (an emulator on a free port); yields its lines up to "Ctrl-C"."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            yield line.rstrip("\n")
            if "Ctrl-C" in line:
                break
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("command", [
    ["-m", "nanogpt", "emulate", "--port", "0"],
    ["-m", "nanogpt.emulator", "--port", "0"],
])
def test_the_emulate_banner_suggests_commands_that_work_as_pasted(fresh_shell, command) -> None:
    answers = []
    for line in banner([sys.executable, *command], fresh_shell):
        if not line.startswith("  ") or "nanogpt" not in line:
            continue
        r = subprocess.run(["sh", "-c", line.strip()], capture_output=True, text=True,
                           env=fresh_shell, timeout=60)
        assert r.returncode == 0, (line, r.stderr)
        answers.append(r.stdout)
    assert len(answers) == 2
    assert answers[0].strip().endswith("You said: Hello")
    assert "openai/gpt-5-mini" in answers[1]


# words: plurals, help summaries, examples -------------------------------------------------------

def test_plural() -> None:
    from nanogpt.cli._render import plural

    assert [plural(n, "message") for n in (0, 1, 2)] == ["0 messages", "1 message",
                                                         "2 messages"]


def all_commands() -> Iterator[tuple[str, click.Command]]:
    from nanogpt.cli import cli

    def walk(group: click.Group, ctx: click.Context) -> Iterator[tuple[str, click.Command]]:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None
            path = f"{ctx.command_path} {name}"
            yield path, command
            if isinstance(command, click.Group):
                yield from walk(command, click.Context(command, parent=ctx, info_name=name))

    yield from walk(cli, click.Context(cli, info_name="nanogpt"))


def test_every_command_has_a_summary_that_is_not_cut() -> None:
    # the command list cuts a summary to what fits beside the names (67 characters at 80
    # columns, fewer on a narrower terminal): 45, click's own default, leaves room
    for path, command in all_commands():
        summary = command.get_short_help_str(limit=45)
        assert summary and not summary.endswith("..."), (path, summary)


@pytest.mark.parametrize("command", ["", "chat", "models", "batch", "config", "emulate",
                                     "login"])
def test_main_commands_show_examples(run, command) -> None:
    r = run(*command.split(), "--help")
    assert r.returncode == 0
    examples = r.stdout.split("Examples:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert examples and all(line.strip().startswith(("nanogpt ", "git ", "pass "))
                            for line in examples), examples


# on a terminal: the model picker, /save, NO_COLOR and padding -----------------------------------

pexpect = pytest.importorskip("pexpect")


def spawn(env: dict[str, str], *args: str, **extra: str) -> pexpect.spawn:
    return pexpect.spawn(sys.executable, ["-m", "nanogpt", *args],
                         env={**env, "TERM": "xterm", **extra}, encoding="utf-8", timeout=30,
                         dimensions=(50, 140))


def conversation(env: dict[str, str], **extra: str) -> pexpect.spawn:
    p = spawn(env, "chat", "-m", "openai/gpt-5-mini", **extra)
    p.expect("› ")
    return p


def test_a_wrong_number_in_the_model_picker_is_said_and_asked_again(env, emu) -> None:
    p = conversation(env)
    p.sendline("/model seek")  # deepseek/deepseek-r1 and deepseek/deepseek-v3.2
    p.expect("pick a number")
    for wrong in ("9", "0", "abc", "-1"):
        p.sendline(wrong)
        p.expect(f"'{re.escape(wrong)}' is not one of the numbers 1 to 2; pick again")
        p.expect("pick a number")
    p.sendline("2")
    p.expect("model: deepseek/deepseek-v3.2")
    p.expect("› ")
    p.sendline("/model seek")
    p.expect("pick a number")
    p.sendline("")  # Enter keeps the model, and says so
    p.expect("model unchanged: deepseek/deepseek-v3.2")
    p.expect("› ")
    p.sendline("/model seek")
    p.expect("pick a number")
    p.sendeof()  # Ctrl-D at the picker: the same, and the session goes on
    p.expect("model unchanged: deepseek/deepseek-v3.2")
    p.expect("› ")
    p.sendline("hi")
    p.expect("You said: hi")
    p.expect("› ")
    assert emu.requests[-1].body["model"] == "deepseek/deepseek-v3.2"
    p.sendeof()
    p.expect(pexpect.EOF)


def test_an_unknown_model_in_a_conversation_gets_did_you_mean(env, emu) -> None:
    p = spawn(env, "chat", "-m", "deepseek-v3.2")
    p.expect("› ")
    p.sendline("hi")
    p.expect("did you mean deepseek/deepseek-v3.2\\?")
    p.expect("› ")  # the session goes on
    p.sendeof()
    p.expect(pexpect.EOF)
    assert emu.count("/chat") == 1


def test_save_counts_one_message_as_one(env, tmp_path) -> None:
    p = conversation(env)
    p.sendline("/system Be brief.")
    p.expect("system prompt set")
    p.sendline(f"/save {tmp_path / 'one.md'}")
    p.expect(r"saved 1 message to")
    p.sendeof()
    p.expect(pexpect.EOF)


def on_terminal(env: dict[str, str], *args: str, **extra: str) -> list[str]:
    """The lines a command drew on a terminal (stdout and stderr share the pty)."""
    p = spawn(env, *args, **extra)
    p.expect(pexpect.EOF)
    p.close()
    return str(p.before or "").split("\r\n")


MARKDOWN = "# Title\n\n**bold**, *italic*, `code`\n\n- one\n- two"


@pytest.mark.parametrize("args", [
    ("chat", "-m", "deepseek/deepseek-r1", MARKDOWN),  # streamed, with dimmed reasoning
    ("chat", "-m", "openai/gpt-5-mini", "--no-stream", MARKDOWN),
    ("models",),
])
def test_no_color_writes_no_style_and_no_line_is_padded(env, args) -> None:
    plain = on_terminal(env, *args, NO_COLOR="1")
    assert any("bold" in line or "gpt-5-mini" in line for line in plain)
    assert not [line for line in plain if SGR.search(line)]
    assert not [line for line in plain if line != line.rstrip(" ")]
    styled = on_terminal(env, *args)
    assert [line for line in styled if SGR.search(line)]  # without NO_COLOR: styles
    assert not [line for line in styled if SGR.sub("", line) != SGR.sub("", line).rstrip(" ")]
