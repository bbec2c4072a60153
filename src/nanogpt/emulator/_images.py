"""The image endpoints: generation (``POST /v1/images/generations``, also under ``/api/v1``),
edits (``POST /api/v1/images/edits`` and ``/edit``: JSON with data URLs, or a multipart form
as the ``openai`` SDK sends it), the image model list (``GET /api/v1/image-models``), and the
files behind ``response_format: "url"`` answers.

The images are small valid PNGs made here with zlib and struct, of the requested size, in
colours that follow the prompt (and the image's index): the same request gets the same bytes,
another prompt other colours. The models, sizes and prices are illustrative, shaped like
NanoGPT's detailed image model list. A billed answer charges ``per_image`` times ``n`` in the
ledger (kind ``image``) and reports the same amount as ``cost``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import struct
import zlib
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web

from . import _phases
from ._auth import unauthorized
from ._errors import json_error
from ._exchange import RequestKeys as K
from ._records import RecordedRequest

if TYPE_CHECKING:
    from ._faults import Fault
    from ._routes import Site

__all__ = ["edits", "generations", "image_file", "image_models"]

CREATED = 1767225600  # the `created` of every answer: answers are deterministic
DEFAULT_MODEL = "hidream"  # the documented default of the generation endpoint
DEFAULT_EDIT_MODEL = "gpt-image-1"  # "an image-edit-capable default" for edits
MAX_DATA_URL_CHARS = 4 * 1024 * 1024  # "4 MB or smaller after encoding"
AUTO_SIZE = (1024, 1024)  # what a size that is not WxH ("auto") gives
FILE_PATH = "/emulator/images/"  # where the images of "url" answers are served


def _image_model(id: str, name: str, *, owner: str, created: int, prices: dict[str, float],
                 max_images: int, image_to_image: bool = False, inpainting: bool = False
                 ) -> dict[str, Any]:
    inputs = ["text", "image"] if image_to_image else ["text"]
    return {
        "id": id, "object": "model", "created": created, "owned_by": owner, "name": name,
        "description": f"{name} (emulated by nanogpt)",
        "architecture": {"modality": "+".join(inputs) + "->image",
                         "input_modalities": inputs, "output_modalities": ["image"]},
        "pricing": {"per_image": {k.replace("x", "*"): v for k, v in prices.items()},
                    "currency": "USD"},
        "capabilities": {"image_generation": True, "image_to_image": image_to_image,
                         "inpainting": inpainting, "nsfw": False},
        "supported_parameters": {"resolutions": list(prices), "max_images": max_images},
        "icon_url": "/icons/Default.svg", "tags": ["text-to-image", owner], "category": "image",
    }


MODELS: list[dict[str, Any]] = [
    _image_model("hidream", "HiDream", owner="hidream", created=1744156800,
                 prices={"1024x1024": 0.01, "768x1360": 0.01, "1360x768": 0.01}, max_images=4),
    _image_model("pruna-ai/p-image/text-to-image", "P-Image", owner="prunaai",
                 created=1778544000,
                 prices={"1024x1024": 0.005, "1376x768": 0.005, "1184x896": 0.005},
                 max_images=4),
    _image_model("gpt-image-1", "GPT Image 1", owner="openai", created=1745366400,
                 prices={"auto": 0.04, "1024x1024": 0.04, "1536x1024": 0.06,
                         "1024x1536": 0.06}, max_images=4, image_to_image=True,
                 inpainting=True),
    _image_model("flux-kontext", "FLUX.1 Kontext", owner="black-forest-labs",
                 created=1748822400, prices={"1024x1024": 0.025}, max_images=1,
                 image_to_image=True),
]
BY_ID = {m["id"]: m for m in MODELS}


class Refused(Exception):
    """A request the service would refuse: status, message, code and param of the answer."""

    def __init__(self, status: int, message: str, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param


# the PNG --------------------------------------------------------------------------------

def _chunk(tag: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + tag + data
            + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))


@functools.lru_cache(maxsize=32)
def png(width: int, height: int, colours: bytes) -> bytes:
    """A valid RGB PNG of ``width`` x ``height``: eight horizontal bands alternating between
    the two colours of ``colours`` (6 bytes). Rows repeat, so it compresses to little."""
    rows = [b"\x00" + colours[(band % 2) * 3:(band % 2) * 3 + 3] * width for band in range(2)]
    band_height = max(1, height // 8)
    raw = b"".join(rows[(y // band_height) % 2] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b""))


def _dimensions(size: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{1,4})x(\d{1,4})", size)
    return (int(match[1]), int(match[2])) if match else AUTO_SIZE


def _colours(prompt: str, model: str, index: int) -> bytes:
    return hashlib.sha256(f"{model}\0{prompt}\0{index}".encode()).digest()[:6]


# checks ---------------------------------------------------------------------------------

def _check_data_url(param: str, value: Any) -> None:
    if not isinstance(value, str) or not value.lower().startswith("data:image/") \
            or ";base64," not in value[:200]:
        raise Refused(400, f"{param} must be a base64 data URL (data:image/...;base64,...)",
                      "invalid_parameter_value", param)
    if len(value) > MAX_DATA_URL_CHARS:
        raise Refused(400, f"{param} is larger than 4 MB", "image_input_too_large", param)


def _check_inputs(body: dict[str, Any], model: dict[str, Any], *, edit: bool) -> None:
    """The image inputs (``imageDataUrl``, ``imageDataUrls``, ``maskDataUrl``)."""
    images = [body["imageDataUrl"]] if body.get("imageDataUrl") is not None else []
    many = body.get("imageDataUrls")
    if many is not None:
        if not isinstance(many, list):
            raise Refused(400, "imageDataUrls must be an array of data URLs",
                          "invalid_parameter_value", "imageDataUrls")
        images += many
    if edit and not images:
        raise Refused(400, "image is required", "missing_image_input", "image")
    for i, value in enumerate(images):
        _check_data_url("imageDataUrl" if i == 0 and body.get("imageDataUrl") is not None
                        else "imageDataUrls", value)
    mask = body.get("maskDataUrl")
    if mask is not None:
        _check_data_url("maskDataUrl", mask)
    caps = model["capabilities"]
    if images and not caps["image_to_image"]:
        raise Refused(400, f"{model['id']} does not take image inputs",
                      "image_input_not_supported", "imageDataUrl")
    if mask is not None and not caps["inpainting"]:
        raise Refused(400, f"{model['id']} does not take a mask", "image_input_not_supported",
                      "maskDataUrl")


def _check(body: Any, *, edit: bool) -> tuple[dict[str, Any], str, int]:
    """The checks the service makes before any model runs: the model, the size, ``n``."""
    if not isinstance(body, dict):
        raise Refused(400, "Request body must be a JSON object", "invalid_json")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise Refused(400, "prompt is required", "missing_required_parameter", "prompt")
    model_id = body.get("model") or (DEFAULT_EDIT_MODEL if edit else DEFAULT_MODEL)
    model = BY_ID.get(model_id) if isinstance(model_id, str) else None
    if model is None:
        raise Refused(404, f"Image model {model_id!r} not found", "model_not_found", "model")
    if body.get("response_format") not in (None, "b64_json", "url"):
        raise Refused(400, "response_format must be 'b64_json' or 'url'",
                      "invalid_parameter_value", "response_format")
    limit = model["supported_parameters"]["max_images"]
    n = body.get("n", 1)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= limit:
        allowed = "1" if limit == 1 else f"an integer from 1 to {limit}"
        raise Refused(400, f"n must be {allowed} for {model['id']}", "invalid_parameter_value",
                      "n")
    sizes = model["supported_parameters"]["resolutions"]
    size = body.get("size", sizes[0])
    if size not in sizes:
        raise Refused(400, f"size must be one of {', '.join(sizes)} for {model['id']}",
                      "invalid_parameter_value", "size")
    _check_inputs(body, model, edit=edit)
    return model, size, n


# multipart edits ------------------------------------------------------------------------

def _form_fields(content_type: str, raw: bytes) -> dict[str, Any]:
    """A ``multipart/form-data`` edit (as the ``openai`` SDK sends it) as the JSON body it
    stands for: files become data URLs, ``image`` and ``image[]`` the image inputs. A link
    given as ``image`` is taken (the service downloads it; the emulator uses a stand-in)."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise Refused(400, "Request body must be a JSON object or multipart/form-data",
                      "invalid_json")
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + raw)
    if not message.is_multipart() or message.defects:
        raise Refused(400, "The multipart body could not be parsed", "invalid_multipart_body")
    body: dict[str, Any] = {}
    images: list[str] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        if not isinstance(name, str) or not isinstance(data, bytes):
            continue
        if name in ("image", "image[]", "mask"):
            value = _form_image(part.get_content_type(), part.get_filename(), data)
            if name == "mask":
                body["maskDataUrl"] = value
            else:
                images.append(value)
        else:
            text = data.decode("utf-8", "replace")
            body[name] = int(text) if name == "n" and text.isdigit() else text
    if len(images) == 1:
        body["imageDataUrl"] = images[0]
    elif images:
        body["imageDataUrls"] = images
    return body


