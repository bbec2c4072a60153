"""The emulator's stream on the wire: NanoGPT's documented format by default, quirks on demand.

The documented stream (``streaming-protocol.mdx``) is ``data:`` frames and ``data: [DONE]``,
with usage and ``x_nanogpt_pricing`` on the final chunk. The quirks our own client survives
(keep-alive comments, ``retry:``/``id:``/``event:`` lines, CR or CRLF line ends, usage on a chunk
with no choices) are faults, per request or for the whole server.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

import nanogpt
from nanogpt.emulator import Emulator, Fault

MODEL = "openai/gpt-5-mini"
USER = [{"role": "user", "content": "hi there"}]
EXPECTED = "Hello from the NanoGPT emulator (openai/gpt-5-mini). You said: hi there"
HEADERS = {"Authorization": "Bearer sk-nano-test", "Accept": "text/event-stream"}


@pytest.fixture(scope="module")
def plain() -> Iterator[Emulator]:
    """An emulator as users get it: Emulator() with no options."""
    with Emulator() as emu:
        yield emu


@pytest.fixture(autouse=True)
def _clean(plain: Emulator) -> None:
    plain.clear_faults()
    plain.reset_stats()


def stream(emu: Emulator, headers: dict[str, str] | None = None, **body: Any) -> bytes:
    r = urllib3.request("POST", emu.base_url + "/chat/completions",
                        headers={**HEADERS, **(headers or {})},
                        json={"model": MODEL, "messages": USER, "stream": True, **body})
    assert r.status == 200
    return bytes(r.data)


def events(raw: bytes) -> list[str]:
    return [e for e in raw.decode().split("\n\n") if e]


def test_the_default_stream_is_the_documented_format(plain: Emulator) -> None:
    raw = stream(plain, stream_options={"include_usage": True})
    frames = events(raw)
    assert all(f.startswith("data: ") and "\n" not in f for f in frames), frames[:3]
    assert frames[-1] == "data: [DONE]" and raw.endswith(b"data: [DONE]\n\n")
    chunks = [json.loads(f[6:]) for f in frames[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == EXPECTED
    final = chunks[-1]  # usage and pricing on the final chunk, the one with finish_reason
    assert final["choices"][0]["finish_reason"] == "stop"
    assert final["usage"]["completion_tokens"] > 0 and final["x_nanogpt_pricing"]["cost"] > 0
    assert all("usage" not in c and "x_nanogpt_pricing" not in c for c in chunks[:-1])
    assert b"\r" not in raw


def test_without_include_usage_only_pricing_rides_on_the_final_chunk(plain: Emulator) -> None:
    chunks = [json.loads(f[6:]) for f in events(stream(plain))[:-1]]
    assert "usage" not in chunks[-1] and chunks[-1]["x_nanogpt_pricing"]["cost"] > 0


def quirks_of(raw: bytes) -> dict[str, bool]:
    text = raw.decode()
    last = json.loads(text.replace("\r\n", "\n").replace("\r", "\n")
                      .split("data: [DONE]")[0].strip().split("data: ")[-1])
    return {"keep_alive": ": keep-alive" in text, "retry_line": "retry: 3000" in text,
            "event_ids": "\nid: 1\n" in text.replace("\r\n", "\n") and "event: message" in text,
            "usage_chunk": last["choices"] == [] and "usage" in last,
            "crlf": "\r\n" in text, "cr": "\r" in text.replace("\r\n", "")}


@pytest.mark.parametrize("name", ["keep_alive", "retry_line", "event_ids", "usage_chunk"])
def test_each_quirk_is_a_fault_from_python_and_from_the_header(plain: Emulator,
                                                               name: str) -> None:
    assert not any(quirks_of(stream(plain, stream_options={"include_usage": True})).values())
    plain.inject(Fault(**{name: True}))
    seen = quirks_of(stream(plain, stream_options={"include_usage": True}))
    assert seen[name] and sum(seen.values()) == 1
    seen = quirks_of(stream(plain, {"X-Emulator-Fault": json.dumps({name: True})},
                            stream_options={"include_usage": True}))
    assert seen[name] and sum(seen.values()) == 1


@pytest.mark.parametrize(("fault", "quirk"), [({"line_end": "\r\n"}, "crlf"),
                                              ({"crlf": True}, "crlf"),
                                              ({"line_end": "\r"}, "cr")])
def test_line_ends_are_faults(plain: Emulator, fault: dict[str, Any], quirk: str) -> None:
    seen = quirks_of(stream(plain, {"X-Emulator-Fault": json.dumps(fault)},
                            stream_options={"include_usage": True}))
    assert seen[quirk] and sum(seen.values()) == 1


def test_the_server_switch_turns_on_the_quirks_seen_in_the_wild() -> None:
    with Emulator(quirks=True) as emu:
        raw = stream(emu, stream_options={"include_usage": True})
    seen = quirks_of(raw)
    assert seen == {"keep_alive": True, "retry_line": True, "event_ids": True,
                    "usage_chunk": True, "crlf": False, "cr": False}
    assert raw.startswith(b": keep-alive\n\nretry: 3000\n\n")


@pytest.mark.parametrize("quirks", [False, True])
@pytest.mark.parametrize("fault", [None, Fault(line_end="\r"), Fault(line_end="\r\n")])
def test_our_client_reads_every_format(quirks: bool, fault: Fault | None) -> None:
    with Emulator(quirks=quirks) as emu, nanogpt.NanoGPT("sk-nano-test",
                                                         base_url=emu.base_url) as c:
        if fault is not None:
            emu.inject(fault)
        s = c.chat.completions.create(model=MODEL, messages=USER, stream=True,
                                      stream_options={"include_usage": True})
        assert s.get_final_completion().text == EXPECTED
        assert s.usage is not None and s.cost is not None


# targeting faults at streams --------------------------------------------------------------

def test_a_stream_fault_hits_the_next_chat_request_of_either_kind(plain: Emulator) -> None:
    plain.inject(Fault(reset_after_chunks=3))
    r = urllib3.request("POST", plain.base_url + "/chat/completions", headers=HEADERS,
                        json={"model": MODEL, "messages": USER}, retries=False,
                        preload_content=False)
    with pytest.raises(urllib3.exceptions.HTTPError):
        r.read()  # the whole-body answer is cut half-way
    assert stream(plain).endswith(b"data: [DONE]\n\n")  # the fault is spent


def test_stream_true_keeps_a_fault_for_streams(plain: Emulator) -> None:
    plain.inject(Fault(reset_after_chunks=3), stream=True)
    r = urllib3.request("POST", plain.base_url + "/chat/completions", headers=HEADERS,
                        json={"model": MODEL, "messages": USER})
    assert r.status == 200 and r.json()["choices"][0]["message"]["content"] == EXPECTED
    assert urllib3.request("GET", plain.base_url + "/models").status == 200
    with pytest.raises(urllib3.exceptions.HTTPError):
        stream(plain)
    assert stream(plain).endswith(b"data: [DONE]\n\n")


def test_stream_false_keeps_a_fault_for_whole_body_answers(plain: Emulator) -> None:
    plain.inject(Fault(status=503), stream=False)
    assert stream(plain).endswith(b"data: [DONE]\n\n")
    r = urllib3.request("POST", plain.base_url + "/chat/completions", headers=HEADERS,
                        json={"model": MODEL, "messages": USER})
    assert r.status == 503


@pytest.mark.parametrize("command", [["nanogpt", "emulate"], ["nanogpt.emulator"]])
@pytest.mark.parametrize("quirks", [False, True])
def test_the_command_line_switch(command: list[str], quirks: bool) -> None:
    args = [sys.executable, "-m", *command, "--port", "0", *(["--quirks"] if quirks else [])]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NANOGPT_")}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=env)
    try:
        assert proc.stdout is not None
        base = re.search(r"(http://\S+/api/v1)", proc.stdout.readline())
        assert base
        r = urllib3.request("POST", base.group(1) + "/chat/completions", headers=HEADERS,
                            json={"model": MODEL, "messages": USER, "stream": True})
        assert r.data.startswith(b": keep-alive\n\nretry: 3000\n\n") is quirks
        assert r.data.startswith(b"data: {") is not quirks
    finally:
        proc.terminate()
        proc.wait(10)
