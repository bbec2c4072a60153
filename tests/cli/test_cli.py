"""The command line, driven as a subprocess against the emulator (and a pty for conversations)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import KEY
from nanogpt.emulator import Fault

Run = Callable[..., subprocess.CompletedProcess[str]]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def assert_one_line_error(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("nanogpt: ")
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_one_shot_chat_prints_plain_text_when_piped(run, emu) -> None:
    r = run("chat", "-m", "openai/gpt-5-mini", "Hello there")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("Hello from the NanoGPT emulator (openai/gpt-5-mini). "
                        "You said: Hello there\n")
    assert not ANSI.search(r.stdout)
    body = emu.requests[-1].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert emu.requests[-1].headers["accept"] == "text/event-stream"


def test_piped_stdin_is_the_prompt_or_its_context(run, emu) -> None:
    r = run("chat", "-m", "openai/gpt-5-mini", input="just stdin\n")
    assert r.stdout.strip().endswith("You said: just stdin")
    r = run("chat", "-m", "openai/gpt-5-mini", "Summarize this:", input="the context\n")
    assert emu.requests[-1].body["messages"] == [
        {"role": "user", "content": "Summarize this:\n\nthe context\n"}]


def test_every_sampling_flag_reaches_the_body(run, emu) -> None:
    r = run("chat", "-m", "deepseek/deepseek-r1", "--system", "Be brief.", "--temperature", "0.3",
            "--top-p", "0.9", "--top-k", "40", "--min-p", "0.05", "--repetition-penalty",
            "1.1", "--frequency-penalty", "0.2", "--presence-penalty", "-0.2", "--max-tokens",
            "50", "--reasoning-effort", "low", "hi")
    assert r.returncode == 0, r.stderr
    body = emu.requests[-1].body
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    for k, v in {"temperature": 0.3, "top_p": 0.9, "top_k": 40, "min_p": 0.05,
                 "repetition_penalty": 1.1, "frequency_penalty": 0.2,
                 "presence_penalty": -0.2, "max_tokens": 50, "reasoning_effort": "low"}.items():
        assert body[k] == v


def test_json_and_no_stream(run, emu) -> None:
    r = run("chat", "-m", "openai/gpt-5-mini", "--json", "hi")
    data = json.loads(r.stdout)
    assert data["choices"][0]["message"]["content"].endswith("You said: hi")
    assert data["x_nanogpt_pricing"]["currency"] == "USD"
    assert "stream" not in emu.requests[-1].body
    r = run("chat", "-m", "openai/gpt-5-mini", "--no-stream", "hi")
    assert r.stdout.strip().endswith("You said: hi")
    assert "stream" not in emu.requests[-1].body


def test_default_model_is_cheap_and_from_the_catalog_then_the_config(run, emu) -> None:
    run("chat", "hi")
    assert emu.requests[-1].body["model"] == "meta-llama/llama-3.3-70b-instruct"
    assert run("config", "set", "model", "openai/gpt-5-nano").returncode == 0
    run("chat", "hi")
    assert emu.requests[-1].body["model"] == "openai/gpt-5-nano"


def test_config_defaults_apply_and_flags_override(run, emu) -> None:
    assert run("config", "set", "temperature", "0.7").returncode == 0
    assert run("config", "set", "top-k", "20").returncode == 0
    assert run("config", "get", "temperature").stdout.strip() == "0.7"
    assert "top_k = 20" in run("config", "list").stdout
    run("chat", "-m", "openai/gpt-5-mini", "hi")
    assert emu.requests[-1].body["temperature"] == 0.7 and emu.requests[-1].body["top_k"] == 20
    run("chat", "-m", "openai/gpt-5-mini", "--temperature", "0.1", "hi")
    assert emu.requests[-1].body["temperature"] == 0.1
    assert run("config", "unset", "temperature").returncode == 0
    assert_one_line_error(run("config", "get", "temperature"), "not set")
    assert_one_line_error(run("config", "set", "temperature", "9"), "between 0 and 2")
    assert_one_line_error(run("config", "set", "colour", "blue"), "unknown setting")


@pytest.mark.parametrize("args,needle", [
    (("--temperature", "3"), "--temperature: must be between 0 and 2"),
    (("--top-k", "0"), "--top-k: must be -1 (disabled) or >= 1"),
    (("--min-p", "2"), "--min-p"),
    (("--max-tokens", "0"), "--max-tokens"),
    (("--temperature", "warm"), "--temperature"),
    (("--reasoning-effort", "max"), "--reasoning-effort"),
])
def test_invalid_flags_are_one_line_and_nothing_is_sent(run, emu, args, needle) -> None:
    r = run("chat", "-m", "openai/gpt-5-mini", *args, "hi")
    assert_one_line_error(r, needle)
    assert emu.count() == 0


def test_missing_key_names_the_variable_and_sends_nothing(run, emu) -> None:
    r = run("chat", "hi", NANOGPT_API_KEY="")
    assert_one_line_error(r, "NANOGPT_API_KEY", "nanogpt login")
    assert emu.count() == 0


@pytest.mark.parametrize("fault,needles", [
    (Fault(status=401), ("401", "nanogpt login")),
    (Fault(status=402, error_shape="legacy"), ("402", "top up")),
    (Fault(status=429, retry_after=3600, code="daily_rpd_limit_exceeded"),
     ("429", "3600", "midnight UTC")),
    (Fault(status=404, code="model_not_found", message="Model 'x' not found"),
     ("nanogpt models",)),
    (Fault(status=500), ("500",)),
])
def test_api_errors_get_their_own_advice(run, emu, fault, needles) -> None:
    emu.inject(fault, times=None)
    r = run("chat", "-m", "openai/gpt-5-mini", "hi")
    assert_one_line_error(r, *needles)


def test_stream_cut_off_keeps_the_partial_answer_and_says_so(run, emu) -> None:
    emu.inject(Fault(cut_after_chunks=5))
    r = run("chat", "-m", "openai/gpt-5-mini", "hi")
    assert r.stdout.startswith("Hello from the NanoGPT")
    assert_one_line_error(r, "cut off")


def test_connection_refused_is_one_line(run) -> None:
    from conftest import dead_url

    r = run("chat", "-m", "x", "hi", NANOGPT_BASE_URL=dead_url())
    assert_one_line_error(r, "could not reach", "--base-url")


def test_verbose_shows_debug_logs_without_the_key(run, emu) -> None:
    emu.inject(Fault(status=503, retry_after=0))
    r = run("-v", "chat", "-m", "openai/gpt-5-mini", "hi")
    assert r.returncode == 0
    assert "retry 1/2" in r.stderr and KEY not in r.stderr and KEY not in r.stdout


def test_models_table_filters_sorting_json_and_cache(run, emu) -> None:
    r = run("models")
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["id", "name", "context", "$/M", "in", "$/M", "out",
                                "capabilities"]
    assert any(ln.startswith("openai/gpt-5-mini") and "400,000" in ln and "vision,tools" in ln
               for ln in lines)
    assert emu.count("/models") == 1
    run("models")
    assert emu.count("/models") == 1  # cached on disk
    run("models", "--refresh")
    assert emu.count("/models") == 2
    ids = [ln.split()[0] for ln in run("models", "--sort", "price").stdout.splitlines()[1:]]
    assert ids[0] == "meta-llama/llama-3.3-70b-instruct"  # 0.12 + 0.30 per million
    assert ids[-1] == "anthropic/claude-sonnet-4.5"
    r = run("models", "--capability", "reasoning", "--json")
    assert {m["id"] for m in json.loads(r.stdout)} == {
        "deepseek/deepseek-r1", "anthropic/claude-sonnet-4.5", "moonshotai/kimi-k2-thinking"}
    r = run("models", "--search", "deepseek")
    assert [ln.split()[0] for ln in r.stdout.splitlines()[1:]] == [
        "deepseek/deepseek-r1", "deepseek/deepseek-v3.2"]
    sub = {m["id"] for m in json.loads(run("models", "--subscription", "--json").stdout)}
    paid = {m["id"] for m in json.loads(run("models", "--paid", "--json").stdout)}
    assert sub and paid and not sub & paid
    ctx = [ln.split()[0] for ln in run("models", "--sort", "context").stdout.splitlines()[1:]]
    assert ctx[0].startswith("openai/")


def test_balance(run) -> None:
    r = run("balance")
    assert r.stdout.strip() == "$129.46956147 USD · 26.71801147 XNO"


def test_login_stores_the_key_0600_and_env_wins(run, env, emu) -> None:
    r = run("login", input=KEY + "\n", NANOGPT_API_KEY="")
    assert r.returncode == 0, r.stderr
    path = Path(env["NANOGPT_CONFIG_DIR"]) / "key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == KEY
    assert emu.requests[-1].path == "/api/check-balance"  # it was verified
    r = run("chat", "-m", "openai/gpt-5-mini", "hi", NANOGPT_API_KEY="")
    assert r.returncode == 0 and emu.requests[-1].api_key == KEY
    run("chat", "-m", "openai/gpt-5-mini", "hi", NANOGPT_API_KEY="sk-nano-from-env")
    assert emu.requests[-1].api_key == "sk-nano-from-env"
    emu.inject(Fault(status=401))
    assert_one_line_error(run("login", input="sk-nano-wrong\n", NANOGPT_API_KEY=""), "401")
    assert path.read_text().strip() == KEY  # a refused key is not stored
    assert run("logout").returncode == 0 and not path.exists()


def test_offline_needs_no_key_and_no_network(run) -> None:
    r = run("--offline", "chat", "-m", "deepseek/deepseek-r1", "Hi",
            NANOGPT_API_KEY="", NANOGPT_BASE_URL="https://unreachable.invalid/api/v1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Hello from the NanoGPT emulator (deepseek/deepseek-r1). You said: Hi\n"


def test_emulate_command(env) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "nanogpt", "emulate", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=env)
    try:
        assert proc.stdout is not None
        base = re.search(r"(http://\S+/api/v1)", proc.stdout.readline())
        assert base
        r = subprocess.run([sys.executable, "-m", "nanogpt", "--base-url", base.group(1),
                            "chat", "-m", "openai/gpt-5-mini", "ping"],
                           capture_output=True, text=True, env=env, timeout=60)
        assert r.stdout.strip().endswith("You said: ping")
    finally:
        proc.terminate()
        proc.wait(10)


def test_usage_errors_are_one_line(run) -> None:
    assert_one_line_error(run("chat", "--nope"), "--nope", "nanogpt chat --help")
    assert_one_line_error(run("frobnicate"), "frobnicate")
    assert_one_line_error(run("chat"), "no prompt")


def test_help_lists_every_command(run) -> None:
    out = run("--help").stdout
    for cmd in ("chat", "models", "balance", "emulate", "config", "login", "logout"):
        assert re.search(rf"^\s+{cmd}\s", out, re.M), cmd


def test_the_help_summary_names_what_the_commands_do(run) -> None:
    """The summary at the top said "chat, browse models, check your balance, run batches"
    after embed, image, speak, transcribe, usage, quota and search had come."""
    out = run("--help").stdout
    summary = " ".join(out.split("Examples:")[0].split())
    for thing in ("chat", "models", "balance", "embeddings", "images", "speech",
                  "transcription", "web search", "usage", "quotas", "batches"):
        assert thing in summary, thing


# the conversation, through a pseudo-terminal ---------------------------------------------

pexpect = pytest.importorskip("pexpect")


def spawn(env: dict[str, str], *args: str, **extra: str) -> pexpect.spawn:
    p = pexpect.spawn(sys.executable, ["-m", "nanogpt", *args], env={**env, "TERM": "xterm",
                                                                       **extra},
                      encoding="utf-8", timeout=30, dimensions=(50, 140))
    p.expect("› ")
    return p


def test_conversation_commands_and_history(env, emu, tmp_path) -> None:
    p = spawn(env, "chat", "-m", "openai/gpt-5-mini")
    p.sendline("first question")
    p.expect("You said: first question")
    p.expect("tokens")
    p.expect("› ")
    p.sendline("second")
    p.expect("› ")
    assert [m["role"] for m in emu.requests[-1].body["messages"]] == [
        "user", "assistant", "user"]  # multi-turn
    p.sendline("/model seek")
    p.expect("pick a number")
    p.sendline("2")
    p.expect("model: deepseek/deepseek-v3.2")
    p.expect("› ")
    p.sendline("/set temperature 0.4")
    p.expect("temperature = 0.4")
    p.sendline("/set temperature 7")
    p.expect("between 0 and 2")
    p.sendline("/set temperature 0.4")
    p.sendline("/system Answer in French.")
    p.expect("system prompt set")
    p.sendline("third")
    p.expect("You said: third")
    p.expect("› ")
    body = emu.requests[-1].body
    assert body["model"] == "deepseek/deepseek-v3.2" and body["temperature"] == 0.4
    assert body["messages"][0] == {"role": "system", "content": "Answer in French."}
    p.sendline("/cost")
    p.expect(r"this session: \$0\.\d+ over 3 answers")
    saved = tmp_path / "conv.json"
    p.sendline(f"/save {saved}")
    p.expect("saved 7 messages")
    p.sendline("/clear")
    p.expect("conversation cleared")
    p.sendline("/help")
    p.expect("/quit")
    p.sendline("/quit")
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 0
    data = json.loads(saved.read_text())
    assert data["model"] == "deepseek/deepseek-v3.2" and len(data["messages"]) == 7
    # history survives into the next session: Up arrow brings back the last line
    history = Path(env["NANOGPT_CONFIG_DIR"]) / "history"
    assert "first question" in history.read_text()
    p = spawn(env, "chat", "-m", "openai/gpt-5-mini")
    p.send("\x1b[A")  # Up
    p.expect("/quit")
    p.sendcontrol("u")
    p.sendeof()
    p.expect(pexpect.EOF)


def test_ctrl_c_stops_the_answer_and_keeps_the_session(env, emu) -> None:
    emu.inject(Fault(stall_after_chunks=4, stall=30))
    p = spawn(env, "chat", "-m", "openai/gpt-5-mini")
    p.sendline("tell me something long")
    p.expect("Hello from")
    time.sleep(0.3)
    p.sendintr()
    p.expect(r"\[stopped\]")
    p.expect("› ")
    p.sendline("are you still there")
    p.expect("You said: are you still there")
    p.expect("› ")
    msgs = emu.requests[-1].body["messages"]
    assert msgs[1]["role"] == "assistant" and msgs[1]["content"].startswith("Hello from")
    p.sendintr()  # at the prompt: a fresh line, not an exit
    p.expect("› ")
    p.sendeof()
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 0


def test_terminal_output_renders_and_respects_no_color(env, emu) -> None:
    p = spawn(env, "chat", "-m", "deepseek/deepseek-r1", NO_COLOR="1")
    p.sendline("hi")
    p.expect("You said: hi")
    p.expect("› ")
    p.sendline("/model zzzzqqq")
    p.expect("no model matches")
    p.sendline("/frob")
    p.expect("unknown command")
    p.expect("› ")
    text = p.before or ""
    assert not re.search(r"\x1b\[(3\d|9\d)m", text)  # no colours
    p.sendeof()
    p.expect(pexpect.EOF)


def test_reasoning_is_shown_dimmed_on_a_terminal_and_can_be_hidden(env, emu) -> None:
    for hide in (False, True):
        p = spawn(env, "chat", "-m", "deepseek/deepseek-r1", *(["--hide-reasoning"] if hide
                                                                 else []))
        p.sendline("why")
        p.expect("tokens")
        shown = ANSI.sub("", p.before or "")
        assert "You said: why" in shown
        assert ("The user wrote: why." in shown) is not hide
        if not hide:
            assert "\x1b[2;3mThe " in (p.before or "")  # dim italic
        p.sendeof()
        p.expect(pexpect.EOF)


# second review -----------------------------------------------------------------------------

def test_text_that_looks_like_markup_is_printed_as_is_and_never_crashes(env, emu) -> None:
    weird = "x[/i] [bold]secret[/bold] [/string]"
    p = spawn(env, "chat", "-m", "deepseek/deepseek-r1")
    p.sendline(weird)  # the emulator's reasoning repeats it
    p.expect("tokens")
    shown = ANSI.sub("", p.before or "")
    assert shown.count("[bold]secret[/bold]") >= 2  # in the reasoning and in the answer
    emu.inject(Fault(status=400, message="bad [/string] value"))
    p.sendline("again")
    p.expect("bad \\[/string\\] value")
    p.expect("› ")  # the session goes on
    p.sendeof()
    p.expect(pexpect.EOF)


def test_ctrl_c_while_waiting_for_the_first_byte_keeps_the_session(env, emu) -> None:
    emu.inject(Fault(delay=10), path="/chat")
    p = spawn(env, "chat", "-m", "openai/gpt-5-mini")
    p.sendline("slow one")
    time.sleep(0.5)
    p.sendintr()
    p.expect(r"\[stopped\]")
    p.expect("› ")
    p.sendline("fast one")
    p.expect("You said: fast one")
    p.expect("› ")
    p.sendeof()
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 0


def test_piping_into_head_is_not_an_error(env) -> None:
    script = (f"{sys.executable} -c \"print('word ' * 200000)\" | "
              f"{sys.executable} -m nanogpt --offline chat -m openai/gpt-5-mini | head -c 10; "
              "exit ${PIPESTATUS[1]}")
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Hello from" and r.stderr == ""


def test_binary_stdin_is_read_as_text(run) -> None:
    r = run("--offline", "chat", "-m", "openai/gpt-5-mini", "what", input=None)
    data = bytes(range(256)) * 8
    r = subprocess.run([sys.executable, "-m", "nanogpt", "--offline", "chat", "-m",
                        "openai/gpt-5-mini", "what is this"], input=data, capture_output=True,
                       env={k: v for k, v in os.environ.items()}, timeout=60)
    assert r.returncode == 0, r.stderr
    assert b"You said: what is this" in r.stdout


@pytest.mark.parametrize("fault,args,needles", [
    (Fault(non_json=True), ("--no-stream",), ("cannot read",)),
    (Fault(body='{"error": {"message": "upstream died", "status": 502}}'), (),
     ("upstream died",)),
    (Fault(reset_after_chunks=1), ("--no-stream",), ("cut off", "reached the server")),
])
def test_odd_answers_get_one_line_that_says_what_happened(run, emu, fault, args,
                                                          needles) -> None:
    emu.inject(fault)
    assert_one_line_error(run("chat", "-m", "openai/gpt-5-mini", *args, "hi"), *needles)


def test_messages_name_what_the_user_can_change(run, env) -> None:
    r = run("--base-url", "http://example.com/api/v1", "chat", "hi")
    assert_one_line_error(r, "--base-url", "https://")
    assert "allow_insecure_http" not in r.stderr
    cfg = Path(env["NANOGPT_CONFIG_DIR"])
    cfg.mkdir(parents=True)
    (cfg / "config.json").write_text('{"temperature": "hot"}')
    r = run("chat", "-m", "openai/gpt-5-mini", "hi")
    assert_one_line_error(r, "config.json", "temperature", "nanogpt config")
    assert_one_line_error(run("--offline", "--base-url", "http://127.0.0.1:1/api/v1", "balance"),
                          "--offline")


def test_bare_commands_print_help(run) -> None:
    for args in ((), ("config",)):
        r = run(*args)
        assert r.returncode == 0 and r.stdout.startswith("Usage: nanogpt") and not r.stderr


def test_offline_runs_leave_no_cache_behind(run, env) -> None:
    run("--offline", "chat", "hi")
    run("--offline", "models")
    cache = Path(env["NANOGPT_CACHE_DIR"])
    assert not cache.exists() or not list(cache.iterdir())


def test_unwritable_config_dir_is_one_line_with_advice(run, tmp_path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("")
    r = run("--offline", "login", input=KEY + "\n",
            NANOGPT_CONFIG_DIR=str(blocker / "sub"), NANOGPT_API_KEY="")
    assert_one_line_error(r, "NANOGPT_CONFIG_DIR")


def test_the_default_model_is_the_cheapest_chat_model_whatever_its_category() -> None:
    """The real catalog tags chat models "flagship", "mini", "reasoning": all qualify; only
    categories that are not chat (images, audio, embeddings) are left out."""
    from nanogpt._core.client import models_from_dicts
    from nanogpt.cli._chat import cheapest

    def entry(id: str, price: float, category: str | None) -> dict[str, object]:
        e: dict[str, object] = {"id": id, "context_length": 32000,
                                "pricing": {"prompt": price, "completion": price}}
        if category is not None:
            e["category"] = category
        return e

    models = models_from_dicts([entry("a/flagship", 3.0, "flagship"), entry("a/mini", 0.1, "mini"),
                                entry("a/none", 0.2, None), entry("a/img", 0.01, "image")])
    assert cheapest(models) == "a/mini"
