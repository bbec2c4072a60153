"""The emulator takes compressed request bodies as NanoGPT does: gzip and deflate on the chat
endpoint, decoded within ``max_body_bytes`` (a gzip bomb gets a 413, not the server's memory),
415 for other codings, other endpoints or a body that is not JSON, and the coding recorded."""

from __future__ import annotations

import gzip
import http.client
import json
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from nanogpt.emulator import Emulator
from nanogpt.testing import TEST_API_KEY

BODY = json.dumps({"model": "openai/gpt-5-mini",
                   "messages": [{"role": "user", "content": "hi there " * 100}]}).encode()


def post(emu: Emulator, body: bytes, encoding: str | None, *, path: str = "/chat/completions",
         content_type: str = "application/json", key: bool = True) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=30)
    headers = {"Content-Type": content_type}
    if key:
        headers["Authorization"] = f"Bearer {TEST_API_KEY}"
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    try:
        conn.request("POST", "/api/v1" + path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def raw_deflate(data: bytes) -> bytes:
    z = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return z.compress(data) + z.flush()


@pytest.fixture
def small_emu() -> Iterator[Emulator]:
    with Emulator(max_body_bytes=64 * 1024) as e:
        yield e


@pytest.mark.parametrize("encoding,coded", [
    ("gzip", gzip.compress(BODY)),
    ("x-gzip", gzip.compress(BODY)),
    ("deflate", zlib.compress(BODY)),
    ("deflate", raw_deflate(BODY)),
    ("identity", BODY),
    ("gzip, identity", gzip.compress(BODY)),
    ("deflate, gzip", gzip.compress(zlib.compress(BODY))),  # undone last-applied first
], ids=["gzip", "x-gzip", "deflate-zlib", "deflate-raw", "identity", "gzip-identity",
        "deflate-then-gzip"])
def test_coded_chat_bodies_are_decoded_and_recorded(emu: Emulator, encoding: str,
                                                    coded: bytes) -> None:
    status, answer = post(emu, coded, encoding)
    assert status == 200 and answer["choices"]
    rec = emu.requests[-1]
    assert rec.body == json.loads(BODY)
    assert rec.content_encoding == encoding
    assert (rec.body_size, rec.wire_size) == (len(BODY), len(coded))


def test_a_gzip_bomb_gets_413_within_the_body_bound(small_emu: Emulator) -> None:
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    bomb = b"".join(z.compress(zeros) for _ in range(256)) + z.flush()  # 256 MiB in ~250 KB
    assert len(bomb) < 400 * 1024
    small_emu.max_body_bytes = 512 * 1024  # the coded bomb itself is let in
    status, answer = post(small_emu, bomb, "gzip")
    assert status == 413 and answer["error"]["code"] == "payload_too_large"
    assert small_emu.requests[-1].body is None


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "gzip, br"])
def test_other_codings_get_415(emu: Emulator, encoding: str) -> None:
    status, answer = post(emu, gzip.compress(BODY), encoding)
    assert status == 415 and answer["error"]["code"] == "unsupported_content_encoding"
    assert emu.count("/chat") == 1  # recorded, as every request


def test_a_refusing_emulator_answers_415_to_gzip(emu: Emulator) -> None:
    emu.request_encodings = frozenset()
    assert post(emu, gzip.compress(BODY), "gzip")[0] == 415
    assert post(emu, BODY, None)[0] == 200
    emu.clear_faults()  # restores the codings
    assert post(emu, gzip.compress(BODY), "gzip")[0] == 200


@pytest.mark.parametrize("path,content_type,key,status,code", [
    ("/files", "application/json", True, 415, "unsupported_content_encoding"),
    ("/chat/completions", "text/plain", True, 415, "unsupported_media_type"),
    ("/chat/completions", "application/json", False, 401, "authentication_error"),
])
def test_coded_bodies_are_refused_where_nanogpt_refuses_them(
        emu: Emulator, path: str, content_type: str, key: bool, status: int,
        code: str) -> None:
    got, answer = post(emu, gzip.compress(BODY), "gzip", path=path, content_type=content_type,
                       key=key)
    assert (got, answer["error"]["code"]) == (status, code)


@pytest.mark.parametrize("coded", [b"not gzip at all", gzip.compress(BODY)[:-12]],
                         ids=["garbage", "cut-short"])
def test_broken_coded_bytes_get_400(emu: Emulator, coded: bytes) -> None:
    status, answer = post(emu, coded, "gzip")
    assert status == 400 and answer["error"]["code"] == "invalid_content_encoding"
