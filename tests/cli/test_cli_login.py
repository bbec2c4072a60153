"""``nanogpt login``: the browser login (device flow) against the emulator, the pasted key, and
the flow's pure decisions (``cli/_device_login``)."""

from __future__ import annotations

import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest

from conftest import KEY, cli_env
from nanogpt.cli import _device_login as flow
from nanogpt.emulator import Emulator, Fault

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def logins(emu: Emulator) -> Iterator[Emulator]:
    """The emulator, polled every 10 ms (NanoGPT says 2 s), its codes living 10 minutes."""
    store = emu.logins
    saved = store.interval, store.expires_in
    store.interval, store.expires_in = 0.01, 600
    yield emu
    store.interval, store.expires_in = saved


@pytest.fixture
def env(tmp_path: Path, logins: Emulator) -> dict[str, str]:
    # never a browser from a test, whatever the machine has
    return cli_env(tmp_path, logins, NANOGPT_NO_BROWSER="1", NANOGPT_API_KEY="")


def key_file(env: dict[str, str]) -> Path:
    return Path(env["NANOGPT_CONFIG_DIR"]) / "key"


def when_started(emu: Emulator, settle: Callable[[str], object]) -> threading.Thread:
    """A thread that settles the next login a command starts, as its user would (the
    session's emulator may still hold codes earlier tests left pending)."""
    earlier = set(emu.logins.pending())

    def new_codes() -> list[str]:
        return [code for code in emu.logins.pending() if code not in earlier]

    def wait_and_settle() -> None:
        deadline = time.monotonic() + 30  # a safety net, not a timing assertion
        while not new_codes() and time.monotonic() < deadline:
            time.sleep(0.01)
        settle(new_codes()[0])

    thread = threading.Thread(target=wait_and_settle, daemon=True)
    thread.start()
    return thread


def the_one_error_line(r: subprocess.CompletedProcess[str]) -> str:
    """What the command printed as its error: one line, and no traceback."""
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("nanogpt: ")]
    assert len(errors) == 1, r.stderr
    assert r.stderr.rstrip().endswith(errors[0])
    return errors[0]


# the browser login, end to end -----------------------------------------------------------------

