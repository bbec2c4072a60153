"""``ChatNanoGPT`` attacked as its users would (issue 13's adversary): copies and pickles of a
model that has been used, and a base URL carrying a password, over loopback."""

from __future__ import annotations

import copy
import pickle

import pytest

pytest.importorskip("langchain_core", reason="the compat extra is not installed: "
                    "pip install '.[compat]'")

from langchain_core.load import dumpd, dumps

from nanogpt import InvalidParameterError
from nanogpt.emulator import Emulator
from nanogpt.langchain import ChatNanoGPT

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


def test_a_plain_base_url_is_kept_as_given(emu: Emulator) -> None:
    llm = ChatNanoGPT(model=MODEL, api_key=KEY, base_url=emu.base_url)
    assert llm.base_url == emu.base_url
    assert dumpd(llm)["kwargs"]["base_url"] == emu.base_url and KEY not in dumps(llm)
