"""``ModelName.parse`` on model strings that say one thing twice: refused (typed, naming
``model``), as the builder refuses them, never read back with one of the two silently dropped
(``:fast:cheap`` read as ``:cheap`` changes what the request is routed and billed by)."""

from __future__ import annotations

import pytest

from nanogpt import InvalidParameterError, ModelName


@pytest.mark.parametrize("model", [
    "openai/gpt-5:fast:cheap",
    "openai/gpt-5:online:online/linkup",
    "openai/gpt-5:memory-30:memory-60",
    "openai/gpt-5:online/exa-deep:online/brave",
])
def test_a_suffix_given_twice_is_refused_not_half_read(model: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        ModelName.parse(model)
    assert info.value.param == "model"


def test_suffixes_given_once_still_read_back() -> None:
    name = ModelName.parse("openai/gpt-5:online/linkup-deep:memory-30:fast")
    assert (name.online, name.deep, name.memory, name.route) == ("linkup", True, 30, "fast")
    assert str(ModelName.parse(str(name))) == str(name)