def test_approved_login_stores_the_key_0600_and_never_shows_it(run, env, logins) -> None:
    issued: list[str] = []
    thread = when_started(logins, lambda code: issued.append(logins.logins.approve(code)))
    # NANOGPT_API_KEY set: it must not travel to the login endpoints
    r = run("login", "--web", NANOGPT_API_KEY=KEY)
    thread.join()
    assert r.returncode == 0, r.stderr
    path = key_file(env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == issued[0]
    assert issued[0] not in r.stdout + r.stderr
    calls = [q for q in logins.requests if "cli-login" in q.path]
    assert [q.path for q in calls][:2] == ["/api/cli-login/start", "/api/cli-login/poll"]
    assert all(q.api_key is None for q in calls)  # no key goes with the login
    assert calls[0].body == {"client_name": flow.CLIENT_NAME}
    device_code = calls[1].body["device_code"]
    assert device_code not in r.stdout + r.stderr  # the docs: never display it
    assert "approve the code" in r.stderr and "/cli-login/verify?code=" in r.stderr
    assert "NANOGPT_API_KEY is set and takes precedence" in r.stderr


def test_an_expired_code_is_one_line_with_advice_and_nothing_stored(run, env, logins) -> None:
    thread = when_started(logins, logins.logins.expire)
    r = run("login", "--web")
    thread.join()
    line = the_one_error_line(r)
    assert "expired" in line and "nanogpt login" in line and "--with-key" in line
    assert not key_file(env).exists()


def test_a_code_that_runs_out_unapproved_ends_the_wait(run, env, logins) -> None:
    logins.logins.expires_in = 0.2  # nobody approves: the server, or our clock, ends it
    r = run("login", "--web")
    assert "expired" in the_one_error_line(r)
    assert not key_file(env).exists()


def test_a_key_already_handed_out_is_one_line_and_nothing_stored(run, env, logins) -> None:
    thread = when_started(logins, logins.logins.consume)
    r = run("login", "--web")
    thread.join()
    assert "already handed out (409)" in the_one_error_line(r)
    assert not key_file(env).exists()


def test_a_server_without_the_flow_says_to_paste_a_key(run, env, logins) -> None:
    logins.inject(Fault(status=404), path="cli-login/start")
    line = the_one_error_line(run("login", "--web"))
    assert "offers no browser login" in line and "--with-key" in line
    assert logins.count("cli-login/poll") == 0


def test_ctrl_c_while_waiting_is_one_line_and_stores_nothing(env, logins) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "nanogpt", "login", "--web"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    started = threading.Event()
    when_started(logins, lambda code: started.set()).join()
    assert started.is_set()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    r = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert r.returncode == 130
    assert the_one_error_line(r) == "nanogpt: login cancelled; nothing stored"
    assert not key_file(env).exists()


# the pasted key, unchanged ----------------------------------------------------------------------

@pytest.mark.parametrize("flags", [(), ("--with-key",)])
def test_a_piped_key_is_stored_as_before_and_no_browser_login_starts(run, env, logins,
                                                                     flags) -> None:
    r = run("login", *flags, input=KEY + "\n")
    assert r.returncode == 0, r.stderr
    assert key_file(env).read_text().strip() == KEY
    assert logins.requests[-1].path == "/api/check-balance"  # checked first
    assert logins.count("cli-login") == 0


def test_with_key_and_web_together_is_a_usage_error(run, env) -> None:
    line = the_one_error_line(run("login", "--with-key", "--web"))
    assert "--with-key" in line and "--web" in line
    assert not key_file(env).exists()


# on a terminal ---------------------------------------------------------------------------------

def test_on_a_terminal_login_goes_through_the_browser_and_with_key_asks(env, logins) -> None:
    pexpect = pytest.importorskip("pexpect")

    def spawn(*args: str) -> pexpect.spawn:
        return pexpect.spawn(sys.executable, ["-m", "nanogpt", *args],
                             env={**env, "TERM": "xterm"}, encoding="utf-8", timeout=30)

    issued: list[str] = []
    thread = when_started(logins, lambda code: issued.append(logins.logins.approve(code)))
    p = spawn("login")
    p.expect("approve the code")
    p.expect("key stored in")
    p.expect(pexpect.EOF)
    thread.join()
    assert key_file(env).read_text().strip() == issued[0]

    p = spawn("login", "--with-key")
    p.expect("NanoGPT API key")
    p.sendline(KEY)
    p.expect("key stored in")
    p.expect(pexpect.EOF)
    assert key_file(env).read_text().strip() == KEY


# the browser: opened only when it can be, and asked for ---------------------------------------

@pytest.mark.parametrize("flags,environ,opened", [
    ((), {"DISPLAY": ":0"}, True),
    (("--no-browser",), {"DISPLAY": ":0"}, False),
    ((), {"DISPLAY": ":0", "SSH_CONNECTION": "10.0.0.2 5555 10.0.0.1 22"}, False),
    ((), {"DISPLAY": ":0", "CI": "true"}, False),
    ((), {"DISPLAY": ":0", "NANOGPT_NO_BROWSER": "1"}, False),
    ((), {}, False),  # no display on this (Linux) test machine
])
def test_the_browser_opens_only_when_asked_and_possible(monkeypatch, tmp_path, logins, flags,
                                                         environ, opened) -> None:
    from nanogpt.cli import _login, _settings, main

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY", "CI",
                 "NANOGPT_NO_BROWSER", "NANOGPT_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("NANOGPT_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("NANOGPT_BASE_URL", logins.base_url)
    monkeypatch.setattr(_settings, "_keyring", lambda: None)
    pages: list[str] = []
    monkeypatch.setattr(_login.webbrowser, "open", lambda page: pages.append(page) or True)
    issued: list[str] = []
    thread = when_started(logins, lambda code: issued.append(logins.logins.approve(code)))
    assert main(["login", "--web", *flags]) == 0
    thread.join()
    assert (tmp_path / "config" / "key").read_text().strip() == issued[0]
    if opened:
        assert len(pages) == 1 and "/cli-login/verify?code=" in pages[0]
    else:
        assert pages == []


# the pure half -----------------------------------------------------------------------------------

@pytest.mark.parametrize("status,body,expected", [
    (202, {"status": "authorization_pending"}, flow.Pending(2.0)),
    (202, {"status": "authorization_pending", "interval": 3}, flow.Pending(3.0)),
    (202, {"status": "slow_down"}, flow.Pending(7.0)),  # RFC 8628: five seconds more
    (202, None, flow.Pending(2.0)),
    (410, {"status": "expired"}, flow.Expired()),
    (409, {"status": "consumed"}, flow.Consumed()),
    (202, {"status": "authorization_pending", "interval": 1e9}, flow.Pending(flow.MAX_INTERVAL)),
    (202, {"status": "authorization_pending", "interval": True}, flow.Pending(2.0)),
])
def test_each_poll_answer_is_decoded(status, body, expected) -> None:
    assert flow.decode_poll(status, body, 2.0) == expected


def test_the_approved_key_is_a_secret_at_once() -> None:
    answer = flow.decode_poll(200, {"status": "approved", "key": " sk-nano-abc "}, 2.0)
    assert isinstance(answer, flow.Approved)
    assert answer.key.reveal() == "sk-nano-abc"
    assert "sk-nano-abc" not in repr(answer) and "sk-nano-abc" not in str(answer)


def test_an_approved_key_no_client_would_take_is_refused_unquoted() -> None:
    from nanogpt import InvalidParameterError

    with pytest.raises(InvalidParameterError) as e:
        flow.decode_poll(200, {"status": "approved", "key": "sk-nano-a\nb"}, 2.0)
    assert "sk-nano-a" not in str(e.value)


@pytest.mark.parametrize("status,body,needle", [
    (200, {"status": "approved"}, "holds no key"),
    (404, {"error": "invalid_code"}, "invalid_code"),
    (418, None, "HTTP 418"),
])
def test_poll_answers_the_flow_cannot_use_are_errors_with_advice(status, body, needle) -> None:
    with pytest.raises(click.ClickException) as e:
        flow.decode_poll(status, body, 2.0)
    assert needle in e.value.message and "--with-key" in e.value.message


def test_the_start_answer_is_read_and_its_device_code_kept_secret() -> None:
    start = flow.decode_start({"device_code": "dc-123", "user_code": "VS8Q-ZY3Q",
                               "verification_uri": "https://nano-gpt.com/cli-login/verify",
                               "verification_uri_complete":
                                   "https://nano-gpt.com/cli-login/verify?code=VS8Q-ZY3Q",
                               "expires_in": 600, "interval": 2})
    assert start.page.endswith("?code=VS8Q-ZY3Q") and start.interval == 2.0
    assert "dc-123" not in repr(start)
    assert flow.poll_body(start) == {"device_code": "dc-123"}
    bare = flow.decode_start({"device_code": "d", "user_code": "u", "verification_uri": "https://x"})
    assert bare.page == "https://x" and bare.interval == flow.DEFAULT_INTERVAL
    with pytest.raises(click.ClickException):
        flow.decode_start({"user_code": "u", "verification_uri": "https://x"})
    with pytest.raises(click.BadParameter):
        flow.start_body("x" * 65)


def test_the_wait_ends_at_the_expiry() -> None:
    assert flow.next_wait(2.0, 10.0) == 2.0
    assert flow.next_wait(2.0, 0.5) == 0.5  # one more poll, at the expiry
    assert flow.next_wait(2.0, 0.0) is None


@pytest.mark.parametrize("environ,platform,expected", [
    ({}, "darwin", True),
    ({}, "win32", True),
    ({}, "linux", False),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
    ({"DISPLAY": ":0", "SSH_TTY": "/dev/pts/1"}, "linux", False),
    ({"SSH_CLIENT": "10.0.0.2 5555 22"}, "darwin", False),
    ({"CI": "1"}, "win32", False),
])
def test_a_browser_is_tried_only_where_one_can_show_the_page(environ, platform,
                                                             expected) -> None:
    assert flow.should_open_browser(environ, platform) is expected


@pytest.mark.parametrize("page,expected", [
    ("https://nano-gpt.com/cli-login/verify?code=A", True),
    ("http://127.0.0.1:8080/cli-login/verify?code=A", True),
    ("http://localhost:8080/cli-login/verify", True),
    ("http://nano-gpt.com/cli-login/verify", False),
    ("file:///etc/passwd", False),
    ("javascript:alert(1)", False),
])
def test_only_a_web_page_is_handed_to_the_browser(page, expected) -> None:
    assert flow.safe_to_open(page) is expected


# a hostile login server (adversarial review) ---------------------------------------------------

def _login_server(start: dict[str, object], poll: bytes) -> Callable[..., None]:
    """A raw handler: the start answer ``start``, every poll answered with ``poll``."""
    import json

    from rawserver import http_response

    def handler(conn) -> None:  # type: ignore[no-untyped-def]
        while (req := conn.read_request()) is not None:
            conn.send(http_response(200, json.dumps(start).encode())
                      if req.target.endswith("/start") else poll)
    return handler


_START = {"device_code": "dc-secret-123", "user_code": "ABCD-EFGH",
          "verification_uri": "https://nano-gpt.com/cli-login/verify", "expires_in": 1}


@pytest.mark.parametrize("interval", [0, -5])
def test_a_start_answer_without_a_positive_interval_does_not_hammer_the_poll(
        run, env, interval) -> None:
    from rawserver import RawServer, http_response

    pending = http_response(202, b'{"status": "authorization_pending"}')
    with RawServer(_login_server({**_START, "interval": interval}, pending)) as srv:
        r = run("--base-url", srv.base_url, "login", "--web")
        polls = srv.count("POST") - 1
    assert "expired" in the_one_error_line(r)
    # the default five seconds, cut to the code's one second of life: a poll or two, not
    # thousands
    assert 1 <= polls <= 3


@pytest.mark.parametrize("status,body", [
    (200, b'{"status": "denied"}'),
    (403, b'{"error": "access_denied"}'),
    (401, b'{"error": "unauthorized"}'),
])
def test_a_refused_login_ends_at_once_with_login_advice(run, env, status, body) -> None:
    from rawserver import RawServer, http_response

    with RawServer(_login_server({**_START, "interval": 0.01, "expires_in": 600},
                                 http_response(status, body))) as srv:
        r = run("--base-url", srv.base_url, "login", "--web")
        polls = srv.count("POST") - 1
    line = the_one_error_line(r)
    assert "refused" in line and "--with-key" in line and "NANOGPT_API_KEY" not in line
    assert polls == 1
    assert not key_file(env).exists()


def test_a_start_answer_with_an_absurd_life_is_capped() -> None:
    start = flow.decode_start({**_START, "expires_in": 1e308, "interval": float("nan")})
    assert start.expires_in == flow.MAX_EXPIRES_IN and start.interval == flow.DEFAULT_INTERVAL
    assert flow.decode_poll(202, {"interval": 0}, 2.0) == flow.Pending(2.0)


def test_a_login_server_that_never_answers_ends_in_one_line(monkeypatch, tmp_path,
                                                            capsys) -> None:
    from nanogpt.cli import _settings, main
    from rawserver import RawServer

    answered = threading.Event()

    def silent(conn) -> None:  # type: ignore[no-untyped-def]
        conn.read_request()
        answered.wait(30)  # never answers while the command waits

    monkeypatch.setattr(flow, "REQUEST_TIMEOUT", 0.5)
    monkeypatch.setenv("NANOGPT_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("NANOGPT_NO_BROWSER", "1")
    monkeypatch.delenv("NANOGPT_API_KEY", raising=False)
    monkeypatch.setattr(_settings, "_keyring", lambda: None)
    with RawServer(silent) as srv:
        monkeypatch.setenv("NANOGPT_BASE_URL", srv.base_url)
        try:
            assert main(["login", "--web"]) != 0
        finally:
            answered.set()
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("nanogpt: ") == 1
    assert not (tmp_path / "config" / "key").exists()
