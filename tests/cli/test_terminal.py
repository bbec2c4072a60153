"""Server text on a terminal (issue 8, item 15): answers, model ids and names, error messages.

A hostile server puts escape sequences (window title, clear screen, clipboard write) and
invisible characters in what it sends. On a terminal they must be shown, not obeyed; in a
pipe, the answer stays byte-exact. The emulator echoes the prompt in its answer, and a fault
body replaces any answer, so every path is driven over a real socket.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from conftest import cli_env
from nanogpt.emulator import Emulator, Fault

pexpect = pytest.importorskip("pexpect")

TITLE = "\x1b]0;pwned\x07"  # OSC 0: set the window title
CLEAR = "\x1b[2J"  # CSI 2J: clear the screen
CLIP = "\x1b]52;c;cm0gLXJmIH4=\x1b\\"  # OSC 52: write the clipboard
C1_CSI = "\x9b31m"  # the one-byte C1 CSI
EVIL = f"a{TITLE}b{CLEAR}c{CLIP}d{C1_CSI}e\x7f"
SPOOF = "openai/gpt-5-mini\u200b"
# what no terminal output may contain: the starts of the sequences above (rich's own styling
# uses CSI with parameters like "\x1b[1m", and cursor moves, but never these)
OBEYED = ("\x1b]", "\x1b[2J", "\x07", "\x9b", "\x7f", "\x1b\\", "\u200b")


@pytest.fixture
def env(tmp_path: Path, emu: Emulator) -> dict[str, str]:
    return cli_env(tmp_path, emu, COLUMNS="200", TERM="xterm")


def on_terminal(env: dict[str, str], *args: str) -> str:
    """Everything the command wrote to its terminal (stdout and stderr share the pty)."""
    p = pexpect.spawn(sys.executable, ["-m", "nanogpt", *args], env=env, encoding="utf-8",
                      timeout=30, dimensions=(50, 200))
    p.expect(pexpect.EOF)
    p.close()
    return str(p.before or "")


def shown(text: str) -> str:
    """The text without the styling (rich writes each streamed piece in its own style)."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def assert_nothing_obeyed(text: str) -> None:
    for seq in OBEYED:
        assert seq not in text, (seq, text)


def hostile_catalog(emu: Emulator) -> str:
    with urllib.request.urlopen(emu.base_url + "/models?detailed=true", timeout=10) as r:
        data = json.loads(r.read())
    real = next(m for m in data["data"] if m["id"] == "openai/gpt-5-mini")
    fake = {**real, "id": SPOOF, "name": f"GPT-5 Mini{TITLE}",
            "pricing": {**real["pricing"], "prompt": 30.0, "completion": 60.0}}
    data["data"].append(fake)
    return json.dumps(data)


def completion_body(content: str) -> str:
    return json.dumps({
        "id": "c1", "object": "chat.completion", "created": 1, "model": "openai/gpt-5-mini",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})


def test_visible_escapes_controls_and_keeps_text() -> None:
    from nanogpt.cli._safe import visible, visible_json

    assert visible(EVIL) == ("a\\x1b]0;pwned\\x07b\\x1b[2Jc\\x1b]52;c;cm0gLXJmIH4=\\x1b\\d"
                             "\\x9b31me\\x7f")
    assert visible("line\n\ttab é 😀 a\u200db") == "line\n\ttab é 😀 a\u200db"
    assert visible(SPOOF, name=True) == "openai/gpt-5-mini\\u200b"
    assert visible("a\u202eb\ufeffc\u2066\nd", name=True) == "a\\u202eb\\ufeffc\\u2066\\x0ad"
    data = {"content": EVIL + "\u200b\U000e0001"}
    safe = visible_json(json.dumps(data, ensure_ascii=False))
    assert json.loads(safe) == data
    assert_nothing_obeyed(safe)


def test_streamed_answer_on_a_terminal_is_shown_not_obeyed(env, emu) -> None:
    out = on_terminal(env, "chat", "-m", "openai/gpt-5-mini", EVIL)
    assert "You said: a\\x1b]0;pwned\\x07b" in out
    assert_nothing_obeyed(out)
    assert "\x1b[" in out  # our own styling and rich's cursor work stay


def test_reasoning_on_a_terminal_is_shown_not_obeyed(env, emu) -> None:
    out = on_terminal(env, "chat", "-m", "deepseek/deepseek-r1", EVIL)
    assert "The user wrote: a\\x1b]0;pwned" in shown(out)
    assert_nothing_obeyed(out)


