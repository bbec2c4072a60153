"""The whole server-side batch run from Python, as the README shows it: prepare (checks and
estimate), submit (recorded beside the output), wait, download (one row per input row)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import KEY
from nanogpt import NanoGPT
from nanogpt.batch import RemoteInputError, download, prepare, submit
from nanogpt.emulator import Emulator


@pytest.fixture
def fast(emu: Emulator) -> Iterator[Emulator]:
    """The shared emulator, its batches moving one phase every 0.05 s for this test."""
    old, emu.batches.step = emu.batches.step, 0.05
    yield emu
    emu.batches.step = old


def test_remote_run_from_python(fast: Emulator, tmp_path: Path) -> None:
    rows = tmp_path / "prompts.jsonl"
    rows.write_text("".join(json.dumps({"id": f"r{i}", "prompt": f"question {i}",
                                        "max_tokens": 50}) + "\n" for i in range(3)))
    out = tmp_path / "answers.jsonl"
    with NanoGPT(KEY, base_url=fast.base_url) as client:
        plan = prepare(rows, model="openai/gpt-5-mini", catalog=client.models.list())
        assert plan.estimate()["worst_case_batch_usd"] < plan.estimate()["worst_case_live_usd"]
        batch = submit(client, plan, rows, out)
        batch = client.batches.wait(batch.id, poll_interval=0.05)
        summary = download(client, batch.id, out)
    assert (summary.rows, summary.answered, summary.failed) == (3, 3, 0)
    answers = [json.loads(line) for line in out.read_text().splitlines()]
    assert [a["id"] for a in answers] == ["r0", "r1", "r2"]
    assert all("question" in a["response"]["choices"][0]["message"]["content"] for a in answers)


def test_prepare_refuses_rows_the_batch_api_would_reject(tmp_path: Path) -> None:
    rows = tmp_path / "prompts.jsonl"
    rows.write_text(json.dumps({"id": "a", "prompt": "no cap"}) + "\n")
    with pytest.raises(RemoteInputError, match="line 1"):
        prepare(rows, model="openai/gpt-5-mini")
