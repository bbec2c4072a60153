"""Errors, money-safe retries, failover and redirects, on both clients against the emulator."""

from __future__ import annotations

import email.utils
import time

import pytest

from conftest import USER, dead_url
from nanogpt import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InsufficientBalanceError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    Timeout,
)
from nanogpt.emulator import Fault

MODEL = "openai/gpt-5-mini"


def chat(client, **kw):
    return client.chat.completions.create(model=MODEL, messages=USER, **kw)


@pytest.mark.parametrize("status,exc", [
    (400, BadRequestError), (401, AuthenticationError), (402, InsufficientBalanceError),
    (403, PermissionDeniedError), (404, NotFoundError), (409, ConflictError),
    (413, APIStatusError), (422, APIStatusError),
])
def test_client_errors_are_typed_and_never_retried(client, emu, status, exc) -> None:
    emu.inject(Fault(status=status, code="some_code", message="went wrong"), times=None)
    with pytest.raises(exc) as info:
        chat(client)
    e = info.value
    assert e.status_code == status and e.code == "some_code" and e.message == "went wrong"
    assert e.request_id and e.request_id.startswith("emu-")
    assert "went wrong" in str(e) and e.request_id in str(e)
    assert emu.count() == 1


@pytest.mark.parametrize("shape,code", [("openai", "insufficient_balance"),
                                        ("legacy", "insufficient_balance"),
                                        ("flat", None), ("anthropic", None), ("text", None)])
def test_every_documented_error_body_shape_is_read(client, emu, shape, code) -> None:
    emu.inject(Fault(status=402, error_shape=shape, code=code, message="Insufficient balance"))
    with pytest.raises(InsufficientBalanceError) as info:
        chat(client)
    assert "Insufficient balance" in info.value.message
    assert info.value.code == code
    if shape == "legacy":
        assert info.value.body["requiredBalance"] == 0.01


def test_the_emulator_answers_a_missing_key_with_401(emu) -> None:
    import urllib3

    r = urllib3.request("POST", emu.base_url + "/chat/completions",
                        json={"model": MODEL, "messages": USER})
    assert r.status == 401 and r.json()["error"]["code"] == "missing_api_key"  # as documented
    r = urllib3.request("POST", emu.base_url + "/chat/completions",
                        json={"model": MODEL, "messages": USER},
                        headers={"Authorization": "Bearer "})
    assert r.status == 401


def test_unknown_model_is_not_found(client, emu) -> None:
    with pytest.raises(NotFoundError) as info:
        client.chat.completions.create(model="nope/nothing", messages=USER)
    assert info.value.code == "model_not_found" and info.value.param == "model"


def test_wrong_key_is_authentication_error(make_client, emu) -> None:
    emu.inject(Fault(status=401, code="invalid_api_key"))
    with pytest.raises(AuthenticationError):
        chat(make_client())


@pytest.mark.parametrize("status", [408, 429, 503])
def test_transient_statuses_are_retried(client, emu, status) -> None:
    emu.inject(Fault(status=status, retry_after=0), times=2)
    assert chat(client).text.startswith("Hello")
    assert emu.count() == 3


@pytest.mark.parametrize("status", [500, 502, 504])
def test_statuses_that_may_hide_a_run_are_not_retried_for_chat(make_client, emu,
                                                                status) -> None:
    """A gateway 504 (or a 500/502) may come after the origin got the POST and ran the model:
    re-sending it could bill twice, so by default a chat call is not retried on it."""
    emu.inject(Fault(status=status), times=2)
    with pytest.raises(InternalServerError):
        chat(make_client())
    assert emu.count("/chat") == 1
    # read-only calls retry them, and a caller who accepts the risk can opt in
    assert make_client().models.list(refresh=True)
    assert emu.count("/models") == 2
    emu.inject(Fault(status=status), times=2)
    assert chat(make_client(retry_statuses={408, 429, 500, 502, 503, 504})).text
    assert emu.count("/chat") == 1 + 3


def test_retries_give_up_after_max_retries(make_client, emu) -> None:
    emu.inject(Fault(status=503), times=None)
    with pytest.raises(InternalServerError):
        chat(make_client(max_retries=2))
    assert emu.count() == 3
    emu.reset_stats()
    with pytest.raises(InternalServerError):
        chat(make_client(max_retries=0))
    assert emu.count() == 1


