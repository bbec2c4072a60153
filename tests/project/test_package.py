"""The package itself: cheap import, public names, the emulator's command, the pytest plugin,
and the README's first block."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nanogpt

ROOT = Path(__file__).resolve().parents[2]


def test_import_is_cheap_and_lazy() -> None:
    code = ("import sys, nanogpt; heavy = [m for m in ('urllib3', 'aiohttp', 'msgspec', "
            "'asyncio', 'ssl', 'email') if m in sys.modules]; "
            "c = nanogpt.NanoGPT('k'); heavy2 = [m for m in ('aiohttp',) if m in sys.modules]; "
            "print(heavy, heavy2)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[] []"


_CAPABILITIES = ("_embeddings", "_images", "_audio", "_account", "_web",
                 "_core.embeddings", "_core.images", "_core.audio", "_core.account",
                 "_core.search", "_core.suffixes", "_core.providers")


def test_chat_code_imports_no_other_capability() -> None:
    """A chat-only program that annotates with the public types (``nanogpt.ChatCompletion``,
    ``nanogpt.types.Message``) loads none of the embeddings, images, audio, account or web
    modules, nor a model's provider list: ``nanogpt.types`` imports each type on first use (it
    imported them all, 30 times the cost of the rest of the module)."""
    code = ("import sys, nanogpt, nanogpt.types; c = nanogpt.NanoGPT('k'); "
            "nanogpt.ChatCompletion, nanogpt.types.Message, nanogpt.types.ChatParams; "
            f"print([m for m in {_CAPABILITIES!r} if 'nanogpt.' + m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_public_names() -> None:
    for name in nanogpt.__all__:
        assert getattr(nanogpt, name) is not None
    assert issubclass(nanogpt.APITimeoutError, nanogpt.APIConnectionError)
    assert issubclass(nanogpt.InvalidParameterError, ValueError)
    for cls in (nanogpt.BadRequestError, nanogpt.RateLimitError, nanogpt.StreamError,
                nanogpt.APIResponseValidationError, nanogpt.APIConnectionError):
        assert issubclass(cls, nanogpt.NanoGPTError)
    assert issubclass(nanogpt.StreamTimeoutError, nanogpt.StreamError)
    with pytest.raises(AttributeError):
        nanogpt.DoesNotExist  # noqa: B018


def test_clients_are_context_managers(emu) -> None:
    import asyncio

    with nanogpt.NanoGPT("k", base_url=emu.base_url) as c:
        assert c.models.list()

    async def main() -> None:
        async with nanogpt.AsyncNanoGPT("k", base_url=emu.base_url) as ac:
            assert await ac.models.list()

    asyncio.run(main())


def test_emulator_runs_as_a_module() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "nanogpt.emulator", "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        base = re.search(r"(http://\S+/api/v1)", line)
        assert base, line
        with nanogpt.NanoGPT("k", base_url=base.group(1)) as c:
            r = c.chat.completions.create(model="openai/gpt-5-mini",
                                          messages=[{"role": "user", "content": "ping"}])
        assert r.text.endswith("You said: ping")
    finally:
        proc.terminate()
        proc.wait(10)


def test_emulator_streams_chunked(emu) -> None:
    import urllib3

    r = urllib3.request("POST", emu.base_url + "/chat/completions", headers={
        "Authorization": "Bearer k", "Accept": "text/event-stream"},
        json={"model": "openai/gpt-5-mini", "stream": True,
              "messages": [{"role": "user", "content": "x"}]})
    assert r.headers["transfer-encoding"] == "chunked"
    assert r.headers["content-type"].startswith("text/event-stream")
    body = r.data
    assert body.startswith(b": keep-alive\n\nretry: 3000\n\n")
    assert body.rstrip().endswith(b"data: [DONE]")


def test_pytest_plugin_fixtures(nanogpt_client, nanogpt_emulator) -> None:
    nanogpt_emulator.inject(status=503, retry_after=0)
    r = nanogpt_client.chat.completions.create(
        model="openai/gpt-5-mini", messages=[{"role": "user", "content": "x"}])
    assert r.text and nanogpt_emulator.count() == 2


def test_offline_command_streams_an_answer() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NANOGPT_API_KEY"}
    out = subprocess.run([sys.executable, "-m", "nanogpt", "--offline", "chat", "Hello"],
                         capture_output=True, text=True, check=True, env=env)
    assert "You said: Hello" in out.stdout


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```(?:bash|sh|console|shell)?\n(.*?)```", text, re.S)
    assert block
    lines = [ln for ln in block.group(1).splitlines() if ln.strip()]
    assert len(lines) == 2
    assert "nanogpt --offline chat" in lines[0] and "pip install" in lines[0]
    assert "pip install" in lines[1] and "[test,compat]" in lines[1] and "pytest" in lines[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert lines[1].strip() in ci


def test_the_version_is_written_once() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "nanogpt.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", nanogpt.__version__)
