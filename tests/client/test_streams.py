"""Streamed chat completions, on both clients: typed chunks, the assembled answer, reasoning and
tool-call fragments; and every way a stream can go wrong (an error frame, a cut, a reset, a
malformed or deeply nested frame, invalid UTF-8, a huge line, a missing ``[DONE]``) raising
``StreamError`` without a retry, ``get_final_completion()`` included; and the slot a stream
holds coming back when it is left early, interrupted, its client closed, or (async) when it is
dropped outside its event loop. Stream timeouts are in test_timeouts.py."""

from __future__ import annotations

import _thread
import asyncio
import contextlib
import gc
import sys
import threading
from decimal import Decimal
from typing import Any

import pytest

import nanogpt
from conftest import KEY, USER
from nanogpt import ChatCompletionChunk, NanoGPTError, StreamError
from nanogpt.emulator import Emulator, Fault

MODEL = "openai/gpt-5-mini"
EXPECTED = f"Hello from the NanoGPT emulator ({MODEL}). You said: hi there"


# the answer -------------------------------------------------------------------------------

def test_stream_yields_typed_chunks_and_assembles_the_answer(client, emu) -> None:
    with client.chat.completions.create(model=MODEL, messages=USER, stream=True,
                                        stream_options={"include_usage": True}) as s:
        chunks = list(s)
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == EXPECTED == s.text
    last = chunks[-1]
    assert last.choices == [] and last.usage.completion_tokens == 10  # delivered though empty
    assert s.usage.total_tokens == 15 and s.cost == Decimal("0.00002125")
    assert s.finish_reason == "stop" and s.completed
    assert emu.requests[-1].headers["accept"] == "text/event-stream"
    assert emu.requests[-1].body["stream"] is True
    assert last.provider == "nanogpt-emulator"


def test_stream_without_include_usage_still_reports_cost(client) -> None:
    s = client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    final = s.get_final_completion()
    assert final.text == EXPECTED and s.cost == Decimal("0.00002125") and s.usage is None


def test_stream_reasoning_deltas(client) -> None:
    s = client.chat.completions.create(model="deepseek/deepseek-r1", messages=USER, stream=True)
    reasoning = [c.choices[0].delta.reasoning for c in s if c.choices and
                 c.choices[0].delta.reasoning]
    assert len(reasoning) > 3
    assert s.reasoning == "".join(reasoning)
    assert s.reasoning.startswith("The user wrote: hi there")


def test_stream_reasoning_content_on_legacy_path(make_client, emu) -> None:
    c = make_client(base_url=emu.base_url + "legacy")
    s = c.chat.completions.create(model="deepseek/deepseek-r1", messages=USER, stream=True)
    final = s.get_final_completion()
    assert final.choices[0].message.reasoning.startswith("The user wrote")


def test_stream_tool_call_fragments_are_joined(client) -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
    s = client.chat.completions.create(model=MODEL, messages=USER, tools=tools, stream=True)
    fragments = sum(1 for c in s if c.choices and c.choices[0].delta.tool_calls)
    assert fragments > 2
    [call] = s.tool_calls
    assert call.id == "call_emu_0" and call.function.name == "lookup"
    assert call.function.arguments == '{"input": "hi there"}'
    assert s.finish_reason == "tool_calls"


def test_stream_with_crlf_line_ends(client, emu) -> None:
    emu.inject(Fault(crlf=True))
    s = client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    assert s.get_final_completion().text == EXPECTED


# a stream that goes wrong -----------------------------------------------------------------

def test_error_frame_raises_stream_error_with_the_partial_text(client, emu) -> None:
    emu.inject(Fault(error_frame_after=4, code="upstream_error", message="provider fell over"))
    s = client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    got = []
    with pytest.raises(StreamError) as info:
        for c in s:
            got.append(c.choices[0].delta.content or "")
    assert info.value.partial_text == "".join(got) == "Hello from the "
    assert info.value.code == "upstream_error" and "provider fell over" in str(info.value)
    assert emu.count() == 1


def test_stream_ending_without_done_raises(client, emu) -> None:
    emu.inject(Fault(no_done=True))
    s = client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    with pytest.raises(StreamError, match="DONE") as info:
        list(s)
    assert info.value.partial_text == EXPECTED
    assert emu.count() == 1


def test_malformed_frame_raises_stream_error(client, emu) -> None:
    emu.inject(Fault(garbage_after=3))
    with pytest.raises(StreamError, match="malformed"):
        list(client.chat.completions.create(model=MODEL, messages=USER, stream=True))


def test_stream_cut_midway_raises_and_is_never_retried(client, emu) -> None:
    emu.inject(Fault(cut_after_chunks=5))
    s = client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    with pytest.raises(StreamError) as info:
        list(s)
    assert info.value.partial_text == "Hello from the NanoGPT "
    assert emu.count() == 1
    # the client is fine afterwards
    assert client.chat.completions.create(model=MODEL, messages=USER).text == EXPECTED


def test_stream_reset_midway_raises_and_is_never_retried(client, emu) -> None:
    emu.inject(Fault(reset_after_chunks=5))
    s = client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    with pytest.raises(StreamError) as info:
        list(s)
    assert "Hello from the NanoGPT ".startswith(info.value.partial_text)
    assert emu.count() == 1
    assert client.chat.completions.create(model=MODEL, messages=USER).text == EXPECTED


def test_final_completion_after_close_or_failure_raises(client, emu) -> None:
    emu.inject(Fault(stall_after_chunks=3, stall=5))
    s = client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    next(iter(s))
    s.close()
    with pytest.raises(StreamError, match="closed before it finished"):
        s.get_final_completion()
    emu.inject(Fault(cut_after_chunks=4))
    s = client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    with pytest.raises(StreamError):
        list(s)
    with pytest.raises(StreamError):
        s.get_final_completion()


