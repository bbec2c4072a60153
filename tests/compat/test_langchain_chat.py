"""``nanogpt.langchain.ChatNanoGPT`` against the emulator (the session's, with stream quirks),
over loopback: what LangChain's standard suite (test_langchain_standard.py) does not pin down.

Installed with the ``compat`` extra; skipped (with the reason) when it is missing.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import types
import typing
from decimal import Decimal
from typing import Any

import pytest

REASON = "the compat extra is not installed: pip install '.[compat]'"
pytest.importorskip("langchain_core", reason=REASON)
pydantic = pytest.importorskip("pydantic", reason=REASON)

from langchain_core.load import dumps, loads  # noqa: E402
from langchain_core.messages import (  # noqa: E402
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    ToolMessage,
)
from typing_extensions import TypedDict  # noqa: E402

from nanogpt import (  # noqa: E402
    AuthenticationError,
    InvalidParameterError,
    OutputValidationError,
    RateLimitError,
    StreamError,
    StreamTimeoutError,
    Timeout,
    _contract,
)
from nanogpt.emulator import INVALID_API_KEY, Emulator, Fault  # noqa: E402
from nanogpt.langchain import PER_CALL, ChatNanoGPT, sampling_parameters  # noqa: E402

MODEL = "openai/gpt-5-mini"
KEY = "sk-nano-do-not-show-me"


class Weather(pydantic.BaseModel):  # type: ignore[misc, name-defined]
    """Weather in a city."""

    city: str
    days: int = pydantic.Field(ge=1, le=7)


class Joke(TypedDict):
    """A joke."""

    setup: str
    punchline: str


JOKE_SCHEMA = {"title": "Joke", "type": "object",
               "properties": {"setup": {"type": "string"}, "punchline": {"type": "string"}},
               "required": ["setup", "punchline"], "additionalProperties": False}


def get_time(city: str) -> str:
    """The local time in a city."""
    return "12:00"


@pytest.fixture
def llm(emu: Emulator) -> ChatNanoGPT:
    return ChatNanoGPT(model=MODEL, api_key=KEY, base_url=emu.base_url, max_retries=0)


def _sum(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    return total


def _last_body(emu: Emulator) -> dict[str, Any]:
    [chat] = [r for r in emu.requests if r.path.endswith("/chat/completions")][-1:]
    return typing.cast(dict[str, Any], chat.body)


# answers ---------------------------------------------------------------------------------


def test_invoke_gives_text_usage_and_metadata(llm: ChatNanoGPT, emu: Emulator) -> None:
    msg = llm.invoke("hi there")
    assert msg.content == f"Hello from the NanoGPT emulator ({MODEL}). You said: hi there"
    usage = msg.usage_metadata
    assert usage is not None and usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage.get("input_token_details") == {"cache_read": 0}
    assert usage.get("output_token_details") == {"reasoning": 0}
    meta = msg.response_metadata
    assert meta["model_name"] == MODEL and meta["finish_reason"] == "stop"
    assert meta["model_provider"] == "nanogpt"
    assert isinstance(meta["cost"], Decimal) and meta["cost"] > 0
    assert meta["request_id"] == emu.requests[-1].headers.get("x-request-id") or \
        meta["request_id"].startswith("emu-")


def test_stream_puts_usage_and_metadata_on_the_last_chunk_only(llm: ChatNanoGPT) -> None:
    chunks = list(llm.stream("hi there"))
    assert len(chunks) > 5
    assert all(c.usage_metadata is None for c in chunks[:-1])
    assert all("model_name" not in c.response_metadata for c in chunks[:-1])
    last = chunks[-1]
    assert last.chunk_position == "last" and last.content == ""
    total = _sum(chunks)
    assert total.content == llm.invoke("hi there").content
    assert total.usage_metadata is not None and total.usage_metadata["output_tokens"] > 0
    assert total.response_metadata["model_name"] == MODEL
    assert total.response_metadata["finish_reason"] == "stop"
    assert isinstance(total.response_metadata["cost"], Decimal)


def test_streaming_field_makes_invoke_stream(llm: ChatNanoGPT, emu: Emulator) -> None:
    streaming = llm.model_copy(update={"streaming": True})
    msg = streaming.invoke("hi there")
    body = _last_body(emu)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert msg.content == llm.invoke("hi there").content
    assert msg.usage_metadata is not None


def test_reasoning_goes_to_additional_kwargs(emu: Emulator) -> None:
    llm = ChatNanoGPT(model="deepseek/deepseek-r1", api_key=KEY, base_url=emu.base_url)
    msg = llm.invoke("why is the sky blue")
    assert "why is the sky blue" in msg.additional_kwargs["reasoning_content"]
    assert msg.usage_metadata is not None
    assert msg.usage_metadata.get("output_token_details", {}).get("reasoning", 0) > 0
    streamed = _sum(list(llm.stream("why is the sky blue")))
    assert streamed.additional_kwargs["reasoning_content"] == \
        msg.additional_kwargs["reasoning_content"]
    assert streamed.content == msg.content


def test_n_gives_one_generation_per_choice(llm: ChatNanoGPT) -> None:
    result = llm.model_copy(update={"n": 2}).generate([[HumanMessage("hi")]])
    texts = [g.text for g in result.generations[0]]
    assert len(texts) == 2 and texts[0] != texts[1]


# async: on AsyncNanoGPT, never the blocking client ---------------------------------------


def test_async_calls_use_the_async_client(llm: ChatNanoGPT) -> None:
    async def main() -> tuple[Any, ...]:
        try:
            one = await llm.ainvoke("hi there")
            chunks = [c async for c in llm.astream("hi there")]
            many = await llm.abatch(["a", "b", "c"])
            tools = [c async for c in llm.bind_tools([Weather]).astream("Weather in Oslo?")]
            return one, chunks, many, tools
        finally:
            await llm.aclose()

    one, chunks, many, tools = asyncio.run(main())
    assert one.content.endswith("You said: hi there")
    assert _sum(chunks).content == one.content
    assert _sum(chunks).usage_metadata is not None
    assert [m.content.rsplit(": ", 1)[1] for m in many] == ["a", "b", "c"]
    [call] = _sum(tools).tool_calls
    Weather.model_validate(call["args"])
    assert set(llm._clients) == {"async"}  # nothing went through the blocking client


# tools -----------------------------------------------------------------------------------


def test_tool_calls_whole_and_streamed(llm: ChatNanoGPT) -> None:
    bound = llm.bind_tools([Weather, get_time])
    msg = bound.invoke("Weather in Oslo, 3 days, and get_time there")
    assert [c["name"] for c in msg.tool_calls] == ["Weather", "get_time"]
    assert msg.tool_calls[0]["args"] == {"city": "Weather in Oslo, 3 days, and get_time there",
                                         "days": 3}
    assert msg.response_metadata["finish_reason"] == "tool_calls"
    chunks = list(bound.stream("Weather in Oslo, 3 days, and get_time there"))
    pieces = [tc for c in chunks for tc in c.tool_call_chunks]
    assert len(pieces) > 4  # arguments arrive in fragments...
    assert {p["index"] for p in pieces} == {0, 1}  # ...for two calls, told apart by index
    total = _sum(chunks)
    assert [(c["name"], c["args"], c["id"]) for c in total.tool_calls] == \
        [(c["name"], c["args"], c["id"]) for c in msg.tool_calls]


@pytest.mark.parametrize(("given", "sent"), [
    ("any", "required"), (True, "required"), ("required", "required"), ("auto", "auto"),
    ("none", "none"),
    ("get_time", {"type": "function", "function": {"name": "get_time"}}),
])
def test_tool_choice(llm: ChatNanoGPT, emu: Emulator, given: Any, sent: Any) -> None:
    msg = llm.bind_tools([Weather, get_time], tool_choice=given).invoke("hello")
    assert _last_body(emu)["tool_choice"] == sent
    names = [c["name"] for c in msg.tool_calls]
    assert names == {"get_time": ["get_time"], "none": []}.get(given, ["Weather"])


def test_a_tool_choice_naming_no_bound_tool_is_refused(llm: ChatNanoGPT) -> None:
    with pytest.raises(InvalidParameterError, match="tool_choice"):
        llm.bind_tools([Weather], tool_choice="get_time")


def test_tool_loop_answers_with_the_result(llm: ChatNanoGPT) -> None:
    bound = llm.bind_tools([get_time])
    question = HumanMessage("What time is it in Oslo?")
    ask = bound.invoke([question])
    [call] = ask.tool_calls
    answer = bound.invoke([question, ask, ToolMessage("12:00", tool_call_id=call["id"])])
    assert answer.tool_calls == [] and "12:00" in answer.content


# structured output -----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
@pytest.mark.parametrize("schema", [Weather, Joke, JOKE_SCHEMA], ids=["pydantic", "typeddict",
                                                                     "json"])
def test_with_structured_output(llm: ChatNanoGPT, emu: Emulator, method: str,
                                schema: Any) -> None:
    chain = llm.with_structured_output(schema, method=method)
    result = chain.invoke("Paris for 2 days")
    if schema is Weather:
        assert isinstance(result, Weather) and result.days == 2
    else:
        assert isinstance(result, dict) and set(result) == {"setup", "punchline"}
    body = _last_body(emu)
    if method == "json_schema":  # the same strict schema parse() sends
        assert body["response_format"] == _contract.output_format(schema).response_format
    else:
        assert body["tool_choice"]["function"]["name"] in ("Weather", "Joke")
        assert body["parallel_tool_calls"] is False
    assert list(chain.stream("Paris for 2 days")) == [result]


def test_json_mode_reads_the_schema_the_prompt_spells_out(llm: ChatNanoGPT,
                                                          emu: Emulator) -> None:
    chain = llm.with_structured_output(Weather, method="json_mode")
    prompt = f"Paris, 4 days. Answer in JSON following {Weather.model_json_schema()}"
    result = chain.invoke(prompt.replace("'", '"'))
    assert isinstance(result, Weather) and result.days == 4
    assert _last_body(emu)["response_format"] == {"type": "json_object"}
    free = llm.with_structured_output(None, method="json_mode").invoke(
        "Reply with JSON with the keys 'a' and 'b'")
    assert set(free) == {"a", "b"}


def test_include_raw_keeps_the_message_and_the_parsing_error(llm: ChatNanoGPT) -> None:
    ok = llm.with_structured_output(Weather, include_raw=True).invoke("Rome, 1 day")
    assert isinstance(ok["raw"], AIMessage) and isinstance(ok["parsed"], Weather)
    assert ok["parsing_error"] is None
    # JSON mode with no schema in the prompt: the answer is JSON but not a Weather
    bad = llm.with_structured_output(Weather, method="json_mode", include_raw=True).invoke(
        "no schema here")
    assert bad["parsed"] is None and isinstance(bad["parsing_error"], OutputValidationError)
    with pytest.raises(OutputValidationError):
        llm.with_structured_output(Weather, method="json_mode").invoke("no schema here")


def test_strict_overrides_the_sdk_choice(llm: ChatNanoGPT, emu: Emulator) -> None:
    llm.with_structured_output(Weather, strict=False).invoke("Rome, 1 day")
    assert _last_body(emu)["response_format"]["json_schema"]["strict"] is False


# parameters ------------------------------------------------------------------------------


def _members(hint: Any) -> set[Any]:
    """The types a hint allows: the members of a union, else the hint itself; a TypedDict
    reads as ``dict[str, Any]`` (pydantic takes no ``typing.TypedDict`` before 3.12)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return set().union(*map(_members, typing.get_args(hint)))
    return {dict[str, Any] if typing.is_typeddict(hint) else hint}