def test_whole_answer_on_a_terminal_markdown_character_references_included(env, emu) -> None:
    # character references are decoded only while Markdown renders (markdown-it turns these
    # into U+FFFD today; what rich renders is checked again in case a version does not)
    emu.inject(Fault(body=completion_body(f"**bold** {EVIL} &#27;]0;ref&#7; &#x9b;2J")),
               path="/chat")
    out = on_terminal(env, "chat", "-m", "openai/gpt-5-mini", "--no-stream", "hi")
    assert "\\x1b]0;pwned" in shown(out) and "bold" in out
    assert_nothing_obeyed(out)


def test_piped_answers_stay_byte_exact(env, emu) -> None:
    r = subprocess.run([sys.executable, "-m", "nanogpt", "chat", "-m", "openai/gpt-5-mini",
                        EVIL], capture_output=True, env=env, timeout=60)
    assert r.stdout == f"Hello from the NanoGPT emulator (openai/gpt-5-mini). You said: {EVIL}\n" \
        .encode()
    emu.inject(Fault(body=completion_body(EVIL)), path="/chat")
    r = subprocess.run([sys.executable, "-m", "nanogpt", "chat", "-m", "openai/gpt-5-mini",
                        "--no-stream", "hi"], capture_output=True, env=env, timeout=60)
    assert r.stdout == (EVIL + "\n").encode()


def test_json_output_escapes_what_a_terminal_would_obey(env, emu) -> None:
    emu.inject(Fault(body=completion_body(EVIL + "\u200b")), path="/chat")
    r = subprocess.run([sys.executable, "-m", "nanogpt", "chat", "-m", "openai/gpt-5-mini",
                        "--json", "hi"], capture_output=True, env=env, timeout=60, text=True)
    assert json.loads(r.stdout)["choices"][0]["message"]["content"] == EVIL + "\u200b"
    assert_nothing_obeyed(r.stdout)


def test_models_table_shows_spoofed_ids_and_names_for_what_they_are(env, emu) -> None:
    emu.inject(Fault(body=hostile_catalog(emu)), path="/models", times=None)
    out = on_terminal(env, "models", "--search", "gpt-5-mini")
    assert "openai/gpt-5-mini\\u200b" in out and "GPT-5 Mini\\x1b]0;pwned\\x07" in out
    assert_nothing_obeyed(out)
    piped = subprocess.run([sys.executable, "-m", "nanogpt", "models", "--search", "mini"],
                           capture_output=True, env=env, timeout=60, text=True)
    assert SPOOF in piped.stdout  # piped: byte-exact


def test_model_picker_shows_spoofed_ids_for_what_they_are(env, emu) -> None:
    emu.inject(Fault(body=hostile_catalog(emu)), path="/models", times=None)
    p = pexpect.spawn(sys.executable, ["-m", "nanogpt", "chat", "-m", "openai/gpt-5-nano"],
                      env=env, encoding="utf-8", timeout=30, dimensions=(50, 200))
    p.expect("› ")
    p.sendline("/model gpt-5-mini")
    p.expect("pick a number")
    table = str(p.before)
    assert "openai/gpt-5-mini\\u200b" in table
    assert_nothing_obeyed(table)
    p.sendline("2")
    p.expect("› ")
    assert "model: openai/gpt-5-mini\\u200b ($30 in, $60 out" in str(p.before)
    emu.inject(Fault(status=400, message=f"bad {TITLE}{CLEAR} value"), path="/chat")
    p.sendline("hi")
    p.expect("› ")
    said = str(p.before)
    assert "bad \\x1b]0;pwned\\x07\\x1b[2J value" in said
    assert_nothing_obeyed(said)
    p.sendeof()
    p.expect(pexpect.EOF)


def test_error_messages_are_one_visible_line(env, emu) -> None:
    emu.inject(Fault(status=400, message=f"bad{TITLE}\nsecond line{CLEAR}{CLIP}"))
    r = subprocess.run([sys.executable, "-m", "nanogpt", "chat", "-m", "openai/gpt-5-mini",
                        "hi"], capture_output=True, env=env, timeout=60, text=True)
    assert r.returncode == 1
    assert len(r.stderr.splitlines()) == 1, r.stderr
    assert "bad\\x1b]0;pwned\\x07\\x0asecond line\\x1b[2J" in r.stderr
    assert_nothing_obeyed(r.stderr)


# found in review: what the first pass let through --------------------------------------------

def test_verbose_traceback_shows_the_server_message_without_obeying_it(env, emu) -> None:
    # -v prints the traceback, whose last line quotes error.message
    emu.inject(Fault(status=400, message=f"bad{TITLE}{CLEAR}{CLIP}"), path="/chat")
    out = on_terminal(env, "-v", "chat", "-m", "openai/gpt-5-mini", "hi")
    assert "Traceback (most recent call last)" in out
    assert "BadRequestError: 400 bad\\x1b]0;pwned\\x07\\x1b[2J" in out
    assert_nothing_obeyed(out)


