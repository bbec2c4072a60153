"""Live batch runs (``nanogpt batch``, ``nanogpt.batch``) against the emulator, over sockets.

The crash tests run the command line in a subprocess against the emulator in this process, so
that the emulator counts every chat request the runs sent, across a SIGKILL or a Ctrl-C. An
injected delay keeps rows in flight long enough to interrupt a run half-way; the tests wait
for rows to appear in the output, never for a time.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import KEY, cli_env
from nanogpt import AsyncNanoGPT, NanoGPT
from nanogpt.batch import BatchInputError, read_rows, run
from nanogpt.emulator import Emulator, Fault

MODEL = "openai/gpt-5-mini"
CHAT = "/chat/completions"


def write_rows(path: Path, n: int, *, start: int = 0, extra: str = "") -> None:
    with open(path, "a", encoding="utf-8") as f:
        for i in range(start, start + n):
            f.write(json.dumps({"id": f"r{i}", "prompt": f"question {i}{extra}",
                                "max_tokens": 50}) + "\n")


def read_output(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def answer_text(row: dict[str, Any]) -> str:
    return str(row["response"]["choices"][0]["message"]["content"])


def assert_each_row_once_and_right(out: Path, n: int) -> None:
    rows = read_output(out)
    ids = [r["id"] for r in rows]
    assert sorted(ids) == sorted(f"r{i}" for i in range(n)), "a row is missing or doubled"
    for r in rows:
        assert answer_text(r).endswith(f"You said: question {r['id'][1:]}"), r


def batch_cli(tmp_path: Path, emu: Emulator, *args: str) -> list[str]:
    return [sys.executable, "-m", "nanogpt", "batch", *args]


def run_cli(tmp_path: Path, emu: Emulator, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(batch_cli(tmp_path, emu, *args), capture_output=True, text=True,
                          env=cli_env(tmp_path, emu), timeout=60)


def summary_of(r: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert r.stdout.strip(), r.stderr
    data: dict[str, Any] = json.loads(r.stdout)
    return data


def wait_for_lines(out: Path, count: int, proc: subprocess.Popen[str]) -> None:
    """Until ``out`` holds ``count`` lines (a safety cap of 30 s, never an assertion)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if out.exists() and out.read_bytes().count(b"\n") >= count:
            return
        assert proc.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.01)
    pytest.fail("the run made no progress")


def slow_answers(emu: Emulator, seconds: float = 0.05) -> None:
    emu.inject(Fault(delay=seconds), times=None, path=CHAT)


# crash safety ------------------------------------------------------------------------------


