"""Client settings are defined once (``ClientOptions``): the public constructors list them as
typed keyword arguments, and these tests keep the two lists equal, name for name and default
for default, so that a setting cannot be half-added."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

import nanogpt
from nanogpt import InvalidParameterError
from nanogpt._core.client import ClientBase
from nanogpt._core.options import DEFAULTS, ClientOptions
from nanogpt._core.plan import RetryPolicy


def _keyword_arguments(cls: type) -> dict[str, object]:
    params = inspect.signature(cls.__init__).parameters.values()
    return {p.name: p.default for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}


@pytest.mark.parametrize("cls", [ClientBase, nanogpt.NanoGPT, nanogpt.AsyncNanoGPT])
def test_the_constructor_lists_every_option_with_its_default(cls: type) -> None:
    fields = {f.name: getattr(DEFAULTS, f.name) for f in dataclasses.fields(ClientOptions)}
    assert _keyword_arguments(cls) == fields


def test_the_constructor_types_each_option_as_its_field() -> None:
    params = inspect.signature(ClientBase.__init__).parameters
    for f in dataclasses.fields(ClientOptions):
        assert params[f.name].annotation == f.type, f.name


def test_the_options_repr_shows_no_password_in_a_url() -> None:
    options = ClientOptions(base_url="https://me:s3cret@host/api/v1",
                            fallback_base_urls=["https://TOKEN123@other/api/v1"],
                            batch_base_url="https://u:pw@batch/api/v1")
    shown = repr(options)
    assert "s3cret" not in shown and "TOKEN123" not in shown and ":pw@" not in shown
    assert "max_retries=2" in shown


def test_retry_defaults_are_the_policys() -> None:
    policy = RetryPolicy()
    assert DEFAULTS.retry_policy() == policy


def test_each_argument_reaches_the_client() -> None:
    c = nanogpt.NanoGPT("k", base_url="http://127.0.0.1:9/api/v1", max_retries=5,
                        max_concurrency=3, retry_base_delay=0.25, failover_cooldown=7,
                        models_cache_ttl=1, max_response_bytes=1000, retry_statuses=[503],
                        batch_base_url="http://127.0.0.1:8/api/v1", timeout=5,
                        default_headers={"X-Tag": "a"})
    core = c._core
    assert core.policy == RetryPolicy(max_retries=5, base_delay=0.25,
                                      statuses=frozenset({503}))
    assert (core.max_concurrency, core.max_response_bytes, core.models_cache_ttl) == \
        (3, 1000, 1)
    assert core.timeout == nanogpt.Timeout.coerce(5)
    assert core.headers["x-tag"] == "a"
    assert c.batches._core.base_url == "http://127.0.0.1:8/api/v1"


def test_options_are_checked_again_when_replaced() -> None:
    options = ClientOptions(max_retries=1)
    assert dataclasses.replace(options, max_retries=3).max_retries == 3
    with pytest.raises(InvalidParameterError, match="max_retries"):
        dataclasses.replace(options, max_retries=-1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.max_retries = 2  # type: ignore[misc]


@pytest.mark.parametrize("name, value", [
    ("max_retries", -1), ("max_retries", True), ("max_concurrency", 0),
    ("max_response_bytes", 0), ("retry_base_delay", -1), ("retry_max_delay", "1"),
    ("max_retry_after", float("nan")), ("failover_cooldown", float("inf")),
    ("models_cache_ttl", None), ("allow_insecure_http", "yes"), ("timeout", -1),
    ("retry_statuses", [404]), ("default_headers", {"bad name": "x"}),
])
def test_a_bad_setting_is_refused_by_name(name: str, value: object) -> None:
    with pytest.raises(InvalidParameterError, match=name):
        nanogpt.NanoGPT("k", base_url="http://127.0.0.1:9/api/v1", **{name: value})
