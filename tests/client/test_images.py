"""``client.images``: generate, edit and the image models, on both clients against the emulator.

Generating and editing are billed: they follow chat's money rules (re-sent only when the
request surely was not processed; 400/404 never), and bad input is refused before anything is
sent."""

from __future__ import annotations

import base64
import io
import struct
import subprocess
import sys
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import nanogpt
from nanogpt.emulator import Emulator, Fault
from nanogpt.types import Image, ImageModel, ImagesResponse

GEN = "/images/generations"
EDIT = "/images/edits"


def png_size(data: bytes) -> tuple[int, int]:
    """The width and height in a PNG's header (and that it is one)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def charges(emu: Emulator) -> int:
    return len(emu.ledger.entries())


def tiny_png() -> bytes:
    from nanogpt.emulator._images import png

    return png(4, 4, bytes(range(6)))


def test_generate_returns_typed_images_with_the_charged_cost(client: Any, emu: Emulator) -> None:
    before = charges(emu)
    r = client.images.generate(model="gpt-image-1", prompt="a lighthouse at dawn", n=2,
                               size="1536x1024")
    assert isinstance(r, ImagesResponse) and len(r.data) == 2
    assert all(isinstance(i, Image) and i.url is None for i in r.data)
    assert [png_size(i.bytes()) for i in r.data] == [(1536, 1024), (1536, 1024)]
    assert r.data[0].bytes() != r.data[1].bytes()  # each image its own colours
    entry = emu.ledger.entries()[-1]
    assert charges(emu) == before + 1
    assert (entry.model, entry.kind, entry.amount) == ("gpt-image-1", "image", 0.12)
    assert r.cost == Decimal("0.12") and r.payment_source == "USD"
    assert isinstance(r.remaining_balance, Decimal) and r.created == 1767225600
    assert r.request_id and r.request_id.startswith("emu-")
    # exactly what the caller set, on the OpenAI-compatible path under the base URL
    sent = emu.requests[-1]
    assert sent.path == "/api/v1/images/generations"
    assert sent.body == {"prompt": "a lighthouse at dawn", "model": "gpt-image-1", "n": 2,
                         "size": "1536x1024"}


def test_every_typed_keyword_and_extra_body_reach_the_body(client: Any, emu: Emulator) -> None:
    client.images.generate(prompt="p", model="hidream", response_format="b64_json",
                           user="u-1", strength=0.5, guidance_scale=7.5,
                           num_inference_steps=30, seed=42, kontext_max_mode=False,
                           extra_body={"rendering_speed": "fast"},
                           extra_headers={"x-trace": "t1"})
    sent = emu.requests[-1]
    assert sent.body == {"prompt": "p", "model": "hidream", "response_format": "b64_json",
                         "user": "u-1", "strength": 0.5, "guidance_scale": 7.5,
                         "num_inference_steps": 30, "seed": 42, "kontext_max_mode": False,
                         "rendering_speed": "fast"}
    assert sent.headers["x-trace"] == "t1"


def test_same_prompt_same_image_another_prompt_another(client: Any) -> None:
    a = client.images.generate(prompt="a red fox").data[0].bytes()
    b = client.images.generate(prompt="a red fox").data[0].bytes()
    c = client.images.generate(prompt="a blue whale").data[0].bytes()
    assert a == b != c
    assert png_size(a) == (1024, 1024)  # the model's first size when none is asked for


def test_save_writes_the_image_and_replaces_a_file(client: Any, tmp_path: Path) -> None:
    target = tmp_path / "fox.png"
    target.write_bytes(b"old")
    image = client.images.generate(prompt="a red fox").data[0]
    assert image.save(target) == target
    assert target.read_bytes() == image.bytes()
    assert "base64 chars" in repr(image) and image.b64_json[:20] not in repr(image)


def test_a_url_answer_gives_a_link_and_save_says_to_download_it(client: Any, emu: Emulator,
                                                                 tmp_path: Path) -> None:
    r = client.images.generate(prompt="a red fox", response_format="url")
    image = r.data[0]
    assert image.b64_json is None and image.url.startswith(emu.base_url.split("/api")[0])
    with pytest.raises(nanogpt.InvalidParameterError, match=r"download \.url") as e:
        image.save(tmp_path / "x.png")
    assert e.value.param == "response_format"
    assert not (tmp_path / "x.png").exists()
    # the emulator serves the link (on loopback): the same PNG the data answer carries
    with urllib.request.urlopen(image.url, timeout=10) as resp:
        linked = resp.read()
    assert linked == client.images.generate(prompt="a red fox").data[0].bytes()


def test_edit_sends_every_kind_of_image_as_a_data_url(client: Any, emu: Emulator,
                                                      tmp_path: Path) -> None:
    data = tiny_png()
    path = tmp_path / "in.png"
    path.write_bytes(data)
    url = "data:image/png;base64," + base64.b64encode(data).decode()
    for given in (data, str(path), path, io.BytesIO(data), url):
        r = client.images.edit(image=given, prompt="make it blue", model="gpt-image-1")
        assert png_size(r.data[0].bytes()) == (1024, 1024)
        sent = emu.requests[-1]
        assert sent.path == "/api/v1/images/edits"
        assert sent.body["imageDataUrl"] == url and "imageDataUrls" not in sent.body
    client.images.edit(image=[data, path], mask=data, prompt="combine", model="gpt-image-1")
    body = emu.requests[-1].body
    assert body["imageDataUrls"] == [url, url] and body["maskDataUrl"] == url
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 20
    client.images.edit(image=jpeg, prompt="p", model="flux-kontext")
    assert emu.requests[-1].body["imageDataUrl"].startswith("data:image/jpeg;base64,")


@pytest.mark.parametrize("call,param", [
    ({"prompt": ""}, "prompt"),
    ({"prompt": "   "}, "prompt"),
    ({"prompt": "p", "n": 0}, "n"),
    ({"prompt": "p", "n": True}, "n"),
    ({"prompt": "p", "n": "2"}, "n"),
    ({"prompt": "p", "size": ""}, "size"),
    ({"prompt": "p", "model": 3}, "model"),
    ({"prompt": "p", "response_format": "png"}, "response_format"),
    ({"prompt": "p", "strength": 1.5}, "strength"),
    ({"prompt": "p", "guidance_scale": -1}, "guidance_scale"),
    ({"prompt": "p", "num_inference_steps": 0}, "num_inference_steps"),
    ({"prompt": "p", "seed": 1.5}, "seed"),
    ({"prompt": "p", "kontext_max_mode": "yes"}, "kontext_max_mode"),
    ({"prompt": "p", "extra_body": ["x"]}, "extra_body"),
])
def test_bad_generate_arguments_are_refused_before_sending(client: Any, emu: Emulator,
                                                           call: dict[str, Any],
                                                           param: str) -> None:
    with pytest.raises(nanogpt.InvalidParameterError) as e:
        client.images.generate(**call)
    assert e.value.param == param
    assert emu.count() == 0


def _edit_cases() -> list[tuple[dict[str, Any], str]]:
    from nanogpt._core.images import MAX_IMAGE_BYTES

    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_IMAGE_BYTES
    return [
        ({"image": b"just some text"}, "image"),
        ({"image": b""}, "image"),
        ({"image": "https://example.com/cat.png"}, "image"),
        ({"image": "data:text/plain;base64,aGk="}, "image"),
        ({"image": big}, "image"),
        ({"image": "data:image/png;base64," + "A" * (4 * 1024 * 1024)}, "image"),
        ({"image": []}, "image"),
        ({"image": [tiny_png(), b"nope"]}, "image[1]"),
        ({"image": tiny_png(), "mask": b"nope"}, "mask"),
        ({"image": 42}, "image"),
        ({"image": io.StringIO("text mode")}, "image"),
        ({"image": tiny_png(), "prompt": ""}, "prompt"),
    ]


@pytest.mark.parametrize("call,param", _edit_cases(),
                         ids=lambda v: v if isinstance(v, str) else "-".join(v))
def test_bad_edit_arguments_are_refused_before_sending(client: Any, emu: Emulator,
                                                       call: dict[str, Any],
                                                       param: str) -> None:
    with pytest.raises(nanogpt.InvalidParameterError) as e:
        client.images.edit(**{"prompt": "p", **call})
    assert e.value.param == param
    assert emu.count() == 0


def test_a_file_over_the_limit_is_refused_before_sending(client: Any, emu: Emulator,
                                                        tmp_path: Path) -> None:
    from nanogpt._core.images import MAX_IMAGE_BYTES

    big = tmp_path / "big.png"
    with big.open("wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.truncate(MAX_IMAGE_BYTES * 50)  # sparse: 150 MB that cost no disk
    with pytest.raises(nanogpt.InvalidParameterError, match="4 MB"):
        client.images.edit(image=big, prompt="p")
    assert emu.count() == 0


@pytest.mark.parametrize("call,status,code,param", [
    ({"prompt": "p", "size": "333x333"}, 400, "invalid_parameter_value", "size"),
    ({"prompt": "p", "model": "no/such-image-model"}, 404, "model_not_found", "model"),
    ({"prompt": "p", "model": "flux-kontext", "n": 2}, 400, "invalid_parameter_value", "n"),
    ({"prompt": "p", "n": 5}, 400, "invalid_parameter_value", "n"),
])
def test_documented_errors_are_typed_sent_once_and_not_charged(
        client: Any, emu: Emulator, call: dict[str, Any], status: int, code: str,
        param: str) -> None:
    before = charges(emu)
    with pytest.raises(nanogpt.APIStatusError) as e:
        client.images.generate(**call)
    assert (e.value.status_code, e.value.code, e.value.param) == (status, code, param)
    assert emu.count() == 1  # 400 and 404 are never retried
    assert charges(emu) == before


def test_edit_errors_from_the_service(client: Any, emu: Emulator) -> None:
    with pytest.raises(nanogpt.BadRequestError) as e:
        client.images.edit(image=tiny_png(), prompt="p", model="hidream")
    assert e.value.code == "image_input_not_supported"
    with pytest.raises(nanogpt.BadRequestError) as e:
        client.images.edit(image=tiny_png(), mask=tiny_png(), prompt="p", model="flux-kontext")
    assert e.value.code == "image_input_not_supported"
    with pytest.raises(nanogpt.BadRequestError) as e:  # an edit without an image
        client.images.edit(image=tiny_png(), prompt="p",
                           extra_body={"imageDataUrl": None})
    assert e.value.code == "missing_image_input"
    assert emu.count() == 3


def test_a_503_then_success_is_retried_and_charged_once(client: Any, emu: Emulator) -> None:
    before = charges(emu)
    emu.inject(Fault(status=503, retry_after=0), path=GEN)
    r = client.images.generate(prompt="p")
    assert len(r.data) == 1
    assert emu.count() == 2 and charges(emu) == before + 1


def test_a_429_with_retry_after_is_waited_on(client: Any, emu: Emulator) -> None:
    emu.inject(Fault(status=429, retry_after=0), path=EDIT)
    r = client.images.edit(image=tiny_png(), prompt="p")
    assert len(r.data) == 1 and emu.count() == 2


def test_a_500_is_not_re_sent(client: Any, emu: Emulator) -> None:
    emu.inject(Fault(status=500), path=GEN)
    with pytest.raises(nanogpt.InternalServerError):
        client.images.generate(prompt="p")
    assert emu.count() == 1


def test_an_answer_cut_off_raises_and_is_never_re_sent(client: Any, emu: Emulator) -> None:
    before = charges(emu)
    emu.inject(Fault(reset_after_chunks=0), path=GEN)
    with pytest.raises(nanogpt.APIConnectionError) as e:
        client.images.generate(prompt="p")
    assert e.value.answer_cut
    assert emu.count() == 1 and charges(emu) == before + 1  # billed once, sent once


def test_odd_answers(client: Any, emu: Emulator) -> None:
    emu.inject(Fault(non_json=True), path=GEN)
    with pytest.raises(nanogpt.APIResponseValidationError):
        client.images.generate(prompt="p")
    emu.inject(Fault(body='{"created": 1, "data": [{"b64_json": "***"}], "cost": "n/a", '
                        '"extra": {"x": 1}}'), path=GEN)
    r = client.images.generate(prompt="p")
    assert r.cost is None and r.raw["extra"] == {"x": 1} and r.to_dict()["cost"] == "n/a"
    with pytest.raises(nanogpt.APIResponseValidationError, match="base64"):
        r.data[0].bytes()
    emu.inject(Fault(body='{"created": 1}'), path=GEN)
    with pytest.raises(nanogpt.APIResponseValidationError, match="data"):
        client.images.generate(prompt="p")


def test_image_models_are_typed_with_sizes_and_prices(make_client: Any, emu: Emulator,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NANOGPT_API_KEY", raising=False)
    client = make_client(api_key=None)  # the list needs no key
    models = client.images.models()
    assert models.request_id and models.data is models
    by_id = {m.id: m for m in models}
    m = by_id["gpt-image-1"]
    assert isinstance(m, ImageModel) and m.request_id == models.request_id
    assert m.capabilities.image_to_image and m.capabilities.inpainting
    assert "1536x1024" in m.supported_parameters.resolutions
    assert m.supported_parameters.max_images == 4
    assert m.pricing.for_size("1536x1024") == Decimal("0.06")
    assert m.pricing.currency == "USD" and m.raw["architecture"]["output_modalities"] == ["image"]
    assert emu.requests[-1].path == "/api/v1/image-models?detailed=true"
    assert "authorization" not in emu.requests[-1].headers
    basic = client.images.models(detailed=False)
    assert basic[0].name is None and basic[0].pricing.per_image == {}


def test_copies_and_the_raw_view_have_images(make_client: Any, kind: str,
                                             loop_thread: Any) -> None:
    client = make_client()
    copy = client.with_options(max_retries=0)
    if kind == "async":  # a client a method returned: behind the blocking proxy too
        from conftest import SyncProxy

        copy = SyncProxy(copy, loop_thread)
    assert len(copy.images.generate(prompt="p").data) == 1
    raw = client.with_raw_response.images.generate(prompt="p")
    assert raw.status_code == 200 and raw.json()["data"][0]["b64_json"]
    parsed = raw.parse() if kind == "sync" else loop_thread.run(raw.parse())
    assert isinstance(parsed, ImagesResponse) and parsed.request_id == raw.request_id


def test_the_images_namespace_loads_on_first_use() -> None:
    code = ("import sys, nanogpt\n"
            "c = nanogpt.NanoGPT('k', base_url='http://127.0.0.1:9/api/v1')\n"
            "a = nanogpt.AsyncNanoGPT('k', base_url='http://127.0.0.1:9/api/v1')\n"
            "print('nanogpt._images' in sys.modules, end=' ')\n"
            "c.images, a.images\n"
            "print('nanogpt._images' in sys.modules, c.images is c.images)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=60)
    assert r.stdout.strip() == "False True True", r.stderr


def test_usage_reflects_what_images_cost(client: Any) -> None:
    """The emulator's usage (i12-account) is made from the same ledger: an image call's cost
    is there, under its model."""
    before = client.usage(group_by="model").totals.cost
    r = client.images.generate(model="gpt-image-1", prompt="p", n=2, size="1024x1536")
    report = client.usage(group_by="model")
    assert report.totals.cost - before == r.cost == Decimal("0.12")
    assert any(row.cost >= r.cost for row in report.by_model)
