"""Regressions for what review found: bounded waits, leaks, redirects, odd bodies, the key."""

from __future__ import annotations

import asyncio
import gc
import pickle
import threading
import time
import traceback
import warnings
from decimal import Decimal

import msgspec
import pytest

import nanogpt
from conftest import KEY, USER
from nanogpt import (
    APIResponseValidationError,
    APIStatusError,
    InternalServerError,
    InvalidParameterError,
    StreamError,
    Timeout,
)
from nanogpt._core.plan import CallPlan, HostPool, RetryPolicy, api_root
from nanogpt.emulator import Emulator, Fault

MODEL = "openai/gpt-5-mini"
SECRET = "sk-nano-5ec2e7aa-1111-4bad-8bad-feedfacecafe"


def test_stream_does_not_wait_for_a_server_that_holds_the_body_after_done(make_client,
                                                                          emu) -> None:
    c = make_client(max_concurrency=1)
    emu.inject(Fault(hold_after_done=30))
    t = time.monotonic()
    final = c.chat.completions.create(model=MODEL, messages=USER,
                                      stream=True).get_final_completion()
    assert final.text.endswith("hi there")
    assert time.monotonic() - t < 15  # bounded by the drain wait, not the server's 30 s
    assert c.chat.completions.create(model=MODEL, messages=USER).text  # slot was given back


def test_deeply_nested_frame_is_a_stream_error_and_frees_the_slot(make_client, emu) -> None:
    c = make_client(max_concurrency=1)
    deep = "data: {\"x\": " + "[" * 5000 + "]" * 5000 + "}\n\n"
    emu.inject(Fault(raw_frame_after=2, raw_frame=deep))
    with pytest.raises(StreamError):
        list(c.chat.completions.create(model=MODEL, messages=USER, stream=True))
    assert c.chat.completions.create(model=MODEL, messages=USER).text


def test_deeply_nested_error_body_still_maps_to_a_status_error(client, emu) -> None:
    emu.inject(Fault(status=400, body="[" * 5000 + "]" * 5000))
    with pytest.raises(APIStatusError) as info:
        client.chat.completions.create(model=MODEL, messages=USER)
    assert info.value.status_code == 400


def test_final_completion_after_close_or_failure_raises(client, emu) -> None:
    emu.inject(Fault(stall_after_chunks=3, stall=5))
    s = client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    next(iter(s))
    s.close()
    with pytest.raises(StreamError, match="closed before it finished"):
        s.get_final_completion()
    emu.inject(Fault(cut_after_chunks=4))
    s = client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    with pytest.raises(StreamError):
        list(s)
    with pytest.raises(StreamError):
        s.get_final_completion()


def test_200_with_an_error_body_raises(client, emu) -> None:
    emu.inject(Fault(body='{"error": {"message": "All fallbacks failed", "status": 503, '
                        '"code": "all_fallbacks_failed"}}'))
    with pytest.raises(InternalServerError) as info:
        client.chat.completions.create(model=MODEL, messages=USER)
    assert info.value.code == "all_fallbacks_failed"
    assert emu.count() == 1  # an answer came: not retried
    emu.inject(Fault(body='{"id": "x"}'))
    with pytest.raises(APIResponseValidationError):
        client.chat.completions.create(model=MODEL, messages=USER)


def test_unreadable_balance_is_an_error_not_zero(kind, loop_thread) -> None:
    with Emulator(balance="N/A") as emu:
        c = nanogpt.NanoGPT(KEY, base_url=emu.base_url)
        with pytest.raises(APIResponseValidationError):
            c.balance()
    with Emulator() as emu:
        b = nanogpt.NanoGPT(KEY, base_url=emu.base_url).balance()
    again = pickle.loads(pickle.dumps(b))
    assert again == b == Decimal("129.46956147") and again.nano_balance == b.nano_balance


def test_retry_after_a_redirected_attempt_goes_back_with_the_key(client, emu, emu2) -> None:
    emu.inject(Fault(redirect_to=emu2.base_url + "/chat/completions"))
    emu2.inject(Fault(status=503, retry_after=0))
    assert client.chat.completions.create(model=MODEL, messages=USER).text
    assert emu.count() == 2 and emu2.count() == 1
    assert emu.requests[-1].api_key == KEY
    assert emu2.requests[0].api_key is None


