"""The README's terminal sessions are run again here, so the page stays true.

Every ```console block is a list of ``$ command`` lines, each followed by what it prints
(stdout and stderr together). Commands run in a fresh config directory, without a key.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def sessions() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text()
    out: list[tuple[str, str]] = []
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        cmd: str | None = None
        expected: list[str] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                if cmd is not None:
                    out.append((cmd, "\n".join(expected)))
                cmd, expected = line[2:], []
            else:
                expected.append(line)
        if cmd is not None:
            out.append((cmd, "\n".join(expected)))
    return out


SESSIONS = sessions()


def test_the_readme_has_sessions_for_every_command() -> None:
    text = " ".join(cmd for cmd, _ in SESSIONS)
    for sub in ("chat", "models", "balance", "config set", "config list"):
        assert f" {sub}" in text, sub


@pytest.fixture(scope="module")
def shell_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("readme")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NANOGPT_")}
    env.update(NANOGPT_CONFIG_DIR=str(home / "config"), NANOGPT_CACHE_DIR=str(home / "cache"),
               COLUMNS="200")
    return env


@pytest.mark.parametrize("cmd,expected", SESSIONS, ids=[c for c, _ in SESSIONS])
def test_readme_session(cmd: str, expected: str, shell_env: dict[str, str]) -> None:
    runnable = re.sub(r"(^|\| )nanogpt ", rf"\1{sys.executable} -m nanogpt ", cmd)
    r = subprocess.run(["bash", "-c", runnable], capture_output=True, text=True,
                       env=shell_env, timeout=60)
    got = (r.stdout + r.stderr).rstrip("\n")
    assert got == expected.rstrip("\n")


def guarantees_citations(section: str) -> list[tuple[str, str | None]]:
    """Each test the Guarantees table cites, as (file, test name or None for a whole file).

    A citation is `file.py::test_name`, `file.py` (the whole file), or `::test_name`, which
    continues the file cited last in the same row; a row may not start with `::`."""
    cited: list[tuple[str, str | None]] = []
    for row in section.splitlines():
        last: str | None = None
        for file, name in re.findall(r"`(test_\w+\.py)?(?:::(test_\w+))?`", row):
            if not file and not name:
                continue
            last = file or last
            assert last, f"::{name} continues no file in: {row[:60]}"
            cited.append((last, name or None))
    return cited


def test_every_test_the_guarantees_name_exists() -> None:
    """Each cited test is defined in the file it is cited with, not merely somewhere."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Guarantees"):text.index("## The emulator")]
    tests = {p.name: p.read_text() for p in (ROOT / "tests").rglob("test_*.py")}
    cited = guarantees_citations(section)
    assert cited
    assert not [f for f, _ in cited if f not in tests]
    missing = [f"{f}::{n}" for f, n in cited
               if n is not None and not re.search(rf"^(async )?def {n}\(", tests[f], re.M)]
    assert not missing


def test_the_layout_names_every_module() -> None:
    """The README's Layout tree is how a newcomer finds a module: each one is named there (as
    ``name.py`` or ``_name``), and each module it names with ``.py`` exists."""
    text = (ROOT / "README.md").read_text()
    layout = text.split("## Layout", 1)[1].split("```", 2)[1]  # the tree
    package = ROOT / "src" / "nanogpt"
    files = [p for p in package.rglob("*.py") if not p.name.startswith("__")]
    unnamed = [str(p.relative_to(package)) for p in files
               if not re.search(rf"(?<![\w.]){re.escape(p.stem)}(\.py)?\b", layout)]
    assert unnamed == []
    named = set(re.findall(r"(?<![\w.])(_?\w+)\.py\b", layout))
    assert sorted(named - {p.stem for p in files} - {"__init__"}) == []
