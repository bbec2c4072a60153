"""The command line's files against a second local user (issue 8, items 16 to 19 and 21).

Another user who can write the config points ``base_url`` at a port they listen on and gets
the key; a symlink planted where a file will be written redirects the write; parallel runs
lose updates; a value that cannot be used breaks every later command. Each test drives the
real ``nanogpt`` command in a subprocess (a pty for the conversation) against the emulator.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from conftest import KEY
from nanogpt import InvalidParameterError, NanoGPT


@pytest.fixture
def cfg(env: dict[str, str]) -> Path:
    return Path(env["NANOGPT_CONFIG_DIR"])


def nanogpt(env: dict[str, str], *args: str | bytes, input: str = "", umask: int | None = None,
            **extra: str) -> subprocess.CompletedProcess[str]:
    preexec = (lambda: os.umask(umask)) if umask is not None else None
    return subprocess.run([sys.executable, "-m", "nanogpt", *args], input=input,
                          capture_output=True, text=True, env={**env, **extra}, timeout=60,
                          preexec_fn=preexec)


def one_line_error(r: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert r.returncode != 0, r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nanogpt: "), r.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


# 16. files other users can write -------------------------------------------------------------

def test_everything_is_created_private_whatever_the_umask(env, cfg, tmp_path) -> None:
    assert nanogpt(env, "config", "set", "model", "openai/gpt-5-mini", umask=0).returncode == 0
    r = nanogpt(env, "login", "--no-verify", input=KEY + "\n", umask=0, NANOGPT_API_KEY="")
    assert r.returncode == 0, r.stderr
    assert nanogpt(env, "models", umask=0).returncode == 0
    cache = tmp_path / "cache"
    assert mode(cfg) == 0o700 and mode(cache) == 0o700
    files = [*cfg.iterdir(), *cache.iterdir()]
    assert {f.name for f in cfg.iterdir()} >= {"config.json", "key"}
    assert any(f.name.startswith("models-") for f in cache.iterdir())
    assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}


def test_nested_missing_directories_are_created_private_too(env, tmp_path) -> None:
    deep = tmp_path / "a" / "b" / "nanogpt"
    r = nanogpt(env, "config", "set", "model", "x/y", umask=0, NANOGPT_CONFIG_DIR=str(deep))
    assert r.returncode == 0, r.stderr
    assert mode(tmp_path / "a") == mode(tmp_path / "a" / "b") == mode(deep) == 0o700


@pytest.mark.parametrize("where,chmod,fix", [
    ("config", 0o777, "chmod 700"),
    ("config", 0o770, "chmod 700"),
    ("config/config.json", 0o666, "chmod 600"),
    ("config/config.json", 0o620, "chmod 600"),
    ("config/key", 0o644, "chmod 600"),  # a key others can read is refused too, as by ssh
    ("cache", 0o777, "chmod 700"),
    ("cache/CATALOG", 0o666, "chmod 600"),
])
def test_files_others_can_write_are_refused_with_the_fix(env, cfg, tmp_path, emu, where, chmod,
                                                          fix) -> None:
    assert nanogpt(env, "config", "set", "temperature", "0.5").returncode == 0
    assert nanogpt(env, "login", "--no-verify", input=KEY + "\n").returncode == 0
    assert nanogpt(env, "chat", "hi").returncode == 0  # caches the catalog
    if where == "cache/CATALOG":
        target = next((tmp_path / "cache").glob("models-*.json"))
    else:
        target = tmp_path / where
    target.chmod(chmod)
    sent = emu.count("/chat")
    line = one_line_error(nanogpt(env, "chat", "hi", NANOGPT_API_KEY=""), "refusing",
                          str(target), f"'{fix} {target}'")
    assert "Traceback" not in line
    assert emu.count("/chat") == sent  # nothing was sent with a key or a config in doubt
    target.chmod(0o700 if fix == "chmod 700" else 0o600)
    assert nanogpt(env, "chat", "hi", NANOGPT_API_KEY="").returncode == 0


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="giving a file to another user needs root")
@pytest.mark.parametrize("where", ["config", "config/config.json", "config/key", "cache"])
def test_files_another_user_owns_are_refused(env, cfg, tmp_path, emu, where) -> None:
    # the attack from the issue: another user rewrites base_url to a port they listen on
    assert nanogpt(env, "login", "--no-verify", input=KEY + "\n").returncode == 0
    assert nanogpt(env, "config", "set", "base_url", emu.base_url).returncode == 0
    assert nanogpt(env, "chat", "hi", NANOGPT_BASE_URL="").returncode == 0  # caches the catalog
    os.chown(tmp_path / where, 54321, 54321)
    sent = emu.count()
    one_line_error(nanogpt(env, "chat", "hi", NANOGPT_API_KEY="", NANOGPT_BASE_URL=""),
                   "refusing", str(tmp_path / where), "another user (uid 54321)")
    assert emu.count() == sent


# 17. writes never follow a symlink ---------------------------------------------------------

def test_login_replaces_a_key_symlink_instead_of_writing_through_it(env, cfg, tmp_path) -> None:
    victim = tmp_path / "bashrc"
    victim.write_text("export PATH=/usr/bin\n")
    victim.chmod(0o644)
    cfg.mkdir(mode=0o700)
    (cfg / "key").symlink_to(victim)
    r = nanogpt(env, "login", "--no-verify", input=KEY + "\n", NANOGPT_API_KEY="")
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == "export PATH=/usr/bin\n" and mode(victim) == 0o644
    key = cfg / "key"
    assert not key.is_symlink() and key.read_text().strip() == KEY and mode(key) == 0o600


def test_config_set_writes_through_no_symlink(env, cfg, tmp_path) -> None:
    victim = tmp_path / "victim.json"
    victim.write_text('{"precious": 1}')
    cfg.mkdir(mode=0o700)
    (cfg / "config.tmp").symlink_to(victim)  # the old fixed temporary name
    assert nanogpt(env, "config", "set", "model", "a/b").returncode == 0
    assert victim.read_text() == '{"precious": 1}'
    (cfg / "config.json").unlink()
    (cfg / "config.json").symlink_to(victim)  # the file itself: replaced, not written through
    assert nanogpt(env, "config", "set", "model", "c/d").returncode == 0
    assert victim.read_text() == '{"precious": 1}'
    assert not (cfg / "config.json").is_symlink()
    assert json.loads((cfg / "config.json").read_text()) == {"model": "c/d", "precious": 1}
    assert sorted(p.name for p in cfg.iterdir()) == ["config.json", "config.lock", "config.tmp"]


pexpect = pytest.importorskip("pexpect")


def session(env: dict[str, str], **extra: str) -> pexpect.spawn:
    p = pexpect.spawn(sys.executable, ["-m", "nanogpt", "chat", "-m", "openai/gpt-5-mini"],
                      env={**env, "TERM": "xterm", **extra}, encoding="utf-8", timeout=30,
                      dimensions=(50, 140))
    p.expect("› ")
    return p


def test_history_replaces_a_symlink_instead_of_writing_through_it(env, cfg, tmp_path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    cfg.mkdir(mode=0o700)
    (cfg / "history").symlink_to(victim)
    p = session(env)
    p.sendline("remember me")
    p.expect("› ")
    p.sendeof()
    p.expect(pexpect.EOF)
    assert victim.read_text() == "precious\n"
    history = cfg / "history"
    assert not history.is_symlink() and "remember me" in history.read_text()
    assert mode(history) == 0o600


# 18. parallel config writes ----------------------------------------------------------------

SETTINGS = {"model": "openai/gpt-5-mini", "base_url": "https://example.com/api/v1",
            "system": "Be brief.", "temperature": "0.5", "top_p": "0.9", "top_k": "40",
            "min_p": "0.05", "repetition_penalty": "1.1", "frequency_penalty": "0.2",
            "presence_penalty": "0.3", "max_tokens": "50", "reasoning_effort": "low"}


# each writer loads everything first, says so, then waits at a gate: all of them then run
# `nanogpt config set` at the same moment, which is when updates used to be lost
GATED = """
import os, sys, time
import nanogpt.cli, nanogpt.cli._settings, nanogpt._core.params, nanogpt._core.config
print("ready", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.001)
sys.exit(nanogpt.cli.main(sys.argv[2:]))
"""


def test_parallel_config_set_loses_nothing_and_readers_never_see_half_a_file(env, cfg,
                                                                              tmp_path) -> None:
    cfg.mkdir(mode=0o700)
    (cfg / "config.json").write_text('{"seed": 1}\n')
    (cfg / "config.json").chmod(0o600)
    gate = tmp_path / "gate"
    bad: list[str] = []
    stop = threading.Event()

    def read_loop() -> None:
        while not stop.is_set():
            try:
                data = json.loads((cfg / "config.json").read_text())
                if not isinstance(data, dict) or data.get("seed") != 1:
                    bad.append(repr(data))
            except (ValueError, OSError) as e:
                bad.append(repr(e))

    def gated(*args: str) -> subprocess.Popen[str]:
        p = subprocess.Popen([sys.executable, "-c", GATED, str(gate), *args], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return p

    writers = [gated("config", "set", name, value) for name, value in SETTINGS.items()]
    writers += [gated("config", "set", name, value) for name, value in SETTINGS.items()]
    listers = [gated("config", "list") for _ in range(4)]
    for p in writers + listers:
        assert p.stdout is not None and p.stdout.readline() == "ready\n"
    reader = threading.Thread(target=read_loop)
    reader.start()
    try:
        gate.touch()
        for p in writers + listers:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
    finally:
        stop.set()
        reader.join()
    assert bad == []
    data = json.loads((cfg / "config.json").read_text())
    assert sorted(data) == sorted({"seed", *SETTINGS})
    assert sorted(p.name for p in cfg.iterdir()) == ["config.json", "config.lock"]  # no litter


# 19. values that would break every later command --------------------------------------------

def test_values_that_cannot_work_are_refused_at_config_set(env, cfg, emu) -> None:
    for args, needle in [
        ((b"config", b"set", b"system", b"caf\xe9"), "not valid UTF-8"),
        ((b"config", b"set", b"model", b"caf\xe9"), "not valid UTF-8"),
        (("config", "set", "base_url", "https://example.com:99999/api/v1"), "Port out of range"),
        (("config", "set", "base_url", "https://[::1"), "not a valid URL"),
    ]:
        one_line_error(nanogpt(env, *args), needle)
    assert not (cfg / "config.json").exists()
    assert nanogpt(env, "chat", "-m", "openai/gpt-5-mini", "hi").returncode == 0


def test_non_utf8_arguments_on_the_command_line(env, emu) -> None:
    sent = emu.count("/chat")
    one_line_error(nanogpt(env, "chat", b"-m", b"caf\xe9", "hi"), "-m/--model",
                   "not valid UTF-8")
    assert emu.count("/chat") == sent
    r = nanogpt(env, "chat", "-m", "openai/gpt-5-mini", "-s", b"syst\xe8me", b"caf\xe9 ok")
    assert r.returncode == 0, r.stderr  # free text: like piped input, bad bytes become U+FFFD
    assert emu.requests[-1].body["messages"] == [
        {"role": "system", "content": "syst\ufffdme"}, {"role": "user", "content": "caf\ufffd ok"}]


@pytest.mark.parametrize("content,needles", [
    ({"base_url": "https://[::1"}, ("base_url in ", "config.json", "nanogpt config set base_url")),
    ({"base_url": "http://example.com/api"}, ("base_url in ", "https://")),
    ({"base_url": 5}, ("base_url in ", "config.json")),
    ({"system": "caf\udce9"}, ("config.json", "system", "nanogpt config unset system")),
    ({"model": ["x"]}, ("config.json", "model", "nanogpt config set model")),
])
def test_bad_values_in_the_config_are_blamed_on_the_config(env, cfg, emu, content,
                                                           needles) -> None:
    cfg.mkdir(mode=0o700)
    (cfg / "config.json").write_text(json.dumps(content))
    line = one_line_error(nanogpt(env, "chat", "hi", NANOGPT_BASE_URL=""), *needles)
    assert "--base-url" not in line and "unexpected error" not in line


def test_a_bad_base_url_is_blamed_on_where_it_came_from(env) -> None:
    one_line_error(nanogpt(env, "chat", "hi", NANOGPT_BASE_URL="https://h:99999/v1"),
                   "NANOGPT_BASE_URL: ", "Port out of range")
    one_line_error(nanogpt(env, "--base-url", "https://[::1", "chat", "hi"),
                   "--base-url: ", "not a valid URL")


def test_echoed_urls_never_show_a_password(env) -> None:
    url = "ftp://user:pa55word@host/x"
    for r in (nanogpt(env, "--base-url", url, "chat", "hi"),
              nanogpt(env, "chat", "hi", NANOGPT_BASE_URL=url),
              nanogpt(env, "config", "set", "base_url", url),
              nanogpt(env, "--base-url", "https://user:pa55word@[::1", "chat", "hi")):
        line = one_line_error(r, "user:***@")
        assert "pa55word" not in line
    for bad in (url, "https://user:pa55word@h:99999/", "https://user:pa55word@h/"):
        with pytest.raises(InvalidParameterError) as e:
            NanoGPT(KEY, base_url=bad)
        assert "pa55word" not in str(e.value) and "pa55word" not in repr(e.value)


# 21. /save and a config that is not an object -------------------------------------------------

def test_save_never_overwrites_unless_asked_and_writes_0600(env, tmp_path) -> None:
    existing = tmp_path / "notes.md"
    existing.write_text("my notes\n")
    fresh = tmp_path / "fresh.md"
    p = session(env)
    p.sendline("hello")
    p.expect("You said: hello")
    p.expect("› ")
    p.sendline(f"/save {existing}")
    p.expect("exists; '/save! ")
    p.expect("› ")
    assert existing.read_text() == "my notes\n"
    p.sendline(f"/save {fresh}")
    p.expect("saved 2 messages")
    p.expect("› ")
    p.sendline(f"/save! {existing}")
    p.expect("saved 2 messages")
    p.expect("› ")
    p.sendline(f"/save {tmp_path / 'no' / 'such.md'}")
    p.expect("cannot save to .*: No such file or directory; pick")
    p.expect("› ")
    p.sendeof()
    p.expect(pexpect.EOF)
    assert "You said: hello" in existing.read_text() and mode(existing) == 0o600
    assert "You said: hello" in fresh.read_text() and mode(fresh) == 0o600


@pytest.mark.parametrize("text,kind", [("[1, 2]", "a list"), ('"x"', "a string"),
                                       ("null", "null"), ("3", "a number")])
def test_a_config_that_is_not_an_object_is_refused_not_overwritten(env, cfg, text,
                                                                   kind) -> None:
    cfg.mkdir(mode=0o700)
    (cfg / "config.json").write_text(text)
    for args in (("config", "set", "model", "a/b"), ("config", "list"), ("chat", "hi")):
        one_line_error(nanogpt(env, *args), "config.json", f"holds {kind}", "fix it")
    assert (cfg / "config.json").read_text() == text


# found in review -------------------------------------------------------------------------------

def test_a_key_file_that_is_not_utf8_is_refused_without_quoting_it(env, cfg, tmp_path) -> None:
    cfg.mkdir(mode=0o700)
    (cfg / "key").write_bytes(b"sk-nano-SECRETKEY-\xff\n")
    (cfg / "key").chmod(0o600)
    for args in (("balance",), ("chat", "hi")):
        line = one_line_error(nanogpt(env, *args, NANOGPT_API_KEY=""), str(cfg / "key"),
                              "not UTF-8")
        assert "SECRETKEY" not in line and "unexpected error" not in line
    (cfg / "config.json").write_bytes(b'{"model": "caf\xe9"}')
    (cfg / "config.json").chmod(0o600)
    one_line_error(nanogpt(env, "config", "list"), "config.json", "not UTF-8", "fix or delete")


def test_a_cache_file_that_is_not_utf8_is_fetched_again(env, emu, tmp_path) -> None:
    assert nanogpt(env, "models").returncode == 0
    cached = next((tmp_path / "cache").glob("models-*.json"))
    cached.write_bytes(b"[\xff]")
    fetched = emu.count("/models")
    r = nanogpt(env, "models")
    assert r.returncode == 0 and "openai/gpt-5-mini" in r.stdout, r.stderr
    assert emu.count("/models") == fetched + 1


# another user swaps the directory a symlink names, over and over; the victim reads its config
FLIPPER = """
import os, sys
shared, good, evil = sys.argv[1:4]
i = 0
while True:
    tmp = f"{shared}/.flip{i}"
    os.symlink(good if i % 2 else evil, tmp)
    os.rename(tmp, f"{shared}/nanogpt")
    i += 1
