"""The retry/failover plan as plain code: no sockets, a fake clock, fixed randomness."""

from __future__ import annotations

import email.utils

import pytest

from nanogpt import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    InsufficientBalanceError,
    InternalServerError,
    InvalidParameterError,
    RateLimitError,
)
from nanogpt._core.plan import (
    DEFAULT_RETRY_STATUSES,
    CallPlan,
    HostPool,
    RetryPolicy,
    api_root,
    parse_retry_after,
    retry_statuses,
)
from nanogpt._core.transport import TransportFailure

A, B, C = "https://a/api/v1", "https://b/api/v1", "https://c/api/v1"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def plan(method: str = "POST", idempotent: bool = False, retries: int = 2,
         bases: list[str] | None = None, clock: Clock | None = None, **kw) -> CallPlan:
    """A plan for a POST (billable unless ``idempotent``) over hosts A, B, C."""
    pool = HostPool(bases or [A, B, C], cooldown=30, clock=clock or Clock())
    return CallPlan(method=method, path="/chat/completions",
                    headers={"authorization": "Bearer k", "x-api-key": "k"}, pool=pool,
                    policy=RetryPolicy(max_retries=retries, **kw), idempotent=idempotent,
                    rand=lambda: 0.5)


def test_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "0.5"}) == 0.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "-1"}) is None
    assert parse_retry_after({}) is None
    when = email.utils.formatdate(2000.0, usegmt=True)
    assert parse_retry_after({"retry-after": when}, now=lambda: 1990.0) == pytest.approx(10.0)
    past = email.utils.formatdate(1000.0, usegmt=True)
    assert parse_retry_after({"retry-after": past}, now=lambda: 1990.0) == 0.0