def test_the_fields_are_the_sdk_parameter_table() -> None:
    """Every parameter ``create()`` takes is a field (but the per-call ones), typed as the SDK
    types it: the list cannot drift from the table."""
    hints = _contract.parameter_hints()
    assert sampling_parameters() == [n for n in _contract.parameter_names() if n not in PER_CALL]
    fields = ChatNanoGPT.model_fields
    for name in sampling_parameters():
        assert name in fields, name
        assert fields[name].default is None
        assert _members(fields[name].annotation) == _members(hints[name]) | {type(None)}, name
    assert {"top_k", "min_p", "repetition_penalty", "reasoning_effort", "seed"} <= set(fields)
    assert not PER_CALL & set(fields)


def test_fields_model_kwargs_and_call_keywords_reach_the_body(llm: ChatNanoGPT,
                                                              emu: Emulator) -> None:
    tuned = ChatNanoGPT(model=MODEL, api_key=KEY, base_url=emu.base_url, temperature=0.3,
                        top_k=40, min_p=0.05, repetition_penalty=1.1, reasoning_effort="low",
                        seed=7, stop=[], max_tokens=50,
                        model_kwargs={"top_p": 0.9, "x_custom": {"a": 1}})
    tuned.invoke("hi", top_k=5, web_search={"enabled": True})
    body = _last_body(emu)
    expected = {"temperature": 0.3, "top_k": 5, "min_p": 0.05, "repetition_penalty": 1.1,
                "reasoning_effort": "low", "seed": 7, "max_tokens": 50, "top_p": 0.9,
                "x_custom": {"a": 1}, "webSearch": {"enabled": True}}
    assert {k: body.get(k) for k in expected} == expected
    assert "stop" not in body  # an empty stop list is no stop
    tuned.invoke("hi", stop=["END"])
    assert _last_body(emu)["stop"] == ["END"]


