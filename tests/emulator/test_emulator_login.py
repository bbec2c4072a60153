"""The emulator's browser login (device flow), on the wire as NanoGPT's docs describe it
(``integrations/cli-login.mdx``), and the ways a test settles a code (``emu.logins``)."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from nanogpt.emulator import Emulator


def post(emu: Emulator, path: str, body: Any, *, form: bool = False) -> tuple[int, Any]:
    parts = urlsplit(emu.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        if form:
            conn.request("POST", path, body=body,
                         headers={"content-type": "application/x-www-form-urlencoded"})
        else:
            conn.request("POST", path, body=json.dumps(body),
                         headers={"content-type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read().decode()
        return resp.status, json.loads(raw) if not form else raw
    finally:
        conn.close()


def get(emu: Emulator, path: str) -> tuple[int, str]:
    parts = urlsplit(emu.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def start(emu: Emulator) -> dict[str, Any]:
    status, body = post(emu, "/api/cli-login/start", {"client_name": "tests"})
    assert status == 200
    return body  # type: ignore[no-any-return]


def poll(emu: Emulator, device_code: str) -> tuple[int, Any]:
    return post(emu, "/api/cli-login/poll", {"device_code": device_code})


def test_start_answers_the_documented_fields(emu) -> None:
    body = start(emu)
    assert set(body) == {"device_code", "user_code", "verification_uri",
                         "verification_uri_complete", "expires_in", "interval"}
    assert body["verification_uri_complete"] == (f"{body['verification_uri']}?code="
                                                 f"{body['user_code']}")
    assert body["expires_in"] == 600 and body["interval"] == 2  # as NanoGPT's example
    assert body["user_code"] in emu.logins.pending()


def test_pending_then_the_key_once_then_consumed(emu) -> None:
    body = start(emu)
    assert poll(emu, body["device_code"]) == (202, {"status": "authorization_pending"})
    key = emu.logins.approve(body["user_code"])
    assert key.startswith("sk-nano-")
    assert body["user_code"] not in emu.logins.pending()
    assert poll(emu, body["device_code"]) == (200, {"status": "approved", "key": key})
    assert poll(emu, body["device_code"]) == (409, {"status": "consumed"})


def test_expired_consumed_and_unknown_codes(emu) -> None:
    expired, used = start(emu), start(emu)
    emu.logins.expire(expired["user_code"])
    emu.logins.consume(used["user_code"])
    assert poll(emu, expired["device_code"]) == (410, {"status": "expired"})
    assert poll(emu, used["device_code"]) == (409, {"status": "consumed"})
    assert poll(emu, "no-such-code") == (404, {"error": "invalid_code"})
    status, _ = post(emu, "/api/cli-login/poll", {})
    assert status == 400
    status, _ = post(emu, "/api/cli-login/start", {"client_name": "x" * 65})
    assert status == 400
    with pytest.raises(KeyError):
        emu.logins.approve("NOPE-NOPE")


def test_the_verify_page_approves_the_code_as_a_person_would(emu) -> None:
    body = start(emu)
    status, page = get(emu, f"/cli-login/verify?code={body['user_code']}")
    assert status == 200 and body["user_code"] in page and "<form" in page
    status, escaped = get(emu, "/cli-login/verify?code=%3Cscript%3E")
    assert "<script>" not in escaped
    status, _ = post(emu, "/cli-login/verify", f"code={body['user_code']}", form=True)
    assert status == 200
    status, answer = poll(emu, body["device_code"])
    assert status == 200 and answer["key"].startswith("sk-nano-")


@pytest.mark.parametrize("raw", [b"{not json", b"[1]", b'"client"'])
def test_a_start_body_that_is_not_a_json_object_is_a_400_and_starts_nothing(emu: Emulator,
                                                                             raw: bytes) -> None:
    parts = urlsplit(emu.url)
    before = list(emu.logins.pending())
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.request("POST", "/api/cli-login/start", body=raw,
                     headers={"content-type": "application/json"})
        resp = conn.getresponse()
        answer = json.loads(resp.read())
    finally:
        conn.close()
    assert resp.status == 400 and answer["error"]["code"] == "invalid_json"
    assert emu.logins.pending() == before