def test_rate_limit_error_carries_retry_after(make_client, emu) -> None:
    emu.inject(Fault(status=429, retry_after="0.01"), times=None)
    with pytest.raises(RateLimitError) as info:
        chat(make_client(max_retries=1))
    assert info.value.retry_after == pytest.approx(0.01)
    assert emu.count() == 2


def test_daily_limit_429_is_not_slept_on(client, emu) -> None:
    emu.inject(Fault(status=429, retry_after=7 * 3600, code="daily_rpd_limit_exceeded"))
    t = time.monotonic()
    with pytest.raises(RateLimitError) as info:
        chat(client)
    assert info.value.retry_after == 7 * 3600 and info.value.code == "daily_rpd_limit_exceeded"
    assert emu.count() == 1
    assert time.monotonic() - t < 60  # it did not wait (a sanity bound, not a speed claim)


def test_retry_after_as_http_date_and_ms(client, emu) -> None:
    far = email.utils.formatdate(time.time() + 6 * 3600, usegmt=True)
    emu.inject(Fault(status=503, retry_after=far))
    with pytest.raises(InternalServerError):
        chat(client)
    assert emu.count() == 1
    emu.reset_stats()
    emu.inject(Fault(status=429, retry_after_ms=5))
    assert chat(client).text
    assert emu.count() == 2


def test_reset_before_the_answer_is_not_retried_for_chat(client, emu) -> None:
    emu.inject(Fault(reset=True))
    with pytest.raises(APIConnectionError, match="billed twice"):
        chat(client)
    assert emu.count() == 1


def test_reset_before_the_answer_is_retried_for_reads(client, emu) -> None:
    emu.inject(Fault(reset=True), path="/models")
    assert client.models.list(refresh=True)
    assert emu.count("/models") == 2


def test_read_timeout_before_the_answer(make_client, emu) -> None:
    c = make_client(timeout=Timeout(connect=5, read=0.3, idle=0.3))
    emu.inject(Fault(stall=3))
    with pytest.raises(APITimeoutError):
        chat(c)
    assert emu.count() == 1  # the request was sent: not retried


def test_connection_refused_is_retried_then_raises(make_client, emu) -> None:
    c = make_client(base_url=dead_url(), max_retries=2)
    with pytest.raises(APIConnectionError) as info:
        chat(c)
    assert not isinstance(info.value, APITimeoutError)
    assert "connect" in str(info.value)


def test_failover_to_a_fallback_when_the_primary_is_down(make_client, emu) -> None:
    c = make_client(base_url=dead_url(), fallback_base_urls=[emu.base_url])
    assert chat(c).text.startswith("Hello")
    assert emu.count() == 1


def test_failover_on_502_and_the_failed_host_is_skipped_for_a_while(make_client, emu,
                                                                     emu2) -> None:
    c = make_client(base_url=emu2.base_url, fallback_base_urls=[emu.base_url],
                    retry_statuses={429, 502, 503})
    emu2.inject(Fault(status=502), times=None)
    assert chat(c).text
    assert (emu2.count(), emu.count()) == (1, 1)
    assert chat(c).text  # the primary is cooling down: straight to the fallback
    assert (emu2.count(), emu.count()) == (1, 2)


def test_500_is_retried_on_the_same_host(make_client, emu, emu2) -> None:
    c = make_client(base_url=emu2.base_url, fallback_base_urls=[emu.base_url],
                    retry_statuses={500, 503})
    emu2.inject(Fault(status=500))
    assert chat(c).text
    assert (emu2.count(), emu.count()) == (2, 0)


def test_cross_host_redirect_never_carries_the_key(client, emu, emu2) -> None:
    emu.inject(Fault(redirect_to=emu2.base_url + "/chat/completions", redirect_status=307))
    with pytest.raises(AuthenticationError):
        chat(client)
    [seen] = emu2.requests
    assert seen.api_key is None
    assert "authorization" not in seen.headers and "x-api-key" not in seen.headers


def test_same_host_redirect_keeps_the_key(client, emu) -> None:
    emu.inject(Fault(redirect_to=emu.base_url + "legacy/chat/completions", redirect_status=308))
    assert chat(client).text
    assert emu.requests[-1].path.startswith("/api/v1legacy/")
    assert emu.requests[-1].api_key is not None


def test_post_is_not_re_sent_on_302(client, emu) -> None:
    emu.inject(Fault(redirect_to=emu.base_url + "/chat/completions", redirect_status=302))
    with pytest.raises(APIStatusError, match="not followed"):
        chat(client)
    assert emu.count() == 1
