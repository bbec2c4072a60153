"""The pytest plugin users get (``nanogpt.testing``): every fixture says what it is in
``pytest --fixtures``, and the async client fixture works under plain pytest (issue 9, item 12).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from nanogpt import AsyncNanoGPT
from nanogpt.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]  # the checkout


def pytest_run(*args: str, cwd: Path) -> str:
    """pytest in a subprocess (this source first on the path), its output."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(Path(__import__("nanogpt").__file__).parents[1]),
                    os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    return done.stdout + done.stderr


def fixture_sections(output: str) -> dict[str, str]:
    """``pytest --fixtures`` output by section: "fixtures defined from X" -> its text."""
    parts = re.split(r"^-+ fixtures defined from (\S+) -+$", output, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_fixture_of_the_plugin_and_of_this_suite_has_a_docstring() -> None:
    sections = fixture_sections(pytest_run("--fixtures", str(Path(__file__)), cwd=ROOT))
    plugin, ours = sections.get("nanogpt.testing", ""), sections.get("conftest", "")
    assert "nanogpt_async_client" in plugin and "make_client" in ours
    for section in (plugin, ours):
        assert "no docstring available" not in section, section


def test_the_async_client_fixture_answers_and_retries(nanogpt_async_client: AsyncNanoGPT,
                                                      nanogpt_run: Any,
                                                      nanogpt_emulator: Emulator) -> None:
    nanogpt_emulator.inject(status=429, retry_after=0)

    async def ask() -> str:
        r = await nanogpt_async_client.chat.completions.create(
            model="openai/gpt-5-mini", messages=[{"role": "user", "content": "Hi"}])
        return r.choices[0].message.content or ""

    assert nanogpt_run(ask())
    assert nanogpt_emulator.count("/chat") == 2  # the 429, then the answer


def test_the_async_client_fixture_closes_its_client_under_plain_pytest(tmp_path: Path) -> None:
    """Run as a user would, with only the plugin: no unclosed session or socket is left
    (ResourceWarning, aiohttp's "Unclosed client session") when the test ends."""
    (tmp_path / "test_bot.py").write_text(textwrap.dedent("""
        import gc

        def test_bot(nanogpt_async_client, nanogpt_run):
            async def main():
                return await nanogpt_async_client.balance()
            assert nanogpt_run(main()) > 0

        def test_after():
            gc.collect()  # anything the first test left unclosed would warn here
    """))
    out = pytest_run("-W", "error", "-q", str(tmp_path), cwd=tmp_path)
    assert "2 passed" in out and "warning" not in out.lower(), out