def test_sigkill_mid_run_then_resume_gives_every_row_once(tmp_path: Path,
                                                          emu: Emulator) -> None:
    n, concurrency = 200, 10
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, n)
    slow_answers(emu)
    proc = subprocess.Popen(
        batch_cli(tmp_path, emu, str(inp), "-o", str(out), "-m", MODEL, "--concurrency",
                  str(concurrency), "--json"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        env=cli_env(tmp_path, emu))
    try:
        wait_for_lines(out, 60, proc)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    emu.clear_faults()
    r = run_cli(tmp_path, emu, str(inp), "-o", str(out), "-m", MODEL, "--concurrency",
                str(concurrency), "--json")
    assert r.returncode == 0, r.stderr
    summary = summary_of(r)
    assert summary["kept"] >= 60 and summary["kept"] + summary["sent"] == n
    assert_each_row_once_and_right(out, n)
    assert emu.count(CHAT) <= n + concurrency


def interrupted_run(tmp_path: Path, emu: Emulator, inp: Path, out: Path, *, concurrency: int,
                    ctrl_c_after: list[int]) -> dict[str, Any]:
    """Run ``nanogpt batch --json`` in a subprocess and press Ctrl-C once the output holds
    each of ``ctrl_c_after`` lines; it must exit 130. Returns its JSON summary."""
    proc = subprocess.Popen(
        batch_cli(tmp_path, emu, str(inp), "-o", str(out), "-m", MODEL, "--concurrency",
                  str(concurrency), "--json"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(tmp_path, emu))
    try:
        for lines in ctrl_c_after:
            wait_for_lines(out, lines, proc)
            proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    summary: dict[str, Any] = json.loads(stdout)
    return summary


def test_sigint_stops_dispatching_and_leaves_a_resumable_state(tmp_path: Path,
                                                               emu: Emulator) -> None:
    n = 200
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, n)
    slow_answers(emu)
    first = interrupted_run(tmp_path, emu, inp, out, concurrency=10, ctrl_c_after=[30])
    assert first["stopped"] == "interrupted" and first["cancelled"] == 0
    assert first["succeeded"] == first["sent"]  # the rows in flight finished
    assert first["not_run"] == n - first["sent"] > 0
    assert len(read_output(out)) == n  # one row per input row, not_run rows included
    emu.clear_faults()
    r = run_cli(tmp_path, emu, str(inp), "-o", str(out), "-m", MODEL, "--json")
    assert r.returncode == 0, r.stderr
    assert summary_of(r)["kept"] == first["sent"]
    assert_each_row_once_and_right(out, n)
    assert emu.count(CHAT) == n  # nothing was paid for twice


def test_rerun_of_a_finished_job_sends_nothing(tmp_path: Path, emu: Emulator) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, 30)
    first = summary_of(run_cli(tmp_path, emu, str(inp), "-o", str(out), "-m", MODEL, "--json"))
    assert first["succeeded"] == 30 and first["cost"] > 0
    before = emu.count(CHAT)
    r = run_cli(tmp_path, emu, str(inp), "-o", str(out), "-m", MODEL, "--json")
    assert r.returncode == 0
    again = summary_of(r)
    assert again["sent"] == 0 and again["kept"] == 30 and again["cost"] == 0
    assert emu.count(CHAT) == before
    assert_each_row_once_and_right(out, 30)


# input -----------------------------------------------------------------------------------


def test_duplicate_ids_are_an_error_naming_both_lines_before_anything_is_sent(
        tmp_path: Path, emu: Emulator) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, 5)
    write_rows(inp, 1, start=2)  # line 6 repeats r2 of line 3
    r = run_cli(tmp_path, emu, str(inp), "-o", str(out), "-m", MODEL)
    assert r.returncode == 2
    assert "'r2' on lines 3 and 6" in r.stderr
    assert emu.count(CHAT) == 0 and not out.exists()


def test_malformed_lines_become_error_rows_and_the_run_goes_on(tmp_path: Path,
                                                               emu: Emulator) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, 2)
    with open(inp, "a") as f:
        f.write("{not json\n")
        f.write(json.dumps({"id": "nomsg"}) + "\n")
    write_rows(inp, 2, start=2)
    r = run_cli(tmp_path, emu, str(inp), "-o", str(out), "-m", MODEL, "--json")
    assert r.returncode == 1  # finished, with error rows
    assert summary_of(r)["malformed"] == 2
    rows = read_output(out)
    assert len(rows) == 6
    bad = [row for row in rows if "error" in row]
    assert [(b["id"], b["line"], b["error"]["type"]) for b in bad] == [
        (None, 3, "invalid_row"), ("nomsg", 4, "invalid_row")]
    assert "line 3" in bad[0]["error"]["message"]
    assert emu.count(CHAT) == 4


def test_edited_and_appended_rows_run_and_unchanged_ones_are_kept(tmp_path: Path,
                                                                  emu: Emulator) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, 10)
    run_cli(tmp_path, emu, str(inp), "-o", str(out), "-m", MODEL)
    lines = inp.read_text().splitlines()
    lines[4] = json.dumps({"id": "r4", "prompt": "question 4 edited", "max_tokens": 50})
    inp.write_text("\n".join(lines) + "\n")
    write_rows(inp, 1, start=10)
    before = emu.count(CHAT)
    r = run_cli(tmp_path, emu, str(inp), "-o", str(out), "-m", MODEL, "--json")
    s = summary_of(r)
    assert (s["kept"], s["changed"], s["new"], s["sent"]) == (9, 1, 1, 2)
    assert emu.count(CHAT) - before == 2
    by_id = {row["id"]: row for row in read_output(out)}
    assert len(by_id) == 11 == len(read_output(out))
    assert answer_text(by_id["r4"]).endswith("question 4 edited")
    assert answer_text(by_id["r10"]).endswith("question 10")