def test_backoff_grows_and_is_capped() -> None:
    p = RetryPolicy(base_delay=0.5, max_delay=4.0)
    assert [p.backoff(n, 1.0) for n in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert p.backoff(0, 0.0) == 0.25  # jitter keeps at least half


@pytest.mark.parametrize("status,idempotent", [
    (408, False), (429, False), (503, False),
    (408, True), (429, True), (500, True), (502, True), (503, True), (504, True)])
def test_retryable_statuses_retry_until_the_budget_is_spent(status: int,
                                                            idempotent: bool) -> None:
    p = plan(idempotent=idempotent, method="GET" if idempotent else "POST", bases=[A])
    assert p.after_status(status, {}, b"") > 0
    assert p.after_status(status, {}, b"") > 0
    with pytest.raises(APIStatusError) as info:
        p.after_status(status, {}, b"")
    assert info.value.status_code == status


@pytest.mark.parametrize("status", [500, 502, 504])
def test_statuses_that_may_hide_a_run_are_not_retried_for_a_billable_call(status: int) -> None:
    with pytest.raises(InternalServerError):
        plan().after_status(status, {}, b"")
    # unless the caller opts in
    p = plan(statuses=frozenset({status}), bases=[A])
    assert p.after_status(status, {}, b"") > 0


@pytest.mark.parametrize("status,exc", [(400, APIStatusError), (401, AuthenticationError),
                                        (402, InsufficientBalanceError), (403, APIStatusError),
                                        (404, APIStatusError), (409, APIStatusError),
                                        (413, APIStatusError), (422, APIStatusError)])
def test_other_statuses_are_never_retried(status: int, exc: type) -> None:
    with pytest.raises(exc):
        plan().after_status(status, {}, b'{"error": {"message": "no"}}')


def test_retry_after_is_honoured_and_long_waits_raise_at_once() -> None:
    p = plan()
    assert p.after_status(429, {"retry-after": "2"}, b"") == 2.0
    with pytest.raises(RateLimitError) as info:
        plan().after_status(429, {"retry-after": "7200"}, b'{"error": {"code": '
                                                          b'"daily_rpd_limit_exceeded"}}')
    assert info.value.retry_after == 7200 and info.value.code == "daily_rpd_limit_exceeded"


def test_failover_moves_to_the_next_host_and_skips_it_for_a_while() -> None:
    clock = Clock()
    p = plan(clock=clock)
    assert p.url.startswith(A)
    p.after_status(503, {}, b"")
    assert p.url.startswith(B)
    p.after_failure(TransportFailure("refused", sent=False))
    assert p.url.startswith(C)
    # a new call skips the hosts that just failed
    assert plan(clock=clock, bases=None).url.startswith(A)  # a new pool knows nothing
    pool = p.pool
    q = CallPlan(method="POST", path="/x", headers={}, pool=pool, policy=RetryPolicy(),
                 idempotent=False)
    assert q.url.startswith(C)
    clock.t += 31
    q2 = CallPlan(method="POST", path="/x", headers={}, pool=pool, policy=RetryPolicy(),
                  idempotent=False)
    assert q2.url.startswith(A)


def test_500_and_429_stay_on_the_same_host() -> None:
    p = plan(method="GET", idempotent=True)
    p.after_status(500, {}, b"")
    assert p.url.startswith(A)
    p.after_status(429, {"retry-after": "0"}, b"")
    assert p.url.startswith(A)


def test_connection_failure_after_sending_is_not_retried_for_a_post() -> None:
    with pytest.raises(APIConnectionError, match="billed twice"):
        plan().after_failure(TransportFailure("reset", sent=True))
    # but a GET (or another idempotent call) is
    assert plan(method="GET", idempotent=True).after_failure(
        TransportFailure("reset", sent=True)) >= 0


def test_connect_failures_are_retried_and_then_raise() -> None:
    p = plan(retries=1, bases=[A])
    p.after_failure(TransportFailure("refused", sent=False))
    with pytest.raises(APIConnectionError):
        p.after_failure(TransportFailure("refused", sent=False))


def test_cross_origin_redirect_drops_the_key() -> None:
    p = plan(method="GET", idempotent=True)
    assert p.after_status(307, {"location": "https://elsewhere/x"}, b"") == 0.0
    assert p.url == "https://elsewhere/x"
    assert "authorization" not in p.headers and "x-api-key" not in p.headers


def test_same_origin_redirect_keeps_the_key_and_post_303_is_refused() -> None:
    p = plan(method="GET", idempotent=True)
    p.after_status(308, {"location": "/api/v2/models"}, b"")
    assert p.url == "https://a/api/v2/models" and "authorization" in p.headers
    with pytest.raises(APIStatusError, match="not followed"):
        plan().after_status(303, {"location": "/elsewhere"}, b"")


# failover (issue 8, item 7) ----------------------------------------------------------------

def test_503_with_a_long_retry_after_fails_over_at_once_and_keeps_retry_after() -> None:
    p = plan()
    assert p.after_status(503, {"retry-after": "7200"}, b"") == 0.0  # no sleep on A's header
    assert p.url.startswith(B) and p.retries == 0
    # with no healthy host left to try, it raises at once, retry_after kept
    q = plan(bases=[A])
    with pytest.raises(InternalServerError) as info:
        q.after_status(503, {"retry-after": "7200"}, b"")
    assert info.value.retry_after == 7200


def test_503_with_a_short_retry_after_moves_on_instead_of_sleeping() -> None:
    p = plan()
    assert p.after_status(503, {"retry-after": "5"}, b"") == 0.0
    assert p.url.startswith(B)
    # alone, the host's own Retry-After is honoured
    assert plan(bases=[A]).after_status(503, {"retry-after": "5"}, b"") == 5.0


def test_failover_happens_with_max_retries_0_when_nothing_was_processed() -> None:
    p = plan(retries=0)
    assert p.after_failure(TransportFailure("refused", sent=False)) == 0.0
    assert p.url.startswith(B)
    assert p.after_status(503, {}, b"") == 0.0
    assert p.url.startswith(C)
    with pytest.raises(InternalServerError):  # every host tried once: the budget is 0
        p.after_status(503, {}, b"")


def test_every_failure_marks_the_host_even_when_the_call_ends() -> None:
    clock = Clock()
    for fail in (lambda p: p.after_status(504, {}, b""),  # not retried for a chat
                 lambda p: p.after_status(502, {}, b""),
                 lambda p: p.after_failure(TransportFailure("reset", sent=True))):
        pool = HostPool([A, B], cooldown=30, clock=clock)
        p = CallPlan(method="POST", path="/x", headers={}, pool=pool,
                     policy=RetryPolicy(max_retries=0), idempotent=False)
        with pytest.raises((APIStatusError, APIConnectionError)):
            fail(p)
        later = CallPlan(method="POST", path="/x", headers={}, pool=pool,
                         policy=RetryPolicy(), idempotent=False)
        assert later.url.startswith(B)


def test_a_slow_answer_does_not_mark_the_host() -> None:
    pool = HostPool([A, B], cooldown=30, clock=Clock())
    p = CallPlan(method="POST", path="/x", headers={}, pool=pool, policy=RetryPolicy(),
                 idempotent=False)
    with pytest.raises(APIConnectionError):
        p.after_failure(TransportFailure("timed out", sent=True, timeout=True))
    assert pool.pick().startswith(A)


def test_each_host_is_failed_over_to_once_then_retries_count() -> None:
    p = plan(retries=1, bases=[A, B])
    assert p.after_status(503, {}, b"") == 0.0 and p.url.startswith(B)
    assert p.after_status(503, {}, b"") > 0 and p.retries == 1
    with pytest.raises(InternalServerError):
        p.after_status(503, {}, b"")


def test_a_sent_post_is_never_failed_over() -> None:
    p = plan()
    with pytest.raises(APIConnectionError, match="billed twice"):
        p.after_failure(TransportFailure("reset", sent=True))


def test_retry_statuses_setting() -> None:
    assert retry_statuses(None) == DEFAULT_RETRY_STATUSES == {408, 429, 503}
    assert retry_statuses([503, 504]) == {503, 504}
    for bad in ([400], [401], [402], [404], [200], ["503"], [True], 503, "503", [[503]], 5.0):
        with pytest.raises(InvalidParameterError):
            retry_statuses(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("base,root", [
    ("https://nano-gpt.com/api/v1", "https://nano-gpt.com/api"),
    ("https://nano-gpt.com/api/v1legacy", "https://nano-gpt.com/api"),
    ("https://nano-gpt.com/api/subscription/v1", "https://nano-gpt.com/api"),
    ("http://127.0.0.1:9/api/v1", "http://127.0.0.1:9/api"),
    ("https://proxy.example/nanogpt", "https://proxy.example/api"),
])
def test_api_root(base: str, root: str) -> None:
    assert api_root(base) == root
