"""``langchain-openai``'s ``ChatOpenAI`` against the emulator over real sockets.

Installed with the ``compat`` extra; skipped (with the reason) when it is missing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from nanogpt.emulator import Emulator

REASON = "the compat extra is not installed: pip install '.[compat]'"
lc_openai = pytest.importorskip("langchain_openai", reason=REASON)
pydantic = pytest.importorskip("pydantic", reason=REASON)

MODEL = "openai/gpt-5-mini"
EXPECTED = "Hello from the NanoGPT emulator (openai/gpt-5-mini). You said: hi there"


class Weather(pydantic.BaseModel):  # type: ignore[misc, name-defined]
    """Weather in a city."""

    city: str
    days: int = pydantic.Field(ge=1, le=7)
    unit: str = pydantic.Field(pattern="^(celsius|fahrenheit)$", default="celsius")


class Answer(pydantic.BaseModel):  # type: ignore[misc, name-defined]
    """An answer with its confidence."""

    answer: str
    confidence: float = pydantic.Field(ge=0, le=1)
    sources: list[str]


@pytest.fixture(scope="module")
def server() -> Iterator[Emulator]:
    """An emulator with the default, documented stream format (no quirks)."""
    with Emulator() as emu:
        yield emu


@pytest.fixture
def chat(server: Emulator) -> Any:
    return lc_openai.ChatOpenAI(model=MODEL, base_url=server.base_url, api_key="sk-nano-test",
                                max_retries=0, stream_usage=True)


def test_invoke(chat: Any) -> None:
    msg = chat.invoke("hi there")
    assert msg.content == EXPECTED
    assert msg.usage_metadata["total_tokens"] > 0


def test_stream_with_usage(chat: Any) -> None:
    chunks = list(chat.stream("hi there"))
    assert len(chunks) > 5
    total = chunks[0]
    for c in chunks[1:]:
        total += c
    assert total.content == EXPECTED
    assert total.usage_metadata and total.usage_metadata["output_tokens"] > 0


def test_astream(chat: Any) -> None:
    async def main() -> str:
        return "".join([str(c.content) async for c in chat.astream("hi there")])

    assert asyncio.run(main()) == EXPECTED


def test_bind_tools(chat: Any) -> None:
    msg = chat.bind_tools([Weather]).invoke("Weather in Paris?")
    [call] = msg.tool_calls
    assert call["name"] == "Weather"
    Weather.model_validate(call["args"])
    streamed = None
    for c in chat.bind_tools([Weather]).stream("Weather in Paris?"):
        streamed = c if streamed is None else streamed + c
    assert streamed is not None and streamed.tool_calls[0]["name"] == "Weather"
    Weather.model_validate(streamed.tool_calls[0]["args"])


@pytest.mark.parametrize("method", ["function_calling", "json_schema", "json_mode"])
def test_with_structured_output(chat: Any, method: str) -> None:
    prompt = "hi there"
    if method == "json_mode":  # JSON mode: the prompt must describe the JSON it wants
        prompt += " Reply with JSON that follows this schema: " + json.dumps(
            Answer.model_json_schema())
    result = chat.with_structured_output(Answer, method=method).invoke(prompt)
    assert isinstance(result, Answer) and result.sources
    assert 0 <= result.confidence <= 1
