"""The ``llm`` command line, configured for an OpenAI-compatible model, against the emulator.

``llm`` reads ``extra-openai-models.yaml`` from ``LLM_USER_PATH``: each test gets its own
temporary one pointing at a documented-format emulator. Installed with the ``compat`` extra;
skipped (with the reason) when ``llm`` is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nanogpt.emulator import Emulator

pytest.importorskip("llm", reason="the compat extra is not installed: pip install '.[compat]'")

EXPECTED = "Hello from the NanoGPT emulator (openai/gpt-5-mini). You said: hi there"


@pytest.fixture(scope="module")
def server() -> Iterator[Emulator]:
    """An emulator with the default, documented stream format (no quirks)."""
    with Emulator() as emu:
        yield emu


@pytest.fixture
def llm_env(server: Emulator, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "extra-openai-models.yaml").write_text(
        "- model_id: emu\n"
        "  model_name: openai/gpt-5-mini\n"
        f"  api_base: {server.base_url}\n"
        "  api_key_name: nanogpt\n"
        "  can_stream: true\n"
        "  supports_tools: true\n"
        "  supports_schema: true\n")
    (tmp_path / "keys.json").write_text(json.dumps({"nanogpt": "sk-nano-test"}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LLM_"))}
    # this package's own llm plugin, when installed, fetches the catalog as llm starts: from
    # the emulator, never the network
    return {**env, "LLM_USER_PATH": str(tmp_path), "NANOGPT_BASE_URL": server.base_url}


def llm(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llm", "-m", "emu", *args],
                          capture_output=True, text=True, env=env, timeout=60)


def test_stream(llm_env: dict[str, str], server: Emulator) -> None:
    r = llm(llm_env, "hi there")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == EXPECTED
    assert server.requests[-1].body["stream"] is True


def test_schema(llm_env: dict[str, str]) -> None:
    r = llm(llm_env, "--schema", "name str, age int, cheerful bool", "hi there")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert isinstance(data["name"], str) and isinstance(data["age"], int)
    assert isinstance(data["cheerful"], bool)


def test_a_tool_is_called_and_its_result_answered(llm_env: dict[str, str]) -> None:
    r = llm(llm_env, "--functions", "def add(a: int, b: int) -> int:\n    return a + b * 10\n",
            "add two numbers", "--td")
    assert r.returncode == 0, r.stderr
    assert "The tool returned: 11" in r.stdout  # add(a=1, b=1), then an answer that uses it


def test_a_builtin_tool(llm_env: dict[str, str]) -> None:
    from importlib.metadata import version

    r = llm(llm_env, "-T", "llm_version", "which version?")
    assert r.returncode == 0, r.stderr
    assert f"The tool returned: {version('llm')}" in r.stdout