"""


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0
                    or not shutil.which("setpriv"),
                    reason="running a process as another user needs root and setpriv")
def test_what_is_read_is_what_was_checked(monkeypatch) -> None:
    # a config dir in a shared place (NANOGPT_CONFIG_DIR=/tmp/..., with symlinks followed
    # there): a check by path, then a read by path, could read the other user's config,
    # whose base_url receives the key
    import click

    from nanogpt.cli import _settings

    root = Path(tempfile.mkdtemp(prefix="nanogpt-race-"))
    try:
        root.chmod(0o755)
        shared, good, evil = root / "shared", root / "good", root / "evil"
        shared.mkdir(mode=0o1777)
        shared.chmod(0o1777)
        for d, url in ((good, "https://good.example/v1"), (evil, "http://127.0.0.1:9/v1")):
            d.mkdir(mode=0o700)
            (d / "config.json").write_text(json.dumps({"base_url": url}))
            (d / "config.json").chmod(0o600)
        for p in (evil, evil / "config.json"):
            os.chown(p, 65534, 65534)
        flipper = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534",
                                    "--clear-groups", sys.executable, "-c", FLIPPER,
                                    str(shared), str(good), str(evil)])
        try:
            monkeypatch.setenv("NANOGPT_CONFIG_DIR", str(shared / "nanogpt"))
            seen = {"good": 0, "evil": 0, "refused": 0, "absent": 0}
            for _ in range(20000):
                try:
                    url = _settings.load_config().get("base_url")
                except click.ClickException:
                    seen["refused"] += 1
                    continue
                except OSError:  # the link is being replaced
                    continue
                seen["absent" if url is None else "good" if "good" in url else "evil"] += 1
        finally:
            flipper.kill()
            flipper.wait()
        assert seen["refused"] > 0 and seen["good"] > 0, seen  # the race was on
        assert seen["evil"] == 0, seen
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("url,secret", [
    ("ftp://TOKEN1234@host/x", "TOKEN1234"),  # a token as the user name
    ("https://user:pa55/word@host/v1", "pa55"),  # parsed as host "user", port "pa55"
    ("https://user:pa55#word@host/v1", "pa55"),
    ("https://user:pa55?word@host:99999/v1", "pa55"),
])
def test_echoed_urls_never_show_a_token_or_an_odd_password(env, url, secret) -> None:
    for r in (nanogpt(env, "--base-url", url, "chat", "hi"),
              nanogpt(env, "chat", "hi", NANOGPT_BASE_URL=url),
              nanogpt(env, "config", "set", "base_url", url)):
        line = one_line_error(r, "***@host")
        assert secret not in line
    with pytest.raises(InvalidParameterError) as e:
        NanoGPT(KEY, base_url=url)
    assert secret not in str(e.value)


@pytest.mark.parametrize("var", ["NANOGPT_CONFIG_DIR", "NANOGPT_CACHE_DIR"])
def test_a_shared_directory_like_tmp_is_refused_without_advising_chmod(env, tmp_path,
                                                                       var) -> None:
    # the first pass advised 'chmod 700 /tmp', which breaks the system for everyone
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    line = one_line_error(nanogpt(env, "models", **{var: str(shared)}), "refusing",
                          str(shared), "shared by all users", var)
    assert "chmod" not in line
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777


def test_a_base_url_with_a_query_is_refused_at_config_set_and_not_echoed(env, cfg, emu) -> None:
    # the API's paths land in the query: every call is a 404 (and a token there was echoed)
    sent = emu.count()
    for url in (emu.base_url + "?token=SECRET123", emu.base_url + "#SECRET123"):
        one_line_error(nanogpt(env, "config", "set", "base_url", url), "query", "fragment")
        for r in (nanogpt(env, "--base-url", url, "chat", "hi"),
                  nanogpt(env, "balance", NANOGPT_BASE_URL=url)):
            line = one_line_error(r, "must not have a query")
            assert "SECRET123" not in line
    assert emu.count() == sent and not (cfg / "config.json").exists()
