"""``ChatNanoGPT`` attacked as its users would (issue 13's adversary): copies and pickles of a
model that has been used, and a base URL carrying a password, over loopback."""

from __future__ import annotations

import asyncio
import copy
import json
import pickle

import pytest

pytest.importorskip("langchain_core", reason="the compat extra is not installed: "
                    "pip install '.[compat]'")

from langchain_core.load import dumpd, dumps
from langchain_core.messages import AIMessageChunk

from nanogpt import InvalidParameterError, NanoGPT
from nanogpt.emulator import Emulator
from nanogpt.langchain import ChatNanoGPT
from rawserver import SSE_END, STREAM_HEAD, RawConn, RawServer

MODEL = "openai/gpt-5-mini"
KEY = "sk-nano-adversary-key"
PASSWORD = "hunter2-not-for-traces"


@pytest.mark.parametrize("duplicate", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))],
                         ids=["deepcopy", "pickle"])
def test_a_used_model_can_be_deep_copied_and_pickled(emu: Emulator, duplicate: object) -> None:
    """A model holds its clients privately once used: a deep copy or a pickle must not try to
    copy their sockets and locks (TypeError before), but start from the settings again."""
    llm = ChatNanoGPT(model=MODEL, api_key=KEY, base_url=emu.base_url, max_retries=0)
    llm.invoke("hi")
    twin = duplicate(llm)  # type: ignore[operator]
    assert twin.invoke("hi").content == llm.invoke("hi").content
    assert emu.count("/chat/completions") == 3


def test_a_base_url_with_a_password_is_refused_when_the_model_is_made(
        emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK refuses it at the first call, but by then LangChain has put the URL in the
    run's trace parameters (and repr and dumps show it): refuse it at once, unechoed."""
    url = emu.base_url.replace("http://", f"http://me:{PASSWORD}@")
    with pytest.raises(InvalidParameterError) as caught:
        ChatNanoGPT(model=MODEL, api_key=KEY, base_url=url)
    assert PASSWORD not in str(caught.value)
    monkeypatch.setenv("NANOGPT_BASE_URL", url)
    with pytest.raises(InvalidParameterError) as caught:
        ChatNanoGPT(model=MODEL, api_key=KEY)
    assert PASSWORD not in str(caught.value)
    assert emu.count("/chat/completions") == 0


def test_every_way_of_setting_a_field_runs_the_checks_of_init(emu: Emulator) -> None:
    """``model_copy(update=...)`` and assignment skip pydantic's validation and ``__init__``:
    a base URL with a password (or a bad sampling value) got in that way, to be traced."""
    url = emu.base_url.replace("http://", f"http://me:{PASSWORD}@")
    llm = ChatNanoGPT(model=MODEL, api_key=KEY, base_url=emu.base_url, max_retries=0)
    for field, value in (("base_url", url), ("temperature", 5)):
        with pytest.raises(InvalidParameterError) as caught:
            llm.model_copy(update={field: value})
        assert PASSWORD not in str(caught.value)
        with pytest.raises(InvalidParameterError) as caught:
            setattr(llm, field, value)
        assert PASSWORD not in str(caught.value)
    assert llm.base_url == emu.base_url and llm.temperature is None
    tuned = llm.model_copy(update={"temperature": 0.5, "base_url": emu.base_url})
    tuned.top_k = 40
    assert tuned.invoke("hi").content
    request = emu.requests[-1].body
    assert request["temperature"] == 0.5 and request["top_k"] == 40
    assert emu.count("/chat/completions") == 1


def test_a_plain_base_url_is_kept_as_given(emu: Emulator,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    llm = ChatNanoGPT(model=MODEL, api_key=KEY, base_url=emu.base_url)
    assert llm.base_url == emu.base_url
    assert dumpd(llm)["kwargs"]["base_url"] == emu.base_url and KEY not in dumps(llm)
    monkeypatch.setenv("NANOGPT_BASE_URL", "")  # set empty: the default, as for the SDK
    assert ChatNanoGPT(model=MODEL, api_key=KEY).base_url == ""


def _tool_frame(calls: list[dict[str, object]]) -> bytes:
    frame = json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 1,
                        "model": MODEL,
                        "choices": [{"index": 0, "delta": {"tool_calls": calls}}]})
    data = f"data: {frame}\n\n".encode()
    return b"%x\r\n%s\r\n" % (len(data), data)


# two tool calls streamed by a server that leaves out each call's "index" (it is optional in
# the wild): every delta lists both calls, in the same order, so their place is the index
NO_INDEX_FRAMES = [
    _tool_frame([{"id": "call_a", "type": "function",
                  "function": {"name": "get_time", "arguments": ""}},
                 {"id": "call_b", "type": "function",
                  "function": {"name": "get_weather", "arguments": ""}}]),
    _tool_frame([{"function": {"arguments": '{"city": '}}, {"function": {"arguments": '{"ci'}}]),
    _tool_frame([{"function": {"arguments": '"Oslo"}'}}, {"function": {"arguments": 'ty": 1}'}}]),
]


def _no_index_stream(conn: RawConn) -> None:
    while conn.read_request() is not None:
        conn.send(STREAM_HEAD + b"".join(NO_INDEX_FRAMES) + SSE_END)


def test_streamed_tool_calls_without_an_index_assemble_as_the_sdk_assembles_them() -> None:
    """The SDK takes a tool-call delta without ``index`` as the call at its place in the
    list; LangChain merges chunks by ``index``, so ChatNanoGPT must give it that place too
    (before: ``index=None``, and LangChain kept six broken fragments)."""
    with RawServer(_no_index_stream) as srv:
        llm = ChatNanoGPT(model=MODEL, api_key=KEY, base_url=srv.base_url, max_retries=0)
        chunks = list(llm.stream("hi"))
        client = NanoGPT(api_key=KEY, base_url=srv.base_url, max_retries=0)
        with client, client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "hi"}],
                stream=True) as stream:
            sdk = stream.get_final_completion().choices[0].message.tool_calls or []
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert isinstance(total, AIMessageChunk)
    assert total.invalid_tool_calls == []
    assert [(c["id"], c["name"], c["args"]) for c in total.tool_calls] == [
        (c.id, c.function.name, json.loads(c.function.arguments)) for c in sdk
        if c.function is not None] == [("call_a", "get_time", {"city": "Oslo"}),
                                       ("call_b", "get_weather", {"city": 1})]


def test_the_stream_keyword_of_langchain_picks_the_kind_of_request(emu: Emulator) -> None:
    """LangChain's ``invoke(..., stream=True)`` (and ``stream=False`` on a ``streaming``
    model) chooses between streaming and a whole answer; it reached ``create()`` as a second
    ``stream`` (TypeError) instead."""
    llm = ChatNanoGPT(model=MODEL, api_key=KEY, base_url=emu.base_url, max_retries=0)
    streaming = llm.model_copy(update={"streaming": True})
    whole = llm.invoke("hi").content
    assert llm.invoke("hi", stream=True).content == whole
    assert streaming.invoke("hi", stream=False).content == whole

    async def both() -> list[object]:
        answers = [(await streaming.ainvoke("hi", stream=False)).content,
                   (await llm.ainvoke("hi", stream=True)).content]
        await llm.aclose()
        await streaming.aclose()
        return answers

    assert asyncio.run(both()) == [whole, whole]
    sent = [bool(r.body.get("stream")) for r in emu.requests
            if r.path.endswith("/chat/completions")]
    assert sent == [False, True, False, False, True]