def _form_image(content_type: str, filename: str | None, data: bytes) -> str:
    """A form's image as a data URL: a file's bytes encoded, a data URL as it is, a link
    replaced by a stand-in image (the emulator fetches nothing)."""
    if filename is None:
        text = data.decode("utf-8", "replace")
        if text.lower().startswith(("http://", "https://")):
            return "data:image/png;base64," + base64.b64encode(
                png(1, 1, bytes(6))).decode()
        return text
    mime = content_type if content_type.startswith("image/") else "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


# handlers -------------------------------------------------------------------------------

async def generations(site: Site, request: web.Request) -> web.StreamResponse:
    """``POST /v1/images/generations``: ``n`` images for a prompt (and image inputs)."""
    return await _answer(site, request, edit=False)


async def edits(site: Site, request: web.Request) -> web.StreamResponse:
    """``POST /api/v1/images/edits`` (and ``/edit``): JSON with the images as data URLs, or
    a multipart form with files."""
    return await _answer(site, request, edit=True)


async def _answer(site: Site, request: web.Request, *, edit: bool) -> web.StreamResponse:
    rid = request[K.rid]
    refused = unauthorized(request)
    if refused is not None:
        return refused
    body: Any = request[K.json]
    try:
        if edit and isinstance(body, bytes):
            body = _form_fields(request.headers.get("Content-Type", ""), body)
        model, size, n = _check(body, edit=edit)
    except Refused as r:
        return json_error(rid, r.status, r.message, code=r.code, param=r.param)
    price = model["pricing"]["per_image"][size.replace("x", "*")]
    amount = round(price * n, 10)
    cast(RecordedRequest, request[K.record]).started = True  # the answer starts here
    site.ledger.charge(model["id"], "image", amount)
    width, height = _dimensions(size)
    as_url = body.get("response_format") == "url"
    data = []
    for i in range(n):
        colours = _colours(body["prompt"], model["id"], i)
        if as_url:
            data.append({"url": f"http://{request.host}{FILE_PATH}"
                                f"{width}x{height}-{colours.hex()}.png"})
        else:
            data.append({"b64_json": base64.b64encode(png(width, height, colours)).decode()})
    answer = {"created": CREATED, "data": data, "cost": amount, "paymentSource": "USD",
              "remainingBalance": round(float(site.settings.balance) - amount, 8)}
    fault = cast("Fault | None", request[K.fault])
    return await _phases.send_chat_body(request, fault, json.dumps(answer).encode())