def test_model_override_per_call(llm: ChatNanoGPT, emu: Emulator) -> None:
    msg = llm.invoke("hi", model="openai/gpt-5-nano")
    assert msg.response_metadata["model_name"] == "openai/gpt-5-nano"
    assert llm._get_ls_params(model="openai/gpt-5-nano")["ls_model_name"] == "openai/gpt-5-nano"


@pytest.mark.parametrize(("field", "value"), [("top_k", 0), ("temperature", 3.0),
                                              ("min_p", 2), ("reasoning_effort", "huge")])
def test_a_wrong_value_is_refused_when_the_model_is_made(emu: Emulator, field: str,
                                                         value: Any) -> None:
    with pytest.raises(InvalidParameterError) as e:
        ChatNanoGPT(model=MODEL, api_key=KEY, base_url=emu.base_url, **{field: value})
    assert e.value.param == field
    assert emu.count("/chat") == 0


def test_ls_params_and_identity(llm: ChatNanoGPT) -> None:
    tuned = llm.model_copy(update={"temperature": 0.5, "max_tokens": 9, "stop": ["x"]})
    assert tuned._get_ls_params() == {
        "ls_provider": "nanogpt", "ls_model_name": MODEL, "ls_model_type": "chat",
        "ls_temperature": 0.5, "ls_max_tokens": 9, "ls_stop": ["x"]}
    assert tuned._llm_type == "nanogpt-chat"
    assert tuned._identifying_params["model"] == MODEL