def test_deeply_nested_frame_is_a_stream_error_and_frees_the_slot(make_client, emu) -> None:
    c = make_client(max_concurrency=1)
    deep = "data: {\"x\": " + "[" * 5000 + "]" * 5000 + "}\n\n"
    emu.inject(Fault(raw_frame_after=2, raw_frame=deep))
    with pytest.raises(StreamError):
        list(c.chat.completions.create(model=MODEL, messages=USER, stream=True))
    assert c.chat.completions.create(model=MODEL, messages=USER).text


def test_invalid_utf8_in_a_stream_is_a_stream_error(client: Any, emu: Emulator) -> None:
    emu.inject(Fault(raw_frame_after=2, raw_frame=b'data: {"id": "\xff\xfe"}\n\n'))
    with pytest.raises(StreamError):
        list(client.chat.completions.create(model=MODEL, messages=USER, stream=True))


def test_huge_single_sse_line_is_bounded(client: Any, emu: Emulator) -> None:
    emu.inject(Fault(raw_frame_after=2, raw_frame=b"data: " + b"a" * (17 * 1024 * 1024)))
    with pytest.raises(StreamError, match="longer than"):
        list(client.chat.completions.create(model=MODEL, messages=USER, stream=True))


# leaving a stream early -------------------------------------------------------------------

def test_breaking_out_early_releases_the_connection(make_client, emu) -> None:
    c = make_client(max_concurrency=1)
    for _ in range(3):  # with one slot, a leaked slot would hang the next call
        s = c.chat.completions.create(model=MODEL, messages=USER, stream=True)
        for i, _chunk in enumerate(s):
            if i == 2:
                break
        s.close()
    assert c.chat.completions.create(model=MODEL, messages=USER).text == EXPECTED


def test_keyboard_interrupt_mid_stream_releases_everything(emu: Emulator) -> None:
    c = nanogpt.NanoGPT(KEY, base_url=emu.base_url, max_concurrency=1)
    emu.inject(Fault(stall_after_chunks=3, stall=10))
    s = c.chat.completions.create(model=MODEL, messages=USER, stream=True)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        for _ in s:
            pass
    timer.join()
    assert c._slots._value == 1  # type: ignore[union-attr]
    assert c.chat.completions.create(model=MODEL, messages=USER).text == EXPECTED


def test_closing_the_client_with_streams_open(kind: str, emu: Emulator,
                                              loop_thread: Any) -> None:
    from conftest import SyncProxy

    raw: Any = (nanogpt.NanoGPT(KEY, base_url=emu.base_url, max_concurrency=2)
                if kind == "sync" else
                nanogpt.AsyncNanoGPT(KEY, base_url=emu.base_url, max_concurrency=2))
    c = raw if kind == "sync" else SyncProxy(raw, loop_thread)
    emu.inject(Fault(stall_after_chunks=3, stall=0.5), times=2)
    streams = [c.chat.completions.create(model=MODEL, messages=USER, stream=True)
               for _ in range(2)]
    for s in streams:
        next(iter(s))
    slots = raw._slots if kind == "sync" else raw._state.slots
    c.close()
    for s in streams:
        # a closed client may cut its streams; it must say so (NanoGPTError), not hang
        with contextlib.suppress(NanoGPTError):
            assert "".join(ch.choices[0].delta.content or "" for ch in s if ch.choices)
    assert slots._value == 2
    assert c.chat.completions.create(model=MODEL, messages=USER).text == EXPECTED


# an async stream dropped outside its event loop: collected in another thread, or after
# asyncio.run closed the loop. Its connection and slot belong to the loop: the release is
# handed to the loop, or dropped with it, and the finalizer never raises.

@pytest.fixture
def unraisable(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What finalizers raised (Python prints it as "Exception ignored in ...")."""
    seen: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    return seen


def _described(seen: list[Any]) -> list[str]:
    return [f"{u.exc_type.__name__}: {u.exc_value}" for u in seen]


def test_an_async_stream_dropped_in_another_thread_is_released_on_its_loop(
        emu, unraisable) -> None:
    emu.inject(Fault(stall_after_chunks=1, stall=5), path="/chat")  # the body stays open

    async def main() -> str:
        async with nanogpt.AsyncNanoGPT(KEY, base_url=emu.base_url, max_concurrency=1) as c:
            box = [await c.chat.completions.create(model=MODEL, messages=USER, stream=True)]
            await asyncio.to_thread(box.clear)  # the last reference goes in a worker thread
            for _ in range(3):
                await asyncio.sleep(0)  # the loop runs what the finalizer handed it
            # the one slot is free again: this task holds none (else ConcurrencyDeadlockError)
            async with await c.chat.completions.create(model=MODEL, messages=USER,
                                                       stream=True) as s:
                return (await s.get_final_completion()).text or ""

    # debug mode: asyncio refuses loop calls from another thread instead of racing
    assert asyncio.run(main(), debug=True)
    assert _described(unraisable) == []


def test_an_async_stream_dropped_after_its_loop_closed_raises_nothing(emu, unraisable) -> None:
    emu.inject(Fault(stall_after_chunks=1, stall=5), path="/chat")
    async def open_stream() -> tuple[nanogpt.AsyncNanoGPT, nanogpt.AsyncStream]:
        c = nanogpt.AsyncNanoGPT(KEY, base_url=emu.base_url)
        return c, await c.chat.completions.create(model=MODEL, messages=USER, stream=True)

    client, stream = asyncio.run(open_stream())  # the loop is closed when this returns
    del stream
    gc.collect()
    assert _described(unraisable) == []
    del client
    gc.collect()
