"""Style and types are part of the suite: ruff on everything, mypy (strict) on the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True)


def test_ruff() -> None:
    pytest.importorskip("ruff")
    paths = [p for p in ("src", "tests", "benchmarks") if (ROOT / p).is_dir()]
    r = _run("ruff", "check", *paths)
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy() -> None:
    pytest.importorskip("mypy")
    r = _run("mypy", "--no-error-summary")
    assert r.returncode == 0, r.stdout + r.stderr