def test_markdown_links_show_their_target_instead_of_hiding_it(env, emu) -> None:
    # a terminal hyperlink (OSC 8) shows its text and opens its hidden target
    emu.inject(Fault(body=completion_body("top up at [https://nano-gpt.com/topup]"
                                          "(https://evil.example/steal) or <https://a.example>")),
               path="/chat")
    out = on_terminal(env, "chat", "-m", "openai/gpt-5-mini", "--no-stream", "hi")
    assert "\x1b]8;" not in out
    assert "https://nano-gpt.com/topup (https://evil.example/steal)" in shown(out)
    assert_nothing_obeyed(out)


# printable to Python, drawn as nothing (or as blank space) by a terminal
BLANKS = ["\u034f", "\u115f", "\u3164", "\ufe0f", "\uffa0", "\u2800", "\u180b", "\U000e0100", " "]


def test_ids_with_characters_that_draw_as_nothing_are_shown_for_what_they_are(env,
                                                                              emu) -> None:
    from nanogpt.cli._safe import visible

    assert visible("openai/gpt-5-mini\u034f", name=True) == "openai/gpt-5-mini\\u034f"
    assert visible("openai/gpt-5-mini ", name=True) == "openai/gpt-5-mini\\x20"
    assert visible(" a b ", name=True) == "\\x20a b\\x20"
    assert visible("x\U000e0100", name=True) == "x\\U000e0100"
    with urllib.request.urlopen(emu.base_url + "/models?detailed=true", timeout=10) as r:
        data = json.loads(r.read())
    real = next(m for m in data["data"] if m["id"] == "openai/gpt-5-mini")
    data["data"] += [{**real, "id": f"openai/gpt-5-mini{ch}", "name": f"GPT-5 Mini{ch}"}
                     for ch in BLANKS]
    emu.inject(Fault(body=json.dumps(data)), path="/models", times=None)
    out = on_terminal(env, "models", "--search", "gpt-5-mini")
    rows = [line.split()[0] for line in shown(out).splitlines()
            if line.startswith("openai/gpt-5-mini")]
    assert sorted(rows) == sorted(["openai/gpt-5-mini", *(visible(f"openai/gpt-5-mini{ch}",
                                                                  name=True) for ch in BLANKS)])
    assert all(ch not in out for ch in BLANKS if ch != " ")
    r = subprocess.run([sys.executable, "-m", "nanogpt", "models", "--json", "--search", "mini"],
                       capture_output=True, env=env, timeout=60, text=True)
    assert {m["id"] for m in json.loads(r.stdout)} >= {f"openai/gpt-5-mini{ch}" for ch in BLANKS}
    assert all(ch not in r.stdout for ch in BLANKS if ch != " ")


def test_a_charge_with_a_huge_exponent_is_not_written_out_in_full(env, emu) -> None:
    # "1e20000000" written with :f is twenty million digits on one line (1e999999999: 1 GB)
    body = json.loads(completion_body("hi"))
    body["x_nanogpt_pricing"] = {"costUsd": "1e20000000"}
    emu.inject(Fault(body=json.dumps(body)), path="/chat")
    r = subprocess.run([sys.executable, "-m", "nanogpt", "-v", "chat", "-m", "openai/gpt-5-mini",
                        "--no-stream", "hi"], capture_output=True, env=env, timeout=60, text=True)
    assert r.returncode == 0 and r.stdout == "hi\n"
    assert len(r.stderr) < 10_000
    assert "openai/gpt-5-mini · 2 tokens · $1e+20000000 · " in r.stderr


def streamed(text: str, usage: dict[str, object], pricing: dict[str, object]) -> str:
    """The frames of a whole streamed answer, [DONE] included."""
    def frame(**fields: object) -> str:
        return "data: " + json.dumps({"id": "c1", "object": "chat.completion.chunk",
                                      "created": 1, "model": "m", **fields}) + "\n\n"

    return (frame(choices=[{"index": 0, "delta": {"content": text}, "finish_reason": "stop"}])
            + frame(choices=[], usage=usage, x_nanogpt_pricing=pricing) + "data: [DONE]\n\n")


