"""Which error a failed call raises, on both clients: statuses and every documented error body
shape map to typed errors; an error body in a 200, a JSON error to a stream request, a deeply
nested or oversize body still give our typed errors. Whether a call is retried is in
test_retries.py."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import USER
from nanogpt import (
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InsufficientBalanceError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
)
from nanogpt.emulator import Emulator, Fault

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


def test_deeply_nested_error_body_still_maps_to_a_status_error(client, emu) -> None:
    emu.inject(Fault(status=400, body="[" * 5000 + "]" * 5000))
    with pytest.raises(APIStatusError) as info:
        client.chat.completions.create(model=MODEL, messages=USER)
    assert info.value.status_code == 400


def test_error_headers_have_lower_case_names(client, emu) -> None:
    emu.inject(Fault(status=400))
    with pytest.raises(APIStatusError) as info:
        client.chat.completions.create(model=MODEL, messages=USER)
    assert info.value.headers["x-request-id"].startswith("emu-")


def test_a_stream_request_answered_with_a_json_error(client, emu) -> None:
    emu.inject(Fault(body='{"error": {"message": "upstream died", "status": 502}}'))
    with pytest.raises(APIStatusError, match="upstream died"):
        list(client.chat.completions.create(model=MODEL, messages=USER, stream=True))
    emu.inject(Fault(body='{"id": "x", "choices": [{"message": {"content": "whole"}}]}'))
    with pytest.raises(APIResponseValidationError, match="whole JSON completion") as info:
        client.chat.completions.create(model=MODEL, messages=USER, stream=True)
    assert b"whole" in info.value.body
    assert client.chat.completions.create(model=MODEL, messages=USER).text  # slot released


def test_oversize_answer_is_refused(make_client: Any, emu: Emulator) -> None:
    c = make_client(max_response_bytes=100_000)
    big = '{"choices": [{"message": {"content": "' + "x" * 300_000 + '"}}]}'
    emu.inject(Fault(body=big))
    with pytest.raises(APIResponseValidationError, match="max_response_bytes"):
        c.chat.completions.create(model=MODEL, messages=USER)
    emu.inject(Fault(status=500, body="y" * 300_000), times=None)
    with pytest.raises(InternalServerError) as info:
        c.chat.completions.create(model=MODEL, messages=USER)
    assert len(str(info.value.body)) <= 100_000
