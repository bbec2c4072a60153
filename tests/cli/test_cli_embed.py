"""``nanogpt embed``, run as a command against the emulator."""

from __future__ import annotations

import json
import re
from pathlib import Path

from nanogpt.emulator import Emulator


def test_default_output_is_a_summary_and_the_first_values(run, emu: Emulator) -> None:
    r = run("embed", "first text", "second text")
    assert r.returncode == 0, r.stderr
    head, *lines = r.stdout.splitlines()
    # the cost is worked out from the listed price (4 tokens at $0.02 per million)
    assert head == ("text-embedding-3-small · 2 inputs · 1536 dimensions · 4 tokens · "
                    "~$0.00000008")
    assert len(lines) == 2 and lines[0].startswith("[0] ") and lines[1].startswith("[1] ")
    assert re.fullmatch(r"\[0\]( [+-]\d\.\d{4}){4} \.\.\.", lines[0])
    posts = [q for q in emu.requests if q.path == "/api/v1/embeddings"]
    assert len(posts) == 1 and posts[0].body["input"] == ["first text", "second text"]


def test_json_prints_every_vector(run) -> None:
    r = run("embed", "-m", "text-embedding-3-large", "--dimensions", "8", "hello", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["model"] == "text-embedding-3-large" and data["usage"]["prompt_tokens"] == 1
    assert [d["index"] for d in data["data"]] == [0] and len(data["data"][0]["embedding"]) == 8
    assert data["cost"] == "0.00000013" and data["cost_estimated"] is True


def test_file_gives_one_input_per_line(run, tmp_path: Path, emu: Emulator) -> None:
    f = tmp_path / "docs.txt"
    f.write_text("alpha\n\nbeta gamma\n", encoding="utf-8")
    r = run("embed", "--file", str(f), "--json")
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["data"]) == 2  # the blank line is skipped
    assert emu.requests[-2].body["input"] == ["alpha", "beta gamma"]
    r = run("embed", "--file", "-", input="from stdin\n")
    assert r.returncode == 0 and "1 input ·" in r.stdout


def test_errors_are_one_line(run, emu: Emulator) -> None:
    r = run("embed", "-m", "no-such-embedder", "x")
    assert r.returncode != 0 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "Invalid model specified" in r.stderr
    r = run("embed")
    assert r.returncode == 2 and "nothing to embed" in r.stderr
    before = emu.count("/embeddings")
    r = run("embed", "--dimensions", "0", "x")
    assert r.returncode == 2 and emu.count("/embeddings") == before


def test_help_names_the_options(run) -> None:
    r = run("embed", "--help")
    assert r.returncode == 0
    for flag in ("--file", "--model", "--dimensions", "--json"):
        assert flag in r.stdout