def test_odd_numbers_in_an_answer_do_not_end_the_conversation(env, emu) -> None:
    # a paid answer whose charge overflows a sum, or whose token count is not a number
    huge = streamed("first", {"total_tokens": 2}, {"costUsd": "1e999999999"})
    odd = streamed("second", {"total_tokens": "n/a"}, {"costUsd": 0.5})
    p = pexpect.spawn(sys.executable, ["-m", "nanogpt", "chat", "-m", "openai/gpt-5-mini"],
                      env=env, encoding="utf-8", timeout=30, dimensions=(50, 200))
    p.expect("› ")
    for frames, text in ((huge, "first"), (odd, "second")):
        emu.inject(Fault(raw_frame_after=1, raw_frame=frames), path="/chat")
        p.sendline("hi")
        p.expect(text)
        p.expect("› ")
        assert "error" not in str(p.before)
    p.sendline("/cost")
    p.expect("this session: \\$0.5 \\(and 1 charge too odd to add\\) over 2 answers, "
             "2 tokens")
    p.expect("› ")
    p.sendeof()
    p.expect(pexpect.EOF)


def test_crlf_line_ends_are_line_ends_and_a_lone_cr_is_shown(env, emu) -> None:
    # "\r\n" is only the other convention for line ends (shown as \x0d on every line by the
    # first pass); a lone "\r" returns to the start of the line and hides what came before
    from nanogpt.cli._safe import visible

    assert visible("a\r\nb\rc") == "a\nb\\x0dc"
    emu.inject(Fault(body=completion_body("one\r\n\r\n- two\r\n- rm -rf ~\rls\r\n")),
               path="/chat")
    out = shown(on_terminal(env, "chat", "-m", "openai/gpt-5-mini", "--no-stream", "hi"))
    assert "one" in out and "two" in out and "one\\x0d" not in out and "two\\x0d" not in out
    assert "rm -rf ~\\x0dls" in out


def test_emoji_codes_in_server_text_are_not_turned_into_emoji(env, emu) -> None:
    # rich would print "openai/gpt-5-mini:white_check_mark:" as "openai/gpt-5-mini✅"
    with urllib.request.urlopen(emu.base_url + "/models?detailed=true", timeout=10) as r:
        data = json.loads(r.read())
    real = next(m for m in data["data"] if m["id"] == "openai/gpt-5-mini")
    data["data"].append({**real, "id": "openai/gpt-5-mini:white_check_mark:",
                         "name": "GPT-5 Mini :lock: official"})
    emu.inject(Fault(body=json.dumps(data)), path="/models", times=None)
    out = on_terminal(env, "models", "--search", "gpt-5-mini")
    assert "openai/gpt-5-mini:white_check_mark:" in out and ":lock: official" in out
    assert "\u2705" not in out and "\U0001f512" not in out
    out = on_terminal(env, "chat", "-m", "deepseek/deepseek-r1", ":red_circle: hi")
    assert "The user wrote: :red_circle: hi" in shown(out) and "\U0001f534" not in out


def test_a_megabyte_error_message_is_one_short_line_that_keeps_its_end(env, emu) -> None:
    emu.inject(Fault(status=400, message="x" * 2_000_000 + "THE END"), path="/chat")
    r = subprocess.run([sys.executable, "-m", "nanogpt", "chat", "-m", "openai/gpt-5-mini",
                        "hi"], capture_output=True, env=env, timeout=60, text=True)
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1
    assert len(r.stderr) < 5000
    assert "characters ...] " in r.stderr and "THE END (request id emu-" in r.stderr


def test_escape_sequences_split_across_chunks_are_not_obeyed(env, emu) -> None:
    # held in review (a guard): ESC at the end of one chunk, the rest of the sequence in the
    # next, in reasoning and in the answer
    def frame(delta: dict[str, str]) -> str:
        return "data: " + json.dumps({"id": "c1", "object": "chat.completion.chunk",
                                      "created": 1, "model": "m", "choices": [
                                          {"index": 0, "delta": delta,
                                           "finish_reason": None}]}) + "\n\n"

    frames = "".join(frame(d) for d in (
        {"reasoning": "think \x1b"}, {"reasoning": "]0;pwned\x07 on"},
        {"content": "answer \x1b"}, {"content": "]52;c;cm0gLXJmIH4=\x07 and \x1b"},
        {"content": "[2J done \xc2"}, {"content": "\x9b2J"})) + "data: [DONE]\n\n"
    emu.inject(Fault(raw_frame_after=1, raw_frame=frames), path="/chat")
    out = on_terminal(env, "chat", "-m", "deepseek/deepseek-r1", "hi")
    assert "think \\x1b]0;pwned\\x07 on" in shown(out)
    assert "answer \\x1b]52;c;cm0gLXJmIH4=\\x07 and \\x1b[2J done" in shown(out)
    assert_nothing_obeyed(out)
