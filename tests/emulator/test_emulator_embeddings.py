"""The emulator's embeddings endpoints as the docs describe them, over plain HTTP: unit vectors
of the model's dimension (or ``dimensions``), the same for the same text, in float or base64;
the documented errors; one ledger charge per answer; the model list without a key; faults."""

from __future__ import annotations

import base64
import http.client
import json
import math
from array import array
from typing import Any

import pytest

from nanogpt.emulator import INVALID_API_KEY, Emulator, Fault

PATH = "/api/v1/embeddings"
AUTH = {"Authorization": "Bearer sk-nano-test", "Content-Type": "application/json"}


def _post(emu: Emulator, body: Any, headers: dict[str, str] | None = None
          ) -> tuple[int, Any, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=30)
    try:
        conn.request("POST", PATH, body=json.dumps(body), headers=headers or AUTH)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            data = json.loads(raw)
        except ValueError:
            data = raw
        return resp.status, data, {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def _get(emu: Emulator, path: str) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_float_answers_as_documented(emu: Emulator) -> None:
    status, r, headers = _post(emu, {"model": "text-embedding-3-small",
                                     "input": ["a", "b b"]})
    assert status == 200 and headers["x-request-id"]
    assert r["object"] == "list" and r["model"] == "text-embedding-3-small"
    assert [d["index"] for d in r["data"]] == [0, 1]
    assert all(d["object"] == "embedding" and len(d["embedding"]) == 1536 for d in r["data"])
    assert all(abs(math.hypot(*d["embedding"]) - 1) < 1e-5 for d in r["data"])
    assert r["data"][0]["embedding"] != r["data"][1]["embedding"]
    assert r["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    assert "cost" not in r  # the docs show none


def test_base64_is_little_endian_float32_of_the_same_vector(emu: Emulator) -> None:
    _, floats, _ = _post(emu, {"model": "BAAI/bge-m3", "input": "same"})
    _, coded, _ = _post(emu, {"model": "BAAI/bge-m3", "input": "same",
                              "encoding_format": "base64"})
    vector = array("f", base64.b64decode(coded["data"][0]["embedding"]))
    assert len(vector) == 1024 and vector.tolist() == floats["data"][0]["embedding"]


def test_dimensions_are_honoured_where_the_model_supports_them(emu: Emulator) -> None:
    _, r, _ = _post(emu, {"model": "Qwen/Qwen3-Embedding-0.6B", "input": "x", "dimensions": 7})
    assert len(r["data"][0]["embedding"]) == 7
    assert abs(math.hypot(*r["data"][0]["embedding"]) - 1) < 1e-5


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "nope", "input": "x"}, "model"),
    ({"input": "x"}, "model"),
    ({"model": "text-embedding-3-small"}, "input"),
    ({"model": "text-embedding-3-small", "input": ""}, "input"),
    ({"model": "text-embedding-3-small", "input": []}, "input"),
    ({"model": "text-embedding-3-small", "input": ["x"] * 2049}, "input"),
    ({"model": "text-embedding-3-small", "input": ["x", 3]}, "input"),
    ({"model": "text-embedding-3-small", "input": "x", "encoding_format": "int8"},
     "encoding_format"),
    ({"model": "text-embedding-3-small", "input": "x", "dimensions": 0}, "dimensions"),
    ({"model": "text-embedding-3-small", "input": "x", "dimensions": 5000}, "dimensions"),
    ({"model": "BAAI/bge-m3", "input": "x", "dimensions": 256}, "dimensions"),
    (["not", "an", "object"], "body"),
])
def test_documented_errors(emu: Emulator, body: Any, param: str) -> None:
    before = len(emu.ledger.entries())
    status, r, _ = _post(emu, body)
    assert status == 400
    assert r["error"]["type"] == "invalid_request_error" and r["error"]["param"] == param
    assert len(emu.ledger.entries()) == before  # nothing billed


def test_the_documented_model_error_message(emu: Emulator) -> None:
    _, r, _ = _post(emu, {"model": "nope", "input": "x"})
    assert r["error"]["message"] == "Invalid model specified"


def test_too_many_inputs_says_the_limit(emu: Emulator) -> None:
    _, r, _ = _post(emu, {"model": "text-embedding-3-small", "input": ["x"] * 2049})
    assert "2048" in r["error"]["message"] and r["error"]["code"] == "too_many_inputs"


def test_a_key_is_needed(emu: Emulator) -> None:
    status, r, _ = _post(emu, {"model": "text-embedding-3-small", "input": "x"},
                         {"Content-Type": "application/json"})
    assert status == 401 and r["error"]["code"] == "missing_api_key"
    status, r, _ = _post(emu, {"model": "text-embedding-3-small", "input": "x"},
                         {"Authorization": f"Bearer {INVALID_API_KEY}"})
    assert status == 401 and r["error"]["code"] == "invalid_api_key"


def test_each_answer_is_charged_once_at_the_model_price(emu: Emulator) -> None:
    before = len(emu.ledger.entries())
    _post(emu, {"model": "text-embedding-3-large", "input": ["one two", "three"]})
    new = emu.ledger.entries()[before:]
    assert len(new) == 1
    charge = new[0]
    assert (charge.model, charge.kind, charge.input_tokens) == (
        "text-embedding-3-large", "embedding", 3)
    assert charge.amount == pytest.approx(3 * 0.13 / 1e6)


def test_the_model_list_needs_no_key(emu: Emulator) -> None:
    status, r = _get(emu, "/api/v1/embedding-models")
    assert status == 200 and r["object"] == "list" and len(r["data"]) == 16
    small = next(m for m in r["data"] if m["id"] == "text-embedding-3-small")
    assert small["dimensions"] == 1536 and small["supports_dimensions"] is True
    assert small["pricing"] == {"per_million_tokens": 0.02, "currency": "USD"}


def test_faults_apply(emu: Emulator) -> None:
    body = {"model": "text-embedding-3-small", "input": "x"}
    emu.inject(Fault(status=429, retry_after=3))
    status, _, headers = _post(emu, body)
    assert status == 429 and headers["retry-after"] == "3"
    emu.inject(Fault(non_json=True))
    status, r, _ = _post(emu, body)
    assert status == 200 and isinstance(r, bytes) and b"<html>" in r
    status, _, _ = _post(emu, body, {**AUTH, "X-Emulator-Fault": json.dumps({"status": 503})})
    assert status == 503


def test_ten_thousand_vectors_are_distinct() -> None:
    from nanogpt.emulator._embeddings import vector

    vectors = {vector(f"document {i}", 1536).tobytes() for i in range(10_000)}
    assert len(vectors) == 10_000
