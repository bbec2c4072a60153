"""The first hour again, tried as an adversary would: variants of issue 9's items that the
first tests did not try (a value that starts with "-", an empty value, a typo in a global
option after the command, /save to a directory or a pipe, an empty --base-url).

Each test drives the real command (a subprocess, or a pseudo-terminal for the conversation)
against the emulator over loopback.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import cli_env
from nanogpt.emulator import Emulator

Run = Callable[..., subprocess.CompletedProcess[str]]


def one_error_line(r: subprocess.CompletedProcess[str]) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nanogpt: "), r.stderr
    return lines[0]


# config set ------------------------------------------------------------------------------

def test_config_set_takes_a_negative_value(run, tmp_path) -> None:
    """frequency_penalty -0.5 is valid: it was read as an unknown option '-0.5'."""
    r = run("config", "set", "frequency_penalty", "-0.5")
    assert r.returncode == 0, r.stderr
    config = json.loads((tmp_path / "config" / "config.json").read_text())
    assert config == {"frequency_penalty": -0.5}
    r = run("config", "set", "temperature", "-1")  # out of range: the range is said
    assert r.returncode == 2
    assert "temperature: must be between 0 and 2" in one_error_line(r)


@pytest.mark.parametrize("name", ["model", "system", "temperature", "max_tokens"])
def test_config_set_refuses_an_empty_value(run, tmp_path, name) -> None:
    """An empty model was stored, and chat then quietly used the default model."""
    r = run("config", "set", name, " ")
    assert r.returncode == 2
    assert f"'nanogpt config unset {name}' removes it" in one_error_line(r)
    assert not (tmp_path / "config" / "config.json").exists()


# the base URL ----------------------------------------------------------------------------

def test_an_empty_base_url_option_is_refused_not_replaced_by_the_default(run) -> None:
    """``--base-url "$URL"`` with URL unset went to the real, paid service. (Tried with a
    command that sends nothing, so that no version of this test leaves the machine.)"""
    r = run("--base-url", "", "config", "path")
    assert r.returncode == 2
    line = one_error_line(r)
    assert "--base-url" in line and "is empty" in line
    assert r.stdout == ""


def test_a_refused_base_url_option_gets_one_advice_that_fits(run) -> None:
    r = run("--base-url", "http://10.255.255.1/api/v1", "chat", "hi")
    assert r.returncode == 1
    line = one_error_line(r)
    assert "set NANOGPT_ALLOW_INSECURE_HTTP=1 if you really mean it" in line
    assert "pass an https:// URL" not in line  # was added after its own advice


# a global option after the command ------------------------------------------------------

@pytest.mark.parametrize("args,meant", [
    (["chat", "--offlin", "hi"], "--offline"),
    (["batches", "list", "--ofline"], "--offline"),
    (["models", "--base-ur", "x"], "--base-url URL"),
])
def test_a_typo_of_a_global_option_after_the_command_is_pointed_at(run, args, meant) -> None:
    r = run(*args)
    assert r.returncode == 2
    line = one_error_line(r)
    assert f"did you mean the global option {meant.split()[0]}?" in line
    assert f"as in 'nanogpt {meant} {args[0]}" in line


def test_a_typo_of_the_commands_own_option_keeps_clicks_suggestion(run) -> None:
    line = one_error_line(run("chat", "--temprature", "1", "hi"))
    assert "Did you mean '--temperature'?" in line and "global" not in line


# /save in a conversation -----------------------------------------------------------------

pexpect = pytest.importorskip("pexpect")


def conversation(env: dict[str, str]) -> pexpect.spawn:
    p = pexpect.spawn(sys.executable, ["-m", "nanogpt", "chat", "-m", "openai/gpt-5-mini"],
                      env={**env, "TERM": "xterm"}, encoding="utf-8", timeout=30,
                      dimensions=(50, 140))
    p.expect("› ")
    return p


def test_save_to_a_directory_or_a_pipe_says_what_it_is(env, tmp_path) -> None:
    """"exists; /save! replaces it" was false for a directory, and /save! swapped a pipe (or,
    for root, a device such as /dev/null) for a plain file."""
    folder = tmp_path / "notes"
    folder.mkdir()
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    p = conversation(env)
    p.sendline("hi")
    p.expect("You said: hi")
    p.expect("› ")
    p.sendline(f"/save {folder}")
    p.expect(f"is a directory; give a file name in it, as in '/save {folder}/conversation.md'")
    p.expect("› ")
    p.sendline(f"/save! {folder}/")
    p.expect("is a directory")
    p.expect("› ")
    p.sendline(f"/save! {pipe}")
    p.expect("is not a regular file")
    p.expect("› ")
    p.sendline(f"/save {folder}/conversation.md")
    p.expect("saved 2 messages to")
    p.expect("› ")
    p.sendeof()
    p.expect(pexpect.EOF)
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode)
    assert (folder / "conversation.md").read_text().count("## ") == 2


# batch -----------------------------------------------------------------------------------

def test_batch_rows_with_no_model_say_how_to_give_one(run, tmp_path, emu) -> None:
    """Valid rows that name no model, with no -m and no config model, were summed up as
    "2 malformed lines": the user looked for a syntax error."""
    rows = tmp_path / "in.jsonl"
    rows.write_text('{"id": "a", "prompt": "hi"}\n{"id": "b", "prompt": "yo"}\n')
    r = run("batch", str(rows), "-o", str(tmp_path / "out.jsonl"))
    assert r.returncode == 1
    assert "malformed" not in r.stdout
    assert "not valid rows, refused before sending: 2 lines" in r.stdout
    assert "pass -m MODEL, or set a default with 'nanogpt config set model ID'" in r.stdout
    assert emu.count("/chat") == 0
    r = run("batch", str(rows), "-o", str(tmp_path / "out2.jsonl"), "-m", "openai/gpt-5-mini")
    assert r.returncode == 0 and "-m MODEL" not in r.stdout and "refused" not in r.stdout


# an unknown model the user did not type --------------------------------------------------

@pytest.mark.parametrize("configured,guess", [
    ("deepseek-v3.2", "did you mean deepseek/deepseek-v3.2?"),
    ("zzzz-no-such", None),
])
def test_an_unknown_model_from_the_config_says_it_came_from_there(run, emu, configured,
                                                                   guess) -> None:
    """A user who typed no -m got "Model 'x' not found" with no word of where x came from."""
    assert run("config", "set", "model", configured).returncode == 0
    r = run("chat", "hi")
    assert r.returncode == 1
    line = one_error_line(r)
    assert f"Model '{configured}' not found" in line
    assert "it is the default model in" in line
    assert line.endswith("change it with 'nanogpt config set model ID'")
    assert guess is None or guess in line
    assert emu.count("/chat") == 1


# a key with extra text -------------------------------------------------------------------

def test_a_key_with_extra_text_is_named_in_the_users_terms(run, env, emu) -> None:
    """Both said "api_key: ...", a Python argument name the command line never shows."""
    r = run("balance", NANOGPT_API_KEY="sk-one two")
    assert r.returncode == 1
    line = one_error_line(r)
    assert line.startswith("nanogpt: NANOGPT_API_KEY: contains spaces")
    assert "fix the variable, or unset it" in line and "sk-one" not in line
    r = subprocess.run([sys.executable, "-m", "nanogpt", "login", "--no-verify"],
                       input="sk-one two\n", capture_output=True, text=True, timeout=60,
                       env={**env, "NANOGPT_API_KEY": ""})
    assert r.returncode == 2
    line = one_error_line(r)
    assert line.startswith("nanogpt: the API key: contains spaces") and "sk-one" not in line
    assert emu.count("/check-balance") == 0


@pytest.mark.parametrize("command", ["set", "get", "unset"])
def test_config_help_names_every_setting(run, command) -> None:
    """``config set --help`` said NAME VALUE, and nowhere which names there are."""
    from nanogpt.cli._settings import SETTINGS

    r = run("config", command, "--help")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    assert all(name in text for name in SETTINGS), text


def test_an_empty_model_option_is_refused_not_replaced_by_the_default(run, emu) -> None:
    """``-m "$MODEL"`` with MODEL unset quietly asked the default model."""
    r = run("chat", "-m", "", "hi")
    assert r.returncode == 2
    assert "'-m' / '--model': is empty" in one_error_line(r)
    assert emu.count("/chat") == 0


def test_an_empty_batch_list_says_so(run, emu2) -> None:
    """``batches list`` with no batches printed nothing at all. (A fresh emulator: the
    session's one holds the batches of other tests.)"""
    r = run("batches", "list", NANOGPT_BASE_URL=emu2.base_url)
    assert r.returncode == 0 and r.stdout == ""
    assert r.stderr.startswith("no batches; ")


def test_a_base_url_with_credentials_gets_advice_the_cli_can_follow(tmp_path: Path,
                                                                   emu: Emulator) -> None:
    """Was: "must not carry credentials; pass api_key instead", a Python argument."""
    env = cli_env(tmp_path, emu)
    for args in (["--base-url", "https://me:pw@127.0.0.1:1/api/v1", "balance"],
                 ["config", "set", "base_url", "https://me:pw@127.0.0.1:1/api/v1"]):
        r = subprocess.run([sys.executable, "-m", "nanogpt", *args], env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode != 0
        assert "nanogpt login" in r.stderr, r.stderr
        assert "api_key" not in r.stderr and "pw" not in r.stderr, r.stderr


def test_emulate_refuses_an_empty_host(tmp_path: Path, emu: Emulator) -> None:
    """Was: it listened on every address and warned "listening on : ..."."""
    r = subprocess.run([sys.executable, "-m", "nanogpt", "emulate", "--host", "", "--port", "0"],
                       env=cli_env(tmp_path, emu), capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "--host" in r.stderr and "cannot be empty" in r.stderr, r.stderr