def test_rows_in_every_accepted_form(tmp_path: Path) -> None:
    inp = tmp_path / "in.jsonl"
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 5}
    inp.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a", "prompt": "x", "max_tokens": 5, "model": "m"},
        {"id": "b", "messages": body["messages"], "max_tokens": 5},
        {"custom_id": "c", "method": "POST", "url": "/v1/chat/completions", "body": body},
        {"custom_id": "d", "method": "POST", "url": "/v1/embeddings", "body": body},
    ]) + "\n\n")
    rows = list(read_rows(inp, model="m"))
    assert [getattr(r, "id", None) for r in rows] == ["a", "b", "c", "d"]
    assert rows[0].digest == rows[1].digest == rows[2].digest  # type: ignore[union-attr]
    assert "url" in rows[3].message  # type: ignore[union-attr]


# failures, budget --------------------------------------------------------------------------


def test_retry_failed_reruns_only_the_error_rows(tmp_path: Path, emu: Emulator) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, 10)
    emu.inject(Fault(status=400, message="bad luck"), times=3, path=CHAT)
    r = run_cli(tmp_path, emu, str(inp), "-o", str(out), "-m", MODEL, "--concurrency", "1",
                "--json")
    assert r.returncode == 1 and summary_of(r)["failed"] == 3
    errors = [row for row in read_output(out) if "error" in row]
    assert [e["error"]["status"] for e in errors] == [400] * 3
    assert errors[0]["error"]["type"] == "BadRequestError"
    again = summary_of(run_cli(tmp_path, emu, str(inp), "-o", str(out), "-m", MODEL, "--json"))
    assert again["sent"] == 0 and again["kept_failed"] == 3
    before = emu.count(CHAT)
    r = run_cli(tmp_path, emu, str(inp), "-o", str(out), "-m", MODEL, "--retry-failed",
                "--json")
    assert r.returncode == 0
    assert summary_of(r)["retried"] == 3 and emu.count(CHAT) - before == 3
    assert_each_row_once_and_right(out, 10)


def test_budget_stops_dispatching_before_it_could_be_passed(tmp_path: Path,
                                                            emu: Emulator) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, 100)
    budget = 0.0005  # room for a few dozen rows of this model's worst case
    r = run_cli(tmp_path, emu, str(inp), "-o", str(out), "-m", MODEL, "--budget", str(budget),
                "--json")
    assert r.returncode == 3
    s = summary_of(r)
    assert s["stopped"] == "budget" and 0 < s["sent"] < 100
    assert s["not_run"] == 100 - s["sent"] and s["job_cost"] <= budget
    assert emu.count(CHAT) == s["sent"]
    assert sum("error" in row for row in read_output(out)) == s["not_run"]
    # the budget caps the whole job: the same budget again sends (almost) nothing more
    again = summary_of(run_cli(tmp_path, emu, str(inp), "-o", str(out), "-m", MODEL,
                               "--budget", str(budget), "--json"))
    assert again["job_cost"] <= budget and again["kept"] == s["sent"]
    r = run_cli(tmp_path, emu, str(inp), "-o", str(out), "-m", MODEL, "--json")
    assert r.returncode == 0
    assert_each_row_once_and_right(out, 100)


def test_an_output_file_not_written_by_a_batch_run_is_never_overwritten(
        tmp_path: Path, emu: Emulator) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, 2)
    out.write_text("precious\n")
    r = run_cli(tmp_path, emu, str(inp), "-o", str(out), "-m", MODEL)
    assert r.returncode != 0 and "no ledger" in r.stderr
    assert out.read_text() == "precious\n" and emu.count(CHAT) == 0


# from Python -------------------------------------------------------------------------------


def test_python_api_with_the_sync_client(tmp_path: Path, emu: Emulator) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, 20)
    with NanoGPT(KEY, base_url=emu.base_url) as client:
        summary = run(inp, out, client=client, model=MODEL, concurrency=5,
                      handle_sigint=False)
        assert summary.succeeded == 20 and summary.complete
        assert run(inp, out, client=client, model=MODEL, handle_sigint=False).sent == 0
    assert_each_row_once_and_right(out, 20)


