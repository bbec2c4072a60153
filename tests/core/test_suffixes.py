"""Model suffixes: ``ModelName``/``model_id`` build the documented ``:online``, ``:memory``,
redaction, reasoning and routing suffixes, refuse what the docs do not allow, and read them
back."""

from __future__ import annotations

import pytest

import nanogpt
from nanogpt import InvalidParameterError, ModelName, model_id
from nanogpt._core.suffixes import SEARCH_ENGINES


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({}, "openai/gpt-5"),
    ({"online": True}, "openai/gpt-5:online"),
    ({"online": "linkup"}, "openai/gpt-5:online/linkup"),
    ({"online": "linkup", "deep": True}, "openai/gpt-5:online/linkup-deep"),
    ({"online": "exa", "deep": True}, "openai/gpt-5:online/exa-deep"),
    ({"online": "exa-instant", "memory": 30}, "openai/gpt-5:online/exa-instant:memory-30"),
    ({"online": "kagi", "deep": True}, "openai/gpt-5:online/kagi-search"),
    ({"online": "valyu-web", "deep": True}, "openai/gpt-5:online/valyu-web-deep"),
    ({"memory": True, "redact": True, "reasoning_exclude": True},
     "openai/gpt-5:memory:redaction:reasoning-exclude"),
    ({"thinking": True, "route": "fast"}, "openai/gpt-5:thinking:fast"),
    ({"thinking": True, "caching": True}, "openai/gpt-5:thinking:caching"),
    ({"tools": True}, "openai/gpt-5:tools"),
    ({"provider": "cerebras"}, "openai/gpt-5:cerebras"),
])
def test_model_id_builds_the_documented_suffixes(kwargs, expected) -> None:
    assert model_id("openai/gpt-5", **kwargs) == expected
    assert str(ModelName("openai/gpt-5", **kwargs)) == expected


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"online": "exa"}, r"online: 'exa' is not a documented search engine; did you mean"),
    ({"online": "linkupp"}, r"did you mean 'linkup'"),
    ({"online": "sofya", "deep": True}, r"online: 'sofya' with deep=True is not"),
    ({"online": True, "deep": True}, r"deep: needs a search engine"),
    ({"deep": True}, r"deep: needs online="),
    ({"memory": 0}, r"memory: must be true \(30 days\) or a number of days from 1 to 365"),
    ({"memory": 366}, r"memory:"),
    ({"route": "fastest"}, r"route: must be one of"),
    ({"route": "fast", "provider": "novita"}, r"provider: cannot be combined with route"),
    ({"tools": True, "caching": True}, r"caching: cannot be combined with tools"),
    ({"provider": "a b"}, r"provider: must be a provider id"),
    ({"provider": "online"}, r"provider: must be a provider id"),
    ({"redact": "yes"}, r"redact: must be true or false"),
])
def test_what_the_docs_do_not_allow_is_refused(kwargs, match) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        model_id("openai/gpt-5", **kwargs)


def test_a_base_that_already_has_suffixes_is_refused() -> None:
    with pytest.raises(InvalidParameterError, match="base: must be a model id without"):
        model_id("openai/gpt-5:online")
    assert model_id("claude-sonnet-4-thinking:8192", online=True) == \
        "claude-sonnet-4-thinking:8192:online"  # a budget suffix is part of the model


@pytest.mark.parametrize("engine", SEARCH_ENGINES)
def test_every_documented_engine_round_trips(engine) -> None:
    text = f"a/b:online/{engine}"
    assert str(ModelName.parse(text)) == text


def test_parse_reads_the_docs_examples() -> None:
    m = ModelName.parse("anthropic/claude-opus-4.6:memory-30:online/linkup-deep:"
                        "reasoning-exclude")
    assert (m.base, m.online, m.deep, m.memory, m.reasoning_exclude) == \
        ("anthropic/claude-opus-4.6", "linkup", True, 30, True)
    assert ModelName.parse("zai-org/glm-5:thinking:cheap").route == "cheap"
    assert ModelName.parse("m:piiredacted:cached").redact is True
    assert ModelName.parse("m:CACHE").caching is True  # case-insensitive
    assert ModelName.parse("m:official").base == "m:official"  # unknown: kept in the base


def test_exported_at_the_top_level_and_in_types() -> None:
    assert nanogpt.model_id is model_id and nanogpt.types.ModelName is ModelName