def test_redirect_to_plain_http_elsewhere_is_refused() -> None:
    pool = HostPool(["https://a/api/v1"])
    p = CallPlan(method="GET", path="/models", headers={}, pool=pool, policy=RetryPolicy(),
                 idempotent=True)
    with pytest.raises(APIStatusError, match="plain http"):
        p.after_status(307, {"location": "http://evil.example/collect"}, b"")
    p2 = CallPlan(method="GET", path="/models", headers={}, pool=pool, policy=RetryPolicy(),
                  idempotent=True, allow_insecure_http=True)
    assert p2.after_status(307, {"location": "http://evil.example/collect"}, b"") == 0.0


@pytest.mark.parametrize("base,root", [
    ("https://nano-gpt.com/api/v1", "https://nano-gpt.com/api"),
    ("https://nano-gpt.com/api/v1legacy", "https://nano-gpt.com/api"),
    ("https://nano-gpt.com/api/subscription/v1", "https://nano-gpt.com/api"),
    ("http://127.0.0.1:9/api/v1", "http://127.0.0.1:9/api"),
    ("https://proxy.example/nanogpt", "https://proxy.example/api"),
])
def test_api_root(base: str, root: str) -> None:
    assert api_root(base) == root


def test_key_is_not_in_locals_when_the_constructor_fails(kind) -> None:
    cls = nanogpt.NanoGPT if kind == "sync" else nanogpt.AsyncNanoGPT
    with pytest.raises(InvalidParameterError) as info:
        cls(SECRET, base_url="ftp://nope")
    text = "".join(traceback.TracebackException.from_exception(
        info.value, capture_locals=True).format())
    assert SECRET not in text


@pytest.mark.parametrize("bad", [SECRET + "\nsecond line", "sk nano", "sk-nano-\x00x"])
def test_keys_with_line_breaks_or_spaces_are_refused_without_echo(kind, bad) -> None:
    cls = nanogpt.NanoGPT if kind == "sync" else nanogpt.AsyncNanoGPT
    with pytest.raises(InvalidParameterError) as info:
        cls(bad, base_url="http://127.0.0.1:9/api/v1")
    assert "sk" not in str(info.value).replace("spaces", "")
    assert cls(SECRET + "\n", base_url="http://127.0.0.1:9/api/v1")  # a trailing newline is ok


def test_extra_body_may_not_smuggle_stream(client, emu) -> None:
    with pytest.raises(InvalidParameterError):
        client.chat.completions.create(model=MODEL, messages=USER, extra_body={"stream": True})
    assert emu.count() == 0


def test_error_headers_have_lower_case_names(client, emu) -> None:
    emu.inject(Fault(status=400))
    with pytest.raises(APIStatusError) as info:
        client.chat.completions.create(model=MODEL, messages=USER)
    assert info.value.headers["x-request-id"].startswith("emu-")


def test_one_odd_catalog_entry_does_not_hide_the_rest() -> None:
    from nanogpt._core.client import ClientCore

    core = ClientCore(None, base_url="http://127.0.0.1:9/api/v1", fallback_base_urls=None,
                      timeout=None, max_retries=0, max_concurrency=None, default_headers=None,
                      allow_insecure_http=False, retry_base_delay=0.1, retry_max_delay=0.1,
                      max_retry_after=1, failover_cooldown=1, models_cache_ttl=1)
    body = msgspec.json.encode({"data": [{"id": "a/ok", "context_length": 5},
                                         {"id": "b/odd", "capabilities": None,
                                          "context_length": "lots"}]})
    models = core.decode_models("all", 200, {}, body)
    assert [m.id for m in models] == ["a/ok", "b/odd"]
    assert models[1].raw["context_length"] == "lots"


def test_sequential_event_loops_leave_no_unclosed_sessions(emu) -> None:
    c = nanogpt.AsyncNanoGPT(KEY, base_url=emu.base_url)

    async def once() -> None:
        await c.chat.completions.create(model=MODEL, messages=USER)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            asyncio.run(once())
        gc.collect()
    assert not [w for w in caught if "Unclosed" in str(w.message)]


def test_two_live_event_loops_are_refused_rather_than_exceeding_the_limit(emu) -> None:
    c = nanogpt.AsyncNanoGPT(KEY, base_url=emu.base_url, max_concurrency=1)
    emu.inject(Fault(delay=1.0), path="/chat")
    done = threading.Event()

    def other_thread() -> None:
        async def slow() -> None:
            await c.chat.completions.create(model=MODEL, messages=USER)
        asyncio.run(slow())
        done.set()

    t = threading.Thread(target=other_thread)
    t.start()
    deadline = time.monotonic() + 10
    while emu.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.01)

    async def second() -> None:
        await c.chat.completions.create(model=MODEL, messages=USER)

    with pytest.raises(RuntimeError, match="another running event loop"):
        asyncio.run(second())
    t.join(10)
    assert done.is_set()