async def image_file(site: Site, request: web.Request) -> web.StreamResponse:
    """``GET /emulator/images/{name}``: the PNG a ``url`` answer links to (no key: a signed
    link needs none). Its name says all it is, so the emulator keeps no images."""
    match = re.fullmatch(r"(\d{1,4})x(\d{1,4})-([0-9a-f]{12})\.png",
                         request.match_info["name"])
    if match is None or not 0 < int(match[1]) <= 2048 \
            or not 0 < int(match[2]) <= 2048:
        return json_error(request[K.rid], 404, "No such image", code="not_found")
    data = png(int(match[1]), int(match[2]), bytes.fromhex(match[3]))
    return web.Response(body=data, content_type="image/png",
                        headers={"X-Request-ID": request[K.rid]})


async def image_models(site: Site, request: web.Request) -> web.Response:
    """``GET /api/v1/image-models``: detailed unless ``detailed=false`` (the documented
    default is true); no key needed."""
    detailed = request.query.get("detailed", "true").lower() != "false"
    data = [m if detailed else {k: m[k] for k in ("id", "object", "created", "owned_by")}
            for m in MODELS]
    return web.json_response({"object": "list", "data": data,
                              "meta": {"count": len(data),
                                       "generated_at": "2026-01-01T00:00:00.000Z"}},
                             headers={"X-Request-ID": request[K.rid]})
