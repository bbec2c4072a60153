"""The ``llm`` plugin (``nanogpt.llm_plugin``) driven through ``llm``'s own command line and
Python API, against the emulator.

A ``python -m llm`` process costs about 1.5 s to start (``llm`` imports much), so the tests that
need a process of their own (the entry point, starting offline, one prompt of each kind, an
error in one line, the async API) run one; the rest run ``llm``'s click command in this
process (``CliRunner``), through the same code. Each test has its own ``LLM_USER_PATH`` (keys,
logs, the cached catalog) in a temporary directory and ``NANOGPT_BASE_URL`` at the emulator.

The package's installed metadata may predate the plugin (an editable install made before it
existed): the processes get a stand-in ``.dist-info`` declaring the same entry point, and
``test_the_entry_point_is_declared_and_installed`` checks the real one.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import nanogpt
from nanogpt.emulator import Emulator, Fault

pytest.importorskip("llm", reason="the llm extra is not installed: pip install '.[compat]'")

from click.testing import CliRunner

from nanogpt import llm_plugin

KEY = "sk-nano-llm-plugin-test"
ENTRY_POINT = "nanogpt.llm_plugin"
SOURCE_ROOT = str(Path(nanogpt.__file__).resolve().parents[1])
MINI = "nanogpt/openai/gpt-5-mini"  # vision, tools, structured output
R1 = "nanogpt/deepseek/deepseek-r1"  # reasoning; no tools, no schemas, no images
R1_ANSWER = "Hello from the NanoGPT emulator (deepseek/deepseek-r1). You said: hi there"
# a 1x1 PNG
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(quirks=True) as server:
        yield server


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    path = tmp_path / "llm"
    path.mkdir()
    return path


@pytest.fixture
def env(emu: Emulator, user_dir: Path, tmp_path: Path) -> dict[str, str]:
    """The environment of an ``llm`` process: its own user directory, the emulator, the key."""
    shim = tmp_path / "shim" / "nanogpt_llm_standin-0.dist-info"
    shim.mkdir(parents=True)
    (shim / "METADATA").write_text("Metadata-Version: 2.1\nName: nanogpt-llm-standin\n"
                                   "Version: 0\n")
    (shim / "entry_points.txt").write_text(f"[llm]\nnanogpt = {ENTRY_POINT}\n")
    path = os.pathsep.join(p for p in (SOURCE_ROOT, str(shim.parent),
                                       os.environ.get("PYTHONPATH")) if p)
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("OPENAI_", "LLM_", "NANOGPT_"))}
    return {**clean, "PYTHONPATH": path, "LLM_USER_PATH": str(user_dir),
            "NANOGPT_BASE_URL": emu.base_url, "NANOGPT_API_KEY": KEY}


def llm_process(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llm", *args], capture_output=True,
                          text=True, env=env, timeout=60)


@pytest.fixture(scope="module")
def cli() -> Any:
    """``llm``'s click command in this process, with the plugin registered."""
    from llm.plugins import load_plugins, pm

    load_plugins()
    if pm.get_plugin("nanogpt") is None:
        pm.register(llm_plugin, name="nanogpt")
    from llm.cli import cli as command

    if "nanogpt" not in command.commands:  # llm.cli was imported before the plugin was there
        llm_plugin.register_commands(command)
    return command


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.returncode, self.stdout, self.stderr = code, out, err


