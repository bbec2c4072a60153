"""The command line's errors as a new user meets them: one line whose advice fits the error
(``_advice.TABLE``), and the flag and setting tables that are defined once."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from conftest import cli_env
from test_cli import assert_one_line_error

CONFIG_ADVICE = "NANOGPT_CONFIG_DIR"


def nanogpt(env: dict[str, str], *args: str, module: str = "nanogpt",
            **kw: object) -> subprocess.CompletedProcess[str]:
    options: dict[str, object] = {"capture_output": True, **kw}
    if "stdout" in kw:
        options = {"stderr": subprocess.PIPE, **kw}
    return subprocess.run([sys.executable, "-m", module, *args], text=True, env=env,
                          timeout=60, **options)  # type: ignore[call-overload, no-any-return]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port something already listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


# A: advice that fits the error ---------------------------------------------------------------

@pytest.mark.parametrize("module", ["nanogpt", "nanogpt.emulator"])
def test_a_port_in_use_suggests_another_port(env, taken_port, module) -> None:
    args = ["emulate"] if module == "nanogpt" else []
    r = nanogpt(env, *args, "--port", str(taken_port), module=module)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert f"127.0.0.1:{taken_port}" in r.stderr and "in use" in r.stderr
    assert "--port 0" in r.stderr and CONFIG_ADVICE not in r.stderr


@pytest.mark.parametrize("module", ["nanogpt", "nanogpt.emulator"])
def test_an_address_not_on_this_machine_suggests_loopback(env, module) -> None:
    # binding fails locally (EADDRNOTAVAIL): nothing is sent anywhere
    args = ["emulate"] if module == "nanogpt" else []
    r = nanogpt(env, *args, "--host", "10.255.255.1", "--port", "0", module=module)
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "not an address of this machine" in r.stderr and "--host 127.0.0.1" in r.stderr
    assert CONFIG_ADVICE not in r.stderr


def test_a_full_disk_says_to_free_space(env) -> None:
    with open("/dev/full", "w") as full:
        r = nanogpt(env, "chat", "-m", "openai/gpt-5-mini", "hi", stdout=full)
    assert_one_line_error(r, "no space left", "free some space")
    assert CONFIG_ADVICE not in r.stderr


def test_save_to_a_missing_folder_says_so_without_folder_advice(env, tmp_path) -> None:
    pexpect = pytest.importorskip("pexpect")
    from test_cli import spawn

    p = spawn(env, "chat", "-m", "openai/gpt-5-mini")
    missing = tmp_path / "nonexistent" / "x.md"
    p.sendline(f"/save {missing}")
    p.expect("No such file or directory")
    p.expect("› ")
    assert CONFIG_ADVICE not in (p.before or "")
    p.sendline("/quit")
    p.expect(pexpect.EOF)
    p.close()
    assert not missing.exists()


def test_an_unwritable_config_folder_still_gets_the_folder_advice(tmp_path, emu) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    env = cli_env(tmp_path, emu, NANOGPT_CONFIG_DIR=str(locked / "config"))
    r = nanogpt(env, "config", "set", "model", "openai/gpt-5-mini")
    if r.returncode == 0:  # pragma: no cover - running as root: permissions do not bind
        pytest.skip("permissions are not enforced for this user")
    assert_one_line_error(r, "check the permissions", CONFIG_ADVICE)


# B: a port out of range ----------------------------------------------------------------------

def test_a_port_out_of_range_is_a_usage_error(env) -> None:
    r = nanogpt(env, "emulate", "--port", "99999")
    assert_one_line_error(r, "--port", "65535")
    assert r.returncode == 2 and "unexpected" not in r.stderr
    r = nanogpt(env, "--port", "99999", module="nanogpt.emulator")
    assert r.returncode == 2 and "between 0 and 65535" in r.stderr
    assert "Traceback" not in r.stderr


# C: plain http:// to another machine ---------------------------------------------------------

def test_insecure_http_advice_is_something_the_cli_can_do(env) -> None:
    url = "http://example.com/api/v1"
    r = nanogpt(env, "config", "set", "base_url", url)
    assert_one_line_error(r, "NANOGPT_ALLOW_INSECURE_HTTP=1")
    assert "allow_insecure_http=True" not in r.stderr
    # refused before anything is sent: example.com is never contacted
    r = nanogpt(env, "--base-url", url, "balance")
    assert_one_line_error(r, "--base-url", "NANOGPT_ALLOW_INSECURE_HTTP=1")
    r = nanogpt({**env, "NANOGPT_ALLOW_INSECURE_HTTP": "1"}, "config", "set", "base_url", url)
    assert r.returncode == 0, r.stderr
    assert nanogpt(env, "config", "get", "base_url").stdout.strip() == url


# E: unknown settings -------------------------------------------------------------------------

@pytest.mark.parametrize("verb", ["get", "unset", "set"])
def test_an_unknown_setting_is_refused_by_every_verb(env, verb) -> None:
    args = ["nothing", "1"] if verb == "set" else ["nothing"]
    r = nanogpt(env, "config", verb, *args)
    assert_one_line_error(r, "unknown setting 'nothing'", "temperature", "base_url")
    assert r.returncode == 2


def test_unsetting_a_known_setting_that_is_not_set_is_fine(env) -> None:
    assert nanogpt(env, "config", "unset", "top-p").returncode == 0


# F: logout while the variable is set ---------------------------------------------------------

def test_logout_says_the_variable_still_wins(env) -> None:
    r = nanogpt(env, "logout")
    assert r.returncode == 0
    assert "NANOGPT_API_KEY is still set" in r.stderr
    quiet = {k: v for k, v in env.items() if k != "NANOGPT_API_KEY"}
    assert "NANOGPT_API_KEY" not in nanogpt(quiet, "logout").stderr


# H: a global flag after the command ----------------------------------------------------------

def test_a_global_flag_after_the_command_says_where_it_goes(env) -> None:
    r = nanogpt(env, "chat", "--offline", "hi")
    assert_one_line_error(r, "--offline is a global option", "nanogpt --offline chat")
    assert r.returncode == 2
    r = nanogpt(env, "models", "--base-url", "https://x.example/api/v1")
    assert_one_line_error(r, "nanogpt --base-url URL models")
    r = nanogpt(env, "chat", "--nope")  # an option nobody has: click's words
    assert_one_line_error(r, "No such option", "--nope")


# the tables behind them ----------------------------------------------------------------------

def test_each_sampling_flag_is_a_chat_option_a_setting_and_a_parameter() -> None:
    from nanogpt._contract import check_parameter, parameter_names
    from nanogpt.cli import chat
    from nanogpt.cli._sampling import SAMPLING, flag_name
    from nanogpt.cli._settings import SETTINGS

    options = {opt for p in chat.params for opt in p.opts}
    for name in SAMPLING:
        assert name in parameter_names() and name in SETTINGS
        assert flag_name(name) in options
    check_parameter("temperature", 1.0)


def test_every_error_gets_one_row_and_the_last_catches_all() -> None:
    from nanogpt.cli._advice import TABLE, explain

    assert TABLE[-1].kind is BaseException
    line, code = explain(RuntimeError("boom"))
    assert line.startswith("unexpected error: RuntimeError('boom')") and code == 1
    line, code = explain(OSError(28, "No space left on device"))
    assert "free some space" in line and CONFIG_ADVICE not in line