# errors and the key ----------------------------------------------------------------------


def test_errors_are_the_sdk_typed_errors_and_never_show_the_key(emu: Emulator) -> None:
    bad = ChatNanoGPT(model=MODEL, api_key=INVALID_API_KEY, base_url=emu.base_url)
    with pytest.raises(AuthenticationError) as sync_error:
        bad.invoke("hi")
    with pytest.raises(AuthenticationError):
        list(bad.stream("hi"))

    async def main() -> None:
        try:
            await bad.ainvoke("hi")
        finally:
            await bad.aclose()

    with pytest.raises(AuthenticationError) as async_error:
        asyncio.run(main())
    for e in (sync_error.value, async_error.value):
        assert INVALID_API_KEY not in str(e) and INVALID_API_KEY not in repr(e)


@pytest.mark.filterwarnings("ignore:The function `loads` is in beta")
def test_the_key_is_in_no_repr_dump_or_trace_parameter(llm: ChatNanoGPT) -> None:
    llm.invoke("hi")  # the clients exist now
    shown = [repr(llm), str(llm), dumps(llm), str(llm.model_dump()), str(llm._identifying_params),
             str(llm._get_ls_params()), repr(llm.bind_tools([Weather]))]
    assert all(KEY not in s for s in shown)
    loaded = loads(dumps(llm), allowed_objects=[ChatNanoGPT], valid_namespaces=["nanogpt"],
                   secrets_map={"NANOGPT_API_KEY": "sk-from-map"})
    assert loaded.api_key.get_secret_value() == "sk-from-map"
    assert loaded.model == MODEL


