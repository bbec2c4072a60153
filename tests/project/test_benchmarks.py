"""The benchmark command runs end to end (tiny counts; no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_smoke_run(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    r = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--out", str(out),
         "--clients", "nanogpt-sync", "nanogpt-async", "aiohttp-raw"],
        capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "CPU us / streamed chunk" in r.stdout and "nanogpt --help" in r.stdout
    data = json.loads(out.read_text())
    for name in ("nanogpt-sync", "nanogpt-async", "aiohttp-raw"):
        res = data["results"][name]
        assert res["seq_rps"] > 0 and res["cpu_us_per_chunk"] > 0
    assert "memory_growth_mb" in data["results"]["nanogpt-sync"]
    assert data["startup"]["nanogpt_help_ms"] > 0
    assert {g["status"] for g in data["goals"]} <= {"PASS", "MISS", "n/a"}


def test_compression_benchmark_smoke_run(tmp_path: Path) -> None:
    out = tmp_path / "compression.json"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "compression.py"), "--quick",
                        "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "1 MB conversation" in r.stdout and "wire KB" in r.stdout
    data = json.loads(out.read_text())
    rows = data["conversation"]
    assert data["body_bytes"]["conversation"] >= 1_000_000
    default = next(v for k, v in rows.items() if "default" in k and "sync" in k)
    off = rows["nanogpt-sync off"]
    assert default["wire_bytes"] * 2 < off["wire_bytes"]  # compressed on the wire


def test_embeddings_benchmark_smoke_run(tmp_path: Path) -> None:
    out = tmp_path / "embeddings.json"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "embeddings.py"), "--quick",
                        "--out", str(out), "--sides", "nanogpt-sync", "nanogpt-async",
                        "openai-sync"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "every side got the same vectors: yes" in r.stdout
    data = json.loads(out.read_text())
    assert data["same_vectors"] and data["count"] > 2048  # more than one request
    for side in ("nanogpt-sync", "nanogpt-async"):
        assert data["results"][side]["wall_s"] > 0 and data["results"][side]["cpu_s"] > 0