def test_python_api_with_the_async_client(tmp_path: Path, emu: Emulator) -> None:
    from nanogpt.batch import arun

    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, 20)

    async def main() -> Any:
        async with AsyncNanoGPT(KEY, base_url=emu.base_url) as client:
            return await arun(inp, out, client=client, model=MODEL, max_rps=1000)

    summary = asyncio.run(main())
    assert summary.succeeded == 20 and summary.tokens > 0
    assert_each_row_once_and_right(out, 20)
    write_rows(inp, 1, start=1)
    with pytest.raises(BatchInputError, match="'r1' on lines 2 and 21"):
        run(inp, out, handle_sigint=False)


def test_batch_benchmark_smoke_run(tmp_path: Path) -> None:
    """benchmarks/batch.py --quick runs end to end (tiny counts; no timing is asserted)."""
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, str(root / "benchmarks" / "batch.py"), "--quick",
                        "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["rows_per_s"] > 0 and data["big_run_all_answered"]
    assert data["resume_sent"] == 0 and data["resume_kept"] == data["big_rows"]


def test_a_second_ctrl_c_cancels_the_rows_in_flight_and_the_run_resumes(
        tmp_path: Path, emu: Emulator) -> None:
    n, concurrency = 60, 5
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, n)
    emu.inject(Fault(delay=0.01), times=20, path=CHAT)
    emu.inject(Fault(delay=20), times=None, path=CHAT)  # then rows hang in flight
    # the first Ctrl-C is seen once the rows not sent are written out (signals sent together
    # may arrive as one)
    first = interrupted_run(tmp_path, emu, inp, out, concurrency=concurrency,
                            ctrl_c_after=[20, n - concurrency])
    assert first["succeeded"] == 20 and first["cancelled"] > 0
    emu.clear_faults()
    r = run_cli(tmp_path, emu, str(inp), "-o", str(out), "-m", MODEL, "--json")
    assert r.returncode == 0, r.stderr
    assert summary_of(r)["kept"] == 20
    assert_each_row_once_and_right(out, n)
    assert emu.count(CHAT) <= n + concurrency


def test_a_second_run_on_the_same_output_is_refused_while_one_runs(
        tmp_path: Path, emu: Emulator) -> None:
    from nanogpt.batch._ledger import Ledger, ledger_path

    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, 3)
    held = Ledger(ledger_path(out))  # as a running batch holds it
    try:
        r = run_cli(tmp_path, emu, str(inp), "-o", str(out), "-m", MODEL)
    finally:
        held.close()
    assert r.returncode != 0 and "another batch run" in r.stderr
    assert emu.count(CHAT) == 0


def test_an_empty_balance_stops_sending_instead_of_failing_every_row(
        tmp_path: Path, emu: Emulator) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, 20)
    emu.inject(Fault(status=402, message="Insufficient balance"), times=1, path=CHAT)
    r = run_cli(tmp_path, emu, str(inp), "-o", str(out), "-m", MODEL, "--concurrency", "1",
                "--json")
    assert r.returncode == 1
    s = summary_of(r)
    assert s["stopped"] == "account" and "402" in s["stop_reason"]
    assert (s["sent"], s["failed"], s["not_run"]) == (1, 1, 19)
    assert emu.count(CHAT) == 1
    r = run_cli(tmp_path, emu, str(inp), "-o", str(out), "-m", MODEL, "--retry-failed",
                "--json")
    assert r.returncode == 0 and summary_of(r)["sent"] == 20
    assert_each_row_once_and_right(out, 20)


@pytest.mark.timeout(30)
def test_a_ledger_that_cannot_commit_ends_the_run_with_its_error(
        tmp_path: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from nanogpt.batch._ledger import Ledger

    def full_disk(self: Ledger, rows: Any) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Ledger, "record", full_disk)
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_rows(inp, 30)
    with NanoGPT(KEY, base_url=emu.base_url) as client, pytest.raises(
            sqlite3.OperationalError, match="disk is full"):
        run(inp, out, client=client, model=MODEL, concurrency=5, handle_sigint=False)
    assert not any("response" in row for row in read_output(out))  # nothing counted
    assert emu.count(CHAT) <= 5 + 5  # it stopped sending: a slot is freed only by a commit
