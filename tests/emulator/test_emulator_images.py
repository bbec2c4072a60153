"""The emulator's image endpoints, over plain HTTP: valid PNGs of the asked size, the documented
paths and errors, the price charged, faults, and the ``openai`` SDK's ``images.generate``."""

from __future__ import annotations

import base64
import json
import struct
import urllib.error
import urllib.request
import zlib
from typing import Any

import pytest

from conftest import KEY
from nanogpt.emulator import FAULT_HEADER, Emulator


def post(emu: Emulator, path: str, body: Any, *, key: str | None = KEY,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    root = emu.base_url.split("/api/v1")[0]
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(root + path, data=data, method="POST", headers={
        "Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {}),
        **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read()


def decode_png(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and pixel rows of an 8-bit RGB PNG, checking every chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF, tag
        chunks[tag] = chunks.get(tag, b"") + body
        pos += 12 + length
    assert pos == len(data) and b"IEND" in chunks
    width, height, depth, colour, *_ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, colour) == (8, 2)
    rows = zlib.decompress(chunks[b"IDAT"])
    assert len(rows) == height * (1 + 3 * width)
    return width, height, rows


def test_generations_answer_valid_pngs_of_the_asked_size_on_both_paths(emu: Emulator) -> None:
    for path in ("/api/v1/images/generations", "/v1/images/generations"):
        status, body = post(emu, path, {"model": "hidream", "prompt": "a cat", "n": 2,
                                        "size": "768x1360"})
        assert status == 200
        assert set(body) == {"created", "data", "cost", "paymentSource", "remainingBalance"}
        assert body["cost"] == 0.02 and len(body["data"]) == 2
        for item in body["data"]:
            width, height, rows = decode_png(base64.b64decode(item["b64_json"]))
            assert (width, height) == (768, 1360)
            assert rows[0] == 0  # filter type of the first row


def test_each_billed_answer_is_charged_once_at_the_documented_price(emu: Emulator) -> None:
    before = len(emu.ledger.entries())
    post(emu, "/api/v1/images/generations", {"model": "pruna-ai/p-image/text-to-image",
                                             "prompt": "x", "n": 3})
    post(emu, "/api/v1/images/generations", {"prompt": "x", "size": "1x1"})  # refused
    entries = emu.ledger.entries()[before:]
    assert [(c.model, c.kind, c.amount) for c in entries] == [
        ("pruna-ai/p-image/text-to-image", "image", 0.015)]


@pytest.mark.parametrize("body,key,status,code", [
    ({"prompt": "x"}, None, 401, "missing_api_key"),
    (b"not json", KEY, 400, "invalid_json"),
    ({"prompt": ""}, KEY, 400, "missing_required_parameter"),
    ({"prompt": "x", "model": "nope"}, KEY, 404, "model_not_found"),
    ({"prompt": "x", "size": "1x1"}, KEY, 400, "invalid_parameter_value"),
    ({"prompt": "x", "n": 0}, KEY, 400, "invalid_parameter_value"),
    ({"prompt": "x", "response_format": "png"}, KEY, 400, "invalid_parameter_value"),
    ({"prompt": "x", "imageDataUrl": "data:image/png;base64,AAAA"}, KEY, 400,
     "image_input_not_supported"),
    ({"prompt": "x", "model": "gpt-image-1", "imageDataUrl": "https://x/y.png"}, KEY, 400,
     "invalid_parameter_value"),
])
def test_generation_errors(emu: Emulator, body: Any, key: str | None, status: int,
                           code: str) -> None:
    got, answer = post(emu, "/api/v1/images/generations", body, key=key)
    assert (got, answer["error"]["code"]) == (status, code)


def test_edit_errors(emu: Emulator) -> None:
    big = "data:image/png;base64," + "A" * (4 * 1024 * 1024)
    cases = [({"prompt": "x"}, "missing_image_input"),
             ({"prompt": "x", "imageDataUrl": big}, "image_input_too_large"),
             ({"prompt": "x", "imageDataUrls": "data:image/png;base64,AAAA"},
              "invalid_parameter_value")]
    for body, code in cases:
        status, answer = post(emu, "/api/v1/images/edit", body)
        assert (status, answer["error"]["code"]) == (400, code)


def test_url_answers_link_to_pngs_the_emulator_serves(emu: Emulator) -> None:
    status, body = post(emu, "/api/v1/images/edits", {
        "prompt": "x", "imageDataUrl": "data:image/png;base64,AAAA", "response_format": "url"})
    assert status == 200 and set(body["data"][0]) == {"url"}
    code, kind, data = get(body["data"][0]["url"])
    assert (code, kind) == (200, "image/png") and decode_png(data)[:2] == (1024, 1024)
    root = emu.base_url.split("/api/v1")[0]
    for name in ("9999x9999-000000000000.png", "../etc", "1x1-zz.png"):
        assert get(f"{root}/emulator/images/{name}")[0] == 404


def test_image_models_are_detailed_by_default(emu: Emulator) -> None:
    code, _, raw = get(emu.base_url + "/image-models")
    body = json.loads(raw)
    assert code == 200 and body["meta"]["count"] == len(body["data"])
    model = next(m for m in body["data"] if m["id"] == "hidream")
    assert model["pricing"]["per_image"]["1024*1024"] == 0.01
    assert set(model["supported_parameters"]) == {"resolutions", "max_images"}
    basic = json.loads(get(emu.base_url + "/image-models?detailed=false")[2])
    assert set(basic["data"][0]) == {"id", "object", "created", "owned_by"}


def test_fault_header_applies_to_image_endpoints(emu: Emulator) -> None:
    before = len(emu.ledger.entries())
    status, body = post(emu, "/api/v1/images/generations", {"prompt": "x"},
                        headers={FAULT_HEADER: json.dumps({"status": 503})})
    assert status == 503 and body["error"]["type"] == "api_error"
    assert len(emu.ledger.entries()) == before  # the model never ran: nothing charged


def test_the_openai_sdk_generates_against_the_emulator(emu: Emulator) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(api_key=KEY, base_url=emu.base_url, max_retries=0)
    r = client.images.generate(model="hidream", prompt="a cat", size="1024x1024", n=1)
    assert decode_png(base64.b64decode(r.data[0].b64_json))[:2] == (1024, 1024)
    client.close()


def test_the_openai_sdk_edits_with_multipart_uploads(emu: Emulator) -> None:
    openai = pytest.importorskip("openai")
    from nanogpt.emulator._images import png

    source = png(8, 8, bytes(range(6)))
    client = openai.OpenAI(api_key=KEY, base_url=emu.base_url, max_retries=0)
    r = client.images.edit(model="gpt-image-1", image=("in.png", source, "image/png"),
                           prompt="make it blue", n=2, size="1024x1024")
    assert len(r.data) == 2 and decode_png(base64.b64decode(r.data[1].b64_json))[:2] == (
        1024, 1024)
    r = client.images.edit(model="gpt-image-1", prompt="combine", mask=source,
                           image=[("a.png", source, "image/png"), ("b.png", source, "image/png")])
    assert len(r.data) == 1
    with pytest.raises(openai.BadRequestError) as e:  # no image: the documented error
        client.images.edit(model="gpt-image-1", prompt="x", image=[])
    assert e.value.code == "missing_image_input"
    client.close()


def test_a_broken_multipart_edit_is_refused(emu: Emulator) -> None:
    status, body = post(emu, "/api/v1/images/edits", b"--x\r\nnot a form",
                        headers={"Content-Type": "multipart/form-data"})
    assert (status, body["error"]["code"]) == (400, "invalid_multipart_body")