def test_key_and_base_url_from_the_environment(emu: Emulator,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NANOGPT_API_KEY", INVALID_API_KEY)
    monkeypatch.setenv("NANOGPT_BASE_URL", emu.base_url)
    llm = ChatNanoGPT(model=MODEL)
    assert llm.base_url == emu.base_url
    with pytest.raises(AuthenticationError):  # the environment's key was sent
        llm.invoke("hi")


def test_a_timeout_object_reaches_the_client(emu: Emulator) -> None:
    """``timeout`` takes seconds or a ``nanogpt.Timeout``: a stream stalled past ``idle``
    ends in the SDK's StreamTimeoutError, once, not re-sent."""
    llm = ChatNanoGPT(model=MODEL, api_key=KEY, base_url=emu.base_url, max_retries=2,
                      timeout=Timeout(idle=0.2))
    emu.inject(Fault(stall_after_chunks=2, stall=5), stream=True)
    with pytest.raises(StreamTimeoutError):
        list(llm.stream("hi there"))
    assert emu.count("/chat") == 1


def test_a_retryable_status_is_retried_by_the_sdk(emu: Emulator) -> None:
    llm = ChatNanoGPT(model=MODEL, api_key=KEY, base_url=emu.base_url, max_retries=1)
    emu.inject(Fault(status=429, retry_after=0))
    assert llm.invoke("hi").content
    assert emu.count("/chat") == 2


def test_a_cut_stream_is_a_stream_error_and_never_sent_again(llm: ChatNanoGPT,
                                                             emu: Emulator) -> None:
    emu.inject(Fault(reset_after_chunks=3), stream=True)
    retrying = llm.model_copy(update={"max_retries": 3})
    with pytest.raises(StreamError):
        list(retrying.stream("hi there, a long enough answer"))
    assert emu.count("/chat") == 1


def test_a_copy_with_other_settings_gets_its_own_client(llm: ChatNanoGPT,
                                                        emu: Emulator) -> None:
    """``model_copy(update=...)`` (LangChain's configurable fields use it) must not keep
    using the client made from the original's settings, nor replace the original's."""
    assert llm.invoke("hi").content  # llm's client exists, made with max_retries=0
    patient = llm.model_copy(update={"max_retries": 1})
    emu.inject(Fault(status=429, retry_after=0))
    assert patient.invoke("hi").content  # retried once, by its own client
    assert emu.count("/chat") == 3
    emu.inject(Fault(status=429, retry_after=0))
    with pytest.raises(RateLimitError):  # and llm still has its own: no retry
        llm.invoke("hi")


def test_importing_nanogpt_loads_no_langchain() -> None:
    code = ("import sys, nanogpt, nanogpt.types, nanogpt._contract; "
            "print(sorted(m for m in sys.modules if m == 'nanogpt.langchain' "
            "or m.split('.')[0] in ('langchain_core', 'pydantic')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_models_with_the_same_settings_share_connections(emu: Emulator) -> None:
    """A model made per request (common in LangChain code) reuses the pooled connection of
    the models before it instead of opening its own and leaving it to the garbage collector."""
    def fresh() -> ChatNanoGPT:
        return ChatNanoGPT(model=MODEL, api_key="sk-nano-shared", base_url=emu.base_url)

    for _ in range(3):
        fresh().invoke("hi")
    peers = {r.peer for r in emu.requests if r.path.endswith("/chat/completions")}
    assert len(peers) == 1
    other = ChatNanoGPT(model=MODEL, api_key="sk-nano-other", base_url=emu.base_url)
    assert other._client("sync") is not fresh()._client("sync")  # another key, another client