# second review: deadlines that hold against trickling servers, slots, drains -----------------

def test_total_timeout_is_a_deadline_even_when_the_server_trickles(make_client, emu) -> None:
    emu.inject(Fault(trickle=0.5))  # ~40 pieces, 20 s in all, never 1 s of silence
    c = make_client(timeout=Timeout(connect=2, read=60, idle=60, total=0.5))
    t = time.monotonic()
    with pytest.raises(nanogpt.APITimeoutError):
        c.chat.completions.create(model=MODEL, messages=USER)
    assert time.monotonic() - t < 10  # it did not wait for the 20 s trickle
    emu.inject(Fault(trickle=0.05))
    c2 = make_client(timeout=Timeout(connect=2, read=0.5, idle=30))
    with pytest.raises(nanogpt.APITimeoutError):
        c2.chat.completions.create(model=MODEL, messages=USER)
    assert c2.chat.completions.create(model=MODEL, messages=USER).text  # client still fine


def test_waiting_for_a_slot_counts_against_the_total_timeout(make_client, emu) -> None:
    c = make_client(max_concurrency=1, timeout=Timeout(connect=2, read=5, idle=5, total=0.3))
    s = c.chat.completions.create(model=MODEL, messages=USER, stream=True)  # holds the slot
    with pytest.raises(nanogpt.APITimeoutError, match="slot"):
        c.chat.completions.create(model=MODEL, messages=USER)
    s.close()
    assert c.chat.completions.create(model=MODEL, messages=USER).text


def test_drain_after_done_is_bounded_even_with_keep_alives(make_client, emu) -> None:
    emu.inject(Fault(hold_after_done=30))
    c = make_client()
    t = time.monotonic()
    assert c.chat.completions.create(model=MODEL, messages=USER,
                                     stream=True).get_final_completion().text
    assert time.monotonic() - t < 15  # not the server's 30 s


def test_a_stream_request_answered_with_a_json_error(client, emu) -> None:
    emu.inject(Fault(body='{"error": {"message": "upstream died", "status": 502}}'))
    with pytest.raises(APIStatusError, match="upstream died"):
        list(client.chat.completions.create(model=MODEL, messages=USER, stream=True))
    emu.inject(Fault(body='{"id": "x", "choices": [{"message": {"content": "whole"}}]}'))
    with pytest.raises(APIResponseValidationError, match="whole JSON completion") as info:
        client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    assert b"whole" in info.value.body
    assert client.chat.completions.create(model=MODEL, messages=USER).text  # slot released


# third review: deadlines while reading bodies that are not the answer's stream ------------

def test_a_deadline_during_a_body_cut_at_the_limit_is_a_timeout(make_client, emu) -> None:
    emu.inject(Fault(trickle=0.1))
    c = make_client(max_response_bytes=200, timeout=Timeout(connect=2, read=0.6, idle=30))
    with pytest.raises(nanogpt.APITimeoutError):
        c.chat.completions.create(model=MODEL, messages=USER)


def test_total_bounds_a_trickled_json_answer_to_a_stream_request(make_client, emu) -> None:
    emu.inject(Fault(body='{"error": {"message": "' + "x" * 600 + '", "status": 502}}',
                     trickle=0.2))  # ~40 pieces: 8 s
    c = make_client(timeout=Timeout(connect=2, read=30, idle=30, total=1.0))
    t = time.monotonic()
    with pytest.raises(nanogpt.APITimeoutError):
        c.chat.completions.create(model=MODEL, messages=USER, stream=True)
    assert time.monotonic() - t < 6


def test_total_bounds_a_trickled_error_body(make_client, emu) -> None:
    emu.inject(Fault(status=400, message="y" * 600, trickle=0.2))  # ~40 pieces: 8 s
    c = make_client(timeout=Timeout(connect=2, read=30, idle=30, total=1.0))
    t = time.monotonic()
    with pytest.raises(APIStatusError) as info:
        c.chat.completions.create(model=MODEL, messages=USER)
    assert info.value.status_code == 400
    assert time.monotonic() - t < 6
