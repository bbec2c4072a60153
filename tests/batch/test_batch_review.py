"""Review of batch runs: input encodings, budget holes, output and record edge cases.

Each test runs against the emulator over loopback; see test_batch_live.py for the crash tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import KEY
from nanogpt import NanoGPT
from nanogpt.batch import run
from nanogpt.batch._runner import worst_case_cost
from nanogpt.emulator import Emulator

MODEL = "openai/gpt-5-mini"
CHAT = "/chat/completions"


def read_output(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run_sync(emu: Emulator, inp: Path, out: Path, **kw: Any) -> Any:
    kw.setdefault("concurrency", 4)
    with NanoGPT(KEY, base_url=emu.base_url) as client:
        return run(inp, out, client=client, model=MODEL, handle_sigint=False, **kw)


def test_a_byte_order_mark_does_not_cost_the_first_row(tmp_path: Path, emu: Emulator) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    rows = [json.dumps({"id": f"r{i}", "prompt": f"q{i}", "max_tokens": 20}) for i in range(3)]
    inp.write_bytes(b"\xef\xbb\xbf" + "\n".join(rows).encode() + b"\n")
    summary = run_sync(emu, inp, out)
    assert summary.malformed == 0 and summary.succeeded == 3
    assert all("response" in row for row in read_output(out))


def test_a_line_that_is_not_utf8_is_an_error_row_never_sent_mangled(
        tmp_path: Path, emu: Emulator) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    good = json.dumps({"id": "ok", "prompt": "fine", "max_tokens": 20}).encode()
    latin1 = b'{"id": "caf", "prompt": "caf\xe9 au lait", "max_tokens": 20}'
    inp.write_bytes(good + b"\n" + latin1 + b"\n")
    summary = run_sync(emu, inp, out)
    assert summary.succeeded == 1 and summary.malformed == 1
    assert emu.count(CHAT) == 1  # the mangled prompt was not paid for
    bad = [row for row in read_output(out) if "error" in row]
    assert len(bad) == 1 and bad[0]["line"] == 2 and "UTF-8" in bad[0]["error"]["message"]


def test_the_budget_counts_every_choice_a_row_asks_for(tmp_path: Path, emu: Emulator) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    one = {"messages": [{"role": "user", "content": "q"}], "max_tokens": 1000}
    with NanoGPT(KEY, base_url=emu.base_url) as client:
        model = next(m for m in client.models.list() if m.id == MODEL)
    single = worst_case_cost({"model": MODEL, **one}, model)
    assert single is not None
    inp.write_text(json.dumps({"id": "many", "n": 8, **one}) + "\n")
    # room for two single answers, not for eight
    summary = run_sync(emu, inp, out, budget=2 * single)
    assert summary.stopped == "budget" and summary.sent == 0
    assert emu.count(CHAT) == 0


def test_a_row_cut_off_mid_answer_counts_against_the_budget(tmp_path: Path,
                                                            emu: Emulator) -> None:
    """A connection that breaks once the answer started may have been charged: the budget
    must assume it was, or a flaky link lets a run spend past its cap."""
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    one = {"messages": [{"role": "user", "content": "q"}], "max_tokens": 100}
    with NanoGPT(KEY, base_url=emu.base_url) as client:
        model = next(m for m in client.models.list() if m.id == MODEL)
    worst = worst_case_cost({"model": MODEL, **one}, model)
    assert worst is not None
    inp.write_text("".join(json.dumps({"id": f"r{i}", **one}) + "\n" for i in range(10)))
    emu.inject(reset_after_chunks=1, times=None, path=CHAT)
    with NanoGPT(KEY, base_url=emu.base_url) as client:
        summary = run(inp, out, client=client, model=MODEL, concurrency=1,
                      handle_sigint=False, budget=2.5 * worst)
    assert summary.failed == 2 and summary.stopped == "budget"
    assert emu.count(CHAT) == 2


def test_two_submits_for_one_output_at_once_create_one_batch(tmp_path: Path,
                                                             emu: Emulator) -> None:
    """Both would find no record and each create (and pay for) a batch of the same rows."""
    import threading
    import time

    import pytest

    from nanogpt import NanoGPTError
    from nanogpt.batch._remote import prepare, submit

    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(json.dumps({"id": "a", "prompt": "q", "max_tokens": 20}) + "\n")
    plan = prepare(inp, model=MODEL)
    emu.inject(delay=2.0, path="/files", times=1)  # the first upload is slow
    made: list[Any] = []

    def first() -> None:
        with NanoGPT(KEY, base_url=emu.base_url) as client:
            made.append(submit(client, plan, inp, out))

    thread = threading.Thread(target=first)
    thread.start()
    deadline = time.monotonic() + 30  # a safety cap: wait for the first upload to arrive
    while emu.count("/files") == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    with NanoGPT(KEY, base_url=emu.base_url) as client, pytest.raises(NanoGPTError):
        made.append(submit(client, plan, inp, out))
    thread.join(60)
    assert len(made) == 1
    assert sum(r.method == "POST" and r.path.endswith("/batches") for r in emu.requests) == 1


def test_the_budget_counts_tool_definitions_as_prompt(tmp_path: Path, emu: Emulator) -> None:
    """Tool definitions are billed as prompt tokens: a row whose tools are large must not
    pass the budget on the size of its messages alone."""
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    one = {"messages": [{"role": "user", "content": "q"}], "max_tokens": 10}
    with NanoGPT(KEY, base_url=emu.base_url) as client:
        model = next(m for m in client.models.list() if m.id == MODEL)
    small = worst_case_cost({"model": MODEL, **one}, model)
    assert small is not None
    tool = {"type": "function", "function": {
        "name": "lookup", "description": "x" * 200_000,
        "parameters": {"type": "object", "properties": {}}}}
    inp.write_text(json.dumps({"id": "tools", "tools": [tool], **one}) + "\n")
    summary = run_sync(emu, inp, out, budget=3 * small)
    assert summary.stopped == "budget" and summary.sent == 0
    assert emu.count(CHAT) == 0


def test_rows_refused_before_sending_cost_the_budget_nothing(tmp_path: Path,
                                                             emu: Emulator) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    one = {"messages": [{"role": "user", "content": "q"}], "max_tokens": 100}
    with NanoGPT(KEY, base_url=emu.base_url) as client:
        model = next(m for m in client.models.list() if m.id == MODEL)
    worst = worst_case_cost({"model": MODEL, "temperature": "hot", **one}, model)
    assert worst is not None
    inp.write_text("".join(json.dumps({"id": f"r{i}", "temperature": "hot", **one}) + "\n"
                           for i in range(5)))
    summary = run_sync(emu, inp, out, budget=2.5 * worst)
    assert summary.failed == 5 and summary.stopped is None
    assert emu.count(CHAT) == 0


def test_the_input_is_never_the_output(tmp_path: Path, emu: Emulator) -> None:
    """With a ledger beside it (the file was an output once), the run used to truncate its
    own input, read nothing, and report the job complete."""
    import pytest

    from nanogpt.batch import BatchInputError

    inp = tmp_path / "in.jsonl"
    text = json.dumps({"id": "a", "prompt": "q", "max_tokens": 20}) + "\n"
    inp.write_text(text)
    (tmp_path / "in.jsonl.ledger").write_bytes(b"")
    with pytest.raises(BatchInputError, match="input file too"):
        run_sync(emu, inp, tmp_path / "." / "in.jsonl")
    assert inp.read_text() == text and emu.count(CHAT) == 0


def test_a_file_that_is_not_a_ledger_is_named_in_a_typed_error(tmp_path: Path,
                                                               emu: Emulator) -> None:
    import pytest

    from nanogpt import NanoGPTError

    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(json.dumps({"id": "a", "prompt": "q", "max_tokens": 20}) + "\n")
    (tmp_path / "out.jsonl.ledger").write_bytes(b"not a database" * 100)
    with pytest.raises(NanoGPTError, match=r"out\.jsonl\.ledger"):
        run_sync(emu, inp, out)
    assert emu.count(CHAT) == 0


def test_an_output_folder_that_does_not_exist_is_named(tmp_path: Path, emu: Emulator) -> None:
    import pytest

    from nanogpt.batch import BatchInputError

    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"id": "a", "prompt": "q", "max_tokens": 20}) + "\n")
    with pytest.raises(BatchInputError, match="does not exist"):
        run_sync(emu, inp, tmp_path / "nodir" / "out.jsonl")
    assert emu.count(CHAT) == 0


def test_the_command_line_blames_the_output_for_a_missing_output_folder(
        tmp_path: Path, emu: Emulator) -> None:
    """The refusal is about -o, so the one-line error must not say "input:"."""
    from test_batch_live import run_cli

    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"id": "a", "prompt": "q", "max_tokens": 20}) + "\n")
    r = run_cli(tmp_path, emu, str(inp), "-o", str(tmp_path / "nodir" / "out.jsonl"))
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert lines[0].startswith("nanogpt: output: ") and "does not exist" in lines[0]
    assert emu.count(CHAT) == 0


def test_the_command_line_explains_a_busy_or_unreadable_ledger_in_one_line(
        tmp_path: Path, emu: Emulator) -> None:
    """Both used to print "unexpected error: LedgerBusyError(...); run with -v"."""
    from nanogpt.batch._ledger import Ledger, ledger_path
    from test_batch_live import run_cli

    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"id": "a", "prompt": "q", "max_tokens": 20}) + "\n")
    busy, bad = tmp_path / "busy.jsonl", tmp_path / "bad.jsonl"
    ledger_path(bad).write_bytes(b"not a database" * 100)
    held = Ledger(ledger_path(busy))
    try:
        results = [run_cli(tmp_path, emu, str(inp), "-o", str(out), "-m", MODEL)
                   for out in (busy, bad)]
    finally:
        held.close()
    for r, words in zip(results, ("another batch run", "move it away"), strict=True):
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 1 and len(lines) == 1, r.stderr
        assert words in lines[0] and "unexpected error" not in lines[0]
    assert emu.count(CHAT) == 0


def test_an_offline_batch_runs_against_the_built_in_emulator(tmp_path: Path,
                                                             emu: Emulator) -> None:
    """--offline: the key and base URL are the built-in emulator's (App.credentials), not
    the configured ones (here the test emulator's, which must see nothing)."""
    import subprocess
    import sys

    from conftest import cli_env

    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(json.dumps({"id": "a", "prompt": "q", "max_tokens": 20}) + "\n")
    r = subprocess.run([sys.executable, "-m", "nanogpt", "--offline", "batch", str(inp), "-o",
                        str(out), "-m", MODEL, "--json"], capture_output=True, text=True,
                       env=cli_env(tmp_path, emu), timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["succeeded"] == 1 and emu.count(CHAT) == 0


def test_a_duplicate_appended_during_the_run_is_not_answered_twice(tmp_path: Path,
                                                                   emu: Emulator) -> None:
    """The duplicate check reads the input before the run; a line appended afterwards with a
    used id must not give one id two answers (the ledger keeps one, the output both)."""
    import threading
    import time

    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text("".join(json.dumps({"id": f"r{i}", "prompt": f"q{i}", "max_tokens": 20})
                           + "\n" for i in range(3)))
    emu.inject(delay=1.0, path=CHAT, times=1)  # the first row is slow: time to append
    summary: list[Any] = []
    thread = threading.Thread(target=lambda: summary.append(run_sync(emu, inp, out, concurrency=1)))
    thread.start()
    deadline = time.monotonic() + 30  # a safety cap
    while emu.count(CHAT) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    with open(inp, "a") as f:
        f.write(json.dumps({"id": "r0", "prompt": "another question", "max_tokens": 20}) + "\n")
    thread.join(60)
    ids = [row["id"] for row in read_output(out) if "response" in row]
    assert sorted(ids) == ["r0", "r1", "r2"]
    assert emu.count(CHAT) == 3


def test_the_budget_takes_the_larger_of_two_output_caps(tmp_path: Path,
                                                         emu: Emulator) -> None:
    """A server may honour max_tokens over max_completion_tokens (the emulator does)."""
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    messages = [{"role": "user", "content": "q"}]
    with NanoGPT(KEY, base_url=emu.base_url) as client:
        model = next(m for m in client.models.list() if m.id == MODEL)
    small = worst_case_cost({"model": MODEL, "messages": messages, "max_tokens": 1}, model)
    assert small is not None
    inp.write_text(json.dumps({"id": "a", "messages": messages, "max_completion_tokens": 1,
                               "max_tokens": 100_000}) + "\n")
    summary = run_sync(emu, inp, out, budget=3 * small)
    assert summary.stopped == "budget" and summary.sent == 0
    assert emu.count(CHAT) == 0


def test_a_remote_run_never_targets_a_file_it_did_not_write(tmp_path: Path,
                                                            emu: Emulator) -> None:
    """A live run refuses such an output; a remote one uploaded, created the batch, and
    overwrote the file with the results."""
    import pytest

    from nanogpt import InvalidParameterError
    from nanogpt.batch._remote import prepare, submit

    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text(json.dumps({"id": "a", "prompt": "q", "max_tokens": 20}) + "\n")
    out.write_text("precious\n")
    with NanoGPT(KEY, base_url=emu.base_url) as client, pytest.raises(
            InvalidParameterError, match="not written by a batch run"):
        submit(client, prepare(inp, model=MODEL), inp, out)
    assert out.read_text() == "precious\n" and emu.count("/files") == 0


def test_a_deeply_nested_line_is_an_error_row_and_the_run_goes_on(tmp_path: Path,
                                                                  emu: Emulator) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    good = json.dumps({"id": "ok", "prompt": "fine", "max_tokens": 20})
    inp.write_text(good + "\n" + "[" * 100_000 + "\n")
    summary = run_sync(emu, inp, out)
    assert summary.succeeded == 1 and summary.malformed == 1
    bad = [row for row in read_output(out) if "error" in row]
    assert len(bad) == 1 and bad[0]["line"] == 2