@pytest.fixture
def llm_cli(cli: Any, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run ``llm ARGS`` in this process, in the environment a process would have."""
    for name in [n for n in os.environ if n.startswith(("OPENAI_", "LLM_", "NANOGPT_"))]:
        monkeypatch.delenv(name)
    for name in ("LLM_USER_PATH", "NANOGPT_BASE_URL", "NANOGPT_API_KEY"):
        monkeypatch.setenv(name, env[name])

    def run(*args: str) -> Run:
        result = CliRunner().invoke(cli, list(args), catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # llm would have shown a traceback
        return Run(result.exit_code, result.stdout, result.stderr)
    return run


def chat_requests(emu: Emulator) -> list[Any]:
    return [r for r in emu.requests if r.path.endswith("/chat/completions")]


# the entry point and the catalog ---------------------------------------------------------------

def test_the_entry_point_is_declared_and_installed() -> None:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is Python 3.11+")
    root = Path(SOURCE_ROOT).parent
    pyproject = root / "pyproject.toml"
    if pyproject.exists():
        declared = tomllib.loads(pyproject.read_text())["project"]["entry-points"]["llm"]
        assert declared == {"nanogpt": ENTRY_POINT}
    installed = [ep for ep in metadata.distribution("nanogpt").entry_points
                 if ep.group == "llm"]
    if not installed:
        pytest.skip("the installed nanogpt metadata predates the plugin (an editable install "
                    "made before it): pip install -e . registers it")
    assert [(ep.name, ep.value) for ep in installed] == [("nanogpt", ENTRY_POINT)]
    assert installed[0].load() is llm_plugin


def test_llm_lists_the_catalog_and_caches_it_for_an_hour(env: dict[str, str], emu: Emulator,
                                                          user_dir: Path, llm_cli: Any) -> None:
    before = emu.count("/models")
    r = llm_process(env, "models")
    assert r.returncode == 0, r.stderr
    assert f"NanoGPT: {MINI}\n" in r.stdout and f"NanoGPT: {R1}\n" in r.stdout
    assert emu.count("/models") == before + 1
    cache = json.loads((user_dir / llm_plugin.CACHE_FILE).read_text())
    assert cache["base_url"] == emu.base_url
    assert "openai/gpt-5-mini" in {m["id"] for m in cache["models"]}

    assert MINI in llm_cli("models").stdout  # from the cache
    assert emu.count("/models") == before + 1
    r2 = llm_cli("nanogpt", "refresh")  # on demand
    assert (r2.returncode, r2.stdout) == (0, "7 NanoGPT models\n")
    assert emu.count("/models") == before + 2

    cache["fetched_at"] -= llm_plugin.CACHE_SECONDS + 1  # an hour later
    (user_dir / llm_plugin.CACHE_FILE).write_text(json.dumps(cache))
    assert MINI in llm_cli("models").stdout
    assert emu.count("/models") == before + 3


def test_a_model_the_cached_catalog_lacks_makes_llm_fetch_it_again(
        llm_cli: Any, emu: Emulator, user_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert MINI in llm_cli("models").stdout
    path = user_dir / llm_plugin.CACHE_FILE
    cache = json.loads(path.read_text())
    cache["models"] = [m for m in cache["models"] if m["id"] != "openai/gpt-5-mini"]
    path.write_text(json.dumps(cache))  # fresh, but from before the model existed
    before = emu.count("/models")
    monkeypatch.setattr(sys, "argv", ["llm", "-m", MINI, "hi"])
    r = llm_cli("-m", MINI, "hi")
    assert r.returncode == 0, r.stderr
    assert emu.count("/models") == before + 1
    assert "openai/gpt-5-mini" in {m["id"] for m in json.loads(path.read_text())["models"]}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_llm_starts_without_network_or_cache(env: dict[str, str]) -> None:
    offline = {**env, "NANOGPT_BASE_URL": f"http://127.0.0.1:{closed_port()}/api/v1"}
    r = llm_process(offline, "models")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "NanoGPT:" not in r.stdout
    r = llm_process(offline, "nanogpt", "refresh")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("Error: the NanoGPT catalog could not be fetched:")


def test_offline_a_stale_catalog_is_better_than_none(llm_cli: Any, user_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert MINI in llm_cli("models").stdout
    cache = json.loads((user_dir / llm_plugin.CACHE_FILE).read_text())
    cache["fetched_at"] -= 10 * llm_plugin.CACHE_SECONDS
    url = f"http://127.0.0.1:{closed_port()}/api/v1"
    cache["base_url"] = url
    (user_dir / llm_plugin.CACHE_FILE).write_text(json.dumps(cache))
    monkeypatch.setenv("NANOGPT_BASE_URL", url)
    assert MINI in llm_cli("models").stdout


def test_after_a_failed_fetch_llm_starts_without_waiting_for_another(
        llm_cli: Any, emu: Emulator, user_dir: Path) -> None:
    emu.inject(Fault(status=500), path="/models")
    before = emu.count("/models")
    assert "NanoGPT:" not in llm_cli("models").stdout
    assert emu.count("/models") == before + 1  # the catalog is not retried at startup
    assert "NanoGPT:" not in llm_cli("models").stdout
    assert emu.count("/models") == before + 1  # nor at the next start, a moment later
    assert llm_cli("nanogpt", "refresh").returncode == 0  # on demand it is
    assert MINI in llm_cli("models").stdout
    assert emu.count("/models") == before + 2
    assert "failed_at" not in json.loads((user_dir / llm_plugin.CACHE_FILE).read_text())


# prompts -------------------------------------------------------------------------------------

def test_a_streamed_prompt_with_reasoning_and_usage_logged(env: dict[str, str],
                                                           emu: Emulator) -> None:
    r = llm_process(env, "-m", R1, "hi there")
    assert r.returncode == 0, r.stderr
    assert r.stdout == R1_ANSWER + "\n"
    assert "The user wrote: hi there" in r.stderr  # the reasoning, where llm shows it
    body = chat_requests(emu)[-1].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "user", "content": "hi there"}]

    logs = llm_process(env, "logs", "--json", "-n", "1")
    assert logs.returncode == 0, logs.stderr
    [row] = json.loads(logs.stdout)
    charge = emu.ledger.entries()[-1]  # what the emulator counted and charged
    assert (row["model"], row["input_tokens"], row["output_tokens"]) == (
        R1, charge.input_tokens, charge.output_tokens)
    details = json.loads(row["token_details"])
    assert details["completion_tokens_details"]["reasoning_tokens"] > 0
    assert Decimal(details["cost_usd"]) == Decimal(str(charge.amount))
    assert row["reasoning"].startswith("The user wrote: hi there")


def test_no_stream_and_hidden_reasoning(llm_cli: Any, emu: Emulator) -> None:
    r = llm_cli("-m", R1, "--no-stream", "-R", "hi there")
    assert r.returncode == 0, r.stderr
    assert r.stdout == R1_ANSWER + "\n"
    assert "The user wrote" not in r.stderr
    body = chat_requests(emu)[-1].body
    assert "stream" not in body and body["reasoning"] == {"exclude": True}


def test_a_conversation_sends_the_earlier_turns(llm_cli: Any, emu: Emulator) -> None:
    assert llm_cli("-m", MINI, "-s", "Be brief.", "first").returncode == 0
    assert llm_cli("-c", "second").returncode == 0
    assert chat_requests(emu)[-1].body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first"},
        {"role": "assistant",
         "content": "Hello from the NanoGPT emulator (openai/gpt-5-mini). You said: first"},
        {"role": "user", "content": "second"}]


def test_options_are_sent_as_nanogpt_parameters(llm_cli: Any, emu: Emulator) -> None:
    r = llm_cli("-m", MINI, "-o", "temperature", "0.5", "-o", "top_p", "0.9", "-o", "top_k", "40",
                "-o", "min_p", "0.05", "-o", "repetition_penalty", "1.1",
                "-o", "frequency_penalty", "0.2", "-o", "presence_penalty", "-0.2",
                "-o", "max_tokens", "300", "-o", "reasoning_effort", "low", "-o", "seed", "7",
                "-o", "stop", "END", "hi")
    assert r.returncode == 0, r.stderr
    body = chat_requests(emu)[-1].body
    assert {k: body[k] for k in ("temperature", "top_p", "top_k", "min_p", "repetition_penalty",
                                 "frequency_penalty", "presence_penalty", "max_tokens",
                                 "reasoning_effort", "seed", "stop")} == {
        "temperature": 0.5, "top_p": 0.9, "top_k": 40, "min_p": 0.05,
        "repetition_penalty": 1.1, "frequency_penalty": 0.2, "presence_penalty": -0.2,
        "max_tokens": 300, "reasoning_effort": "low", "seed": 7, "stop": "END"}


def test_bad_options_are_refused_with_the_sdks_message_before_sending(llm_cli: Any,
                                                                      emu: Emulator) -> None:
    before = emu.count("/chat")
    r = llm_cli("-m", MINI, "-o", "temperature", "5", "-o", "reasoning_effort", "extreme",
                "-o", "top_k", "0", "hi")
    assert r.returncode == 1
    assert "temperature: must be between 0 and 2, got 5.0" in r.stderr
    assert "reasoning_effort: must be one of 'none', 'minimal', 'low'" in r.stderr
    assert "top_k: must be -1 (disabled) or >= 1, got 0" in r.stderr
    assert "Value error" not in r.stderr
    r = llm_cli("-m", MINI, "-o", "temprature", "1", "hi")
    assert r.returncode == 1 and "temprature" in r.stderr
    assert emu.count("/chat") == before


# what the catalog says a model can do ----------------------------------------------------------

def test_a_schema_where_the_model_supports_one(llm_cli: Any, emu: Emulator) -> None:
    r = llm_cli("-m", MINI, "--schema", "name str, age int", "invent someone")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert isinstance(data["name"], str) and isinstance(data["age"], int)
    fmt = chat_requests(emu)[-1].body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"]["required"] == [
        "name", "age"]
    r = llm_cli("-m", R1, "--schema", "name str", "invent someone")
    assert r.returncode == 1 and "does not support schemas" in r.stderr


def test_a_tool_is_called_and_its_result_answered(llm_cli: Any, emu: Emulator) -> None:
    add = "def add(a: int, b: int) -> int:\n    return a + b * 10\n"
    r = llm_cli("-m", MINI, "--functions", add, "add two numbers", "--td")
    assert r.returncode == 0, r.stderr
    assert "The tool returned: 11" in r.stdout  # add(a=1, b=1), then an answer that quotes it
    first, second = chat_requests(emu)[-2:]
    assert first.body["tools"][0]["function"]["name"] == "add"
    call, result = second.body["messages"][-2:]
    assert call["tool_calls"][0]["function"] == {"name": "add",
                                                 "arguments": '{"a": 1, "b": 1}'}
    assert result == {"role": "tool", "tool_call_id": call["tool_calls"][0]["id"],
                      "content": "11"}
    r = llm_cli("-m", R1, "-T", "llm_version", "which version?")
    assert r.returncode == 1 and "does not support tools" in r.stderr


def test_an_image_goes_as_a_data_url(llm_cli: Any, emu: Emulator, tmp_path: Path) -> None:
    image = tmp_path / "dot.png"
    image.write_bytes(PNG)
    r = llm_cli("-m", MINI, "-a", str(image), "what is this?")
    assert r.returncode == 0, r.stderr
    [message] = chat_requests(emu)[-1].body["messages"]
    assert message["content"][0] == {"type": "text", "text": "what is this?"}
    url = message["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,iVBORw0KGgo")
    r = llm_cli("-m", R1, "-a", str(image), "what is this?")
    assert r.returncode == 1 and "does not support attachments" in r.stderr


# keys and errors ------------------------------------------------------------------------------

def test_the_key_from_llm_keys_set(llm_cli: Any, emu: Emulator,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NANOGPT_API_KEY")
    r = llm_cli("-m", MINI, "hi")
    assert r.returncode == 1
    assert ("No key found - add one using 'llm keys set nanogpt' or set the NANOGPT_API_KEY"
            in r.stderr)
    assert llm_cli("keys", "set", "nanogpt", "--value", "sk-nano-from-keys").returncode == 0
    r = llm_cli("-m", MINI, "hi")
    assert r.returncode == 0, r.stderr
    assert chat_requests(emu)[-1].headers["authorization"] == "Bearer sk-nano-from-keys"


def test_an_api_error_is_one_line_in_llm(env: dict[str, str]) -> None:
    r = llm_process({**env, "NANOGPT_API_KEY": "sk-nano-invalid"}, "-m", MINI, "hi")
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "Error: 401 [invalid_api_key] Invalid API key. (request id emu-"
        + r.stderr.split("emu-")[1].split(")")[0] + ") (set the key with: llm keys set nanogpt)"]
    assert "sk-nano-invalid" not in r.stderr


@pytest.mark.parametrize(("fault", "expected"), [
    (Fault(status=402, message="Insufficient balance"), "Error: 402 "),
    (Fault(status=404, code="model_not_found", message="Model 'x' not found"),
     "(the catalog may have changed: llm nanogpt refresh)"),
])
def test_typed_errors_become_one_line(llm_cli: Any, emu: Emulator, fault: Fault,
                                      expected: str) -> None:
    emu.inject(fault, path="/chat")
    r = llm_cli("-m", MINI, "--no-stream", "hi")
    assert r.returncode == 1
    assert len(r.stderr.splitlines()) == 1 and expected in r.stderr


# the async models ------------------------------------------------------------------------------

def test_the_async_model_through_llms_python_api(env: dict[str, str]) -> None:
    script = textwrap.dedent(f"""
        import asyncio, json, llm

        async def main():
            model = llm.get_async_model({R1!r})
            streamed = [chunk async for chunk in model.prompt("hi there")]
            whole = model.prompt("hi there", stream=False, hide_reasoning=True)
            text = await whole.text()
            usage = await whole.usage()
            mini = llm.get_async_model({MINI!r})
            parsed = await mini.prompt("someone", schema=llm.schema_dsl("name str")).text()
            print(json.dumps([str(model), "".join(streamed), text, usage.input,
                              usage.output, sorted(usage.details), json.loads(parsed)]))

        asyncio.run(main())
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    name, streamed, text, tokens_in, tokens_out, details, parsed = json.loads(r.stdout)
    assert (name, streamed, text) == (f"NanoGPT: {R1}", R1_ANSWER, R1_ANSWER)
    assert tokens_in > 0 and tokens_out > 0 and "cost_usd" in details
    assert isinstance(parsed["name"], str)


def test_the_options_are_the_sdks_table_entries_for_the_names_offered() -> None:
    """One table defines the chat parameters: the plugin's options take their types from it."""
    from typing import get_type_hints

    from nanogpt._contract import parameter_hints

    table = parameter_hints()
    fields = llm_plugin.NanoGPTOptions.model_fields
    offered = set(llm_plugin.OPTION_HELP)
    assert offered <= set(table)
    assert offered <= set(fields)
    hints = get_type_hints(llm_plugin.NanoGPTOptions)
    assert {name: hints[name] for name in offered} == {
        name: table[name] | None for name in offered}
    assert {name: fields[name].description for name in offered} == llm_plugin.OPTION_HELP
