"""LangChain's own standard chat-model suites (``langchain-tests``) run on ``ChatNanoGPT``
against the emulator, over loopback.

The capability flags say what NanoGPT really offers for the model under test
(``openai/gpt-5-mini``: tools, tool choice, structured output, JSON mode, images and PDFs,
Anthropic-style content blocks (LangChain's conversion maps them), usage with cached-token and
reasoning details). Every test langchain-tests would reach the internet for (it downloads a
picture and a PDF) gets local bytes instead (``offline_media``). What is skipped or expected
to fail is said, with the reason, where it is set below (four skips, one xfail).

Installed with the ``compat`` extra; skipped (with the reason) when it is missing.
"""

from __future__ import annotations

import base64
import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

REASON = "the compat extra is not installed: pip install '.[compat]'"
pytest.importorskip("langchain_tests", reason=REASON)

import pytest_asyncio  # noqa: E402
from langchain_core.messages import AIMessage  # noqa: E402
from langchain_tests.integration_tests import ChatModelIntegrationTests  # noqa: E402
from langchain_tests.integration_tests import chat_models as integration_module  # noqa: E402
from langchain_tests.unit_tests import ChatModelUnitTests  # noqa: E402

from nanogpt.emulator import Emulator  # noqa: E402
from nanogpt.langchain import ChatNanoGPT  # noqa: E402

MODEL = "openai/gpt-5-mini"  # vision, tools, parallel tools, structured output, PDFs
REASONING_MODEL = "deepseek/deepseek-r1"

# a 1x1 PNG and the smallest PDF: what the media tests send instead of their downloads
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGA"
                       "hKmMIQAAAABJRU5ErkJggg==")
PDF = (b"%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]"
       b"/Count 1>>endobj 3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 9 9]>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """One emulator for the module's tests, in the documented stream format (the standard
    tests are about LangChain's contract; the stream quirks have their own tests)."""
    with Emulator() as emu:
        yield emu


@pytest.fixture(autouse=True)
def offline_media(monkeypatch: pytest.MonkeyPatch) -> None:
    """langchain-tests fetches a picture and a PDF from the internet with ``httpx.get``; this
    suite never leaves loopback, so those fetches get local bytes (any other URL fails)."""
    class Fetched:
        def __init__(self, content: bytes) -> None:
            self.content = content

    def fetch(url: str, *args: Any, **kwargs: Any) -> Fetched:
        if url.endswith(".pdf"):
            return Fetched(PDF)
        if url.lower().endswith((".jpg", ".jpeg", ".png")):
            return Fetched(PNG)
        raise AssertionError(f"a standard test wanted {url}: this suite stays on loopback")

    monkeypatch.setattr(integration_module.httpx, "get", fetch)


@pytest.fixture
def benchmark(benchmark: Any) -> Any:
    """pytest-benchmark's fixture for test_init_time, disabled (it runs the code once, as
    ``--benchmark-disable`` does): the test asserts nothing about the time, and a thousand-odd
    rounds (and a table at the end of every run) would only slow this suite down."""
    benchmark.disabled = True
    return benchmark


class TestChatNanoGPTUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatNanoGPT]:
        return ChatNanoGPT

    @property
    def chat_model_params(self) -> dict[str, Any]:
        # nothing is sent by the unit tests: the address is never connected to
        return {"model": MODEL, "base_url": "http://127.0.0.1:9/api/v1"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        env = {"NANOGPT_API_KEY": "sk-nano-from-env",
               "NANOGPT_BASE_URL": "http://127.0.0.1:9/api/v1"}
        return env, {"model": MODEL}, {"api_key": "sk-nano-from-env",
                                       "base_url": "http://127.0.0.1:9/api/v1"}

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def supports_pdf_inputs(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @pytest.mark.xfail(reason="langchain-core's load(allowed_objects='all') admits only the "
                              "classes of its own mapping (the partner packages it ships), "
                              "never a third-party class: ChatNanoGPT loads with "
                              "allowed_objects=[ChatNanoGPT] (test_langchain_chat.py checks "
                              "that); the dump itself matches the snapshot, key-free",
                       raises=ValueError)
    def test_serdes(self, model: Any, snapshot: Any) -> None:
        super().test_serdes(model, snapshot)


class TestChatNanoGPTIntegration(ChatModelIntegrationTests):
    @pytest.fixture(autouse=True)
    def _emulator(self, emulator: Emulator) -> None:
        type(self).base_url = emulator.base_url

    @pytest_asyncio.fixture(autouse=True)
    async def _close_the_async_client(self, request: pytest.FixtureRequest) -> AsyncIterator[None]:
        """After each test, the async client (shared by the models of these settings) is
        closed on the test's event loop, which pytest-asyncio ends with the test, as a program
        would close it (``aclose``) before its loop ends."""
        yield
        if inspect.iscoroutinefunction(request.function):
            await ChatNanoGPT(**self.standard_chat_model_params, **self.chat_model_params).aclose()

    base_url = ""

    @property
    def chat_model_class(self) -> type[ChatNanoGPT]:
        return ChatNanoGPT

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": MODEL, "api_key": "sk-nano-test", "base_url": self.base_url}

    @property
    def model_override_value(self) -> str:
        return "openai/gpt-5-nano"

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def supports_pdf_inputs(self) -> bool:
        return True  # the catalog's pdf_upload capability (openai/gpt-5-mini has it)

    # Left at langchain-tests' default False, so that those tests skip themselves:
    # - supports_audio_inputs: NanoGPT's chat API documents no audio content parts (speech is
    #   its own endpoint);
    # - supports_image_tool_message, supports_pdf_tool_message: a tool result is text in
    #   the OpenAI shape NanoGPT documents; media in tool messages is not documented;
    # - enable_vcr_tests (test_stream_time): VCR replays recorded HTTP of a remote API; the
    #   emulator is local and deterministic, so there is nothing to record.

    @property
    def supported_usage_metadata_details(self) -> dict[str, list[Any]]:
        # NanoGPT reports cached prompt tokens and reasoning tokens, whole and streamed
        details = ["reasoning_output", "cache_read_input"]
        return {"invoke": details, "stream": details}

    def invoke_with_reasoning_output(self, *, stream: bool = False) -> AIMessage:
        model = ChatNanoGPT(model=REASONING_MODEL, api_key="sk-nano-test",
                            base_url=self.base_url)
        return _invoke(model, "Think about cats, then answer.", stream)

    def invoke_with_cache_read_input(self, *, stream: bool = False) -> AIMessage:
        model = ChatNanoGPT(**self.chat_model_params)
        return _invoke(model, "A long, cacheable prompt. " * 50, stream)


# langchain-tests writes its async tests as plain ``async def``: its own repository runs
# pytest-asyncio in auto mode. This suite keeps pytest-asyncio's default (strict) mode, so the
# mark goes on those tests here. On langchain-tests' own functions, not on overrides: its
# test_no_overrides_DO_NOT_OVERRIDE checks that the class runs them unchanged. No other class
# of this suite runs them.
for _name, _test in inspect.getmembers(ChatModelIntegrationTests, inspect.iscoroutinefunction):
    if _name.startswith("test_"):
        pytest.mark.asyncio(_test)


def _invoke(model: ChatNanoGPT, prompt: str, stream: bool) -> AIMessage:
    if not stream:
        return model.invoke(prompt)
    full: Any = None
    for chunk in model.stream(prompt):
        full = chunk if full is None else full + chunk
    return full  # type: ignore[no-any-return]

