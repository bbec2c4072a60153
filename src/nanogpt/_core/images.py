"""The sans-I/O half of NanoGPT's images: the checks, the requests, the typed answers.

Facts (docs/nanogpt-api.md, "Images"): generation is OpenAI's ``POST /v1/images/generations``
(also served under ``/api/v1``, where the client's base URL points); editing is its own
endpoint, ``POST /api/v1/images/edits``, which takes the input images as base64 data URLs in
JSON (``imageDataUrl``, ``imageDataUrls``, ``maskDataUrl``), each at most 4 MB encoded; the
image model list is ``GET /api/v1/image-models``. An answer holds ``data[i].b64_json`` (the
default) or ``data[i].url`` (a signed link that expires in about an hour), and what the call
was charged: ``cost``, ``paymentSource``, ``remainingBalance``.

:class:`ImagesCore` checks every argument (``InvalidParameterError``, before anything is sent),
builds the requests and decodes the answers. Generating and editing are billed, so neither is
ever re-sent once it may have reached the server; the model list is a free GET.

The one I/O here is :meth:`Image.save`, which writes the bytes the caller already holds to the
file the caller names (reading the caller's image files is the namespaces' job:
``nanogpt._images``).
"""

from __future__ import annotations

import base64
import binascii
import builtins
import os
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import urlencode

import msgspec

from .errors import APIResponseValidationError, InvalidParameterError
from .params import _integer, _kind, _number, _one_of, add_extra_body
from .results import with_request_id
from .types import (
    JSONObjectView,
    KeepsRaw,
    ModelPage,
    _to_decimal,
    json_object,
    typed_object,
    unexpected_answer,
)

if TYPE_CHECKING:
    from .client import ClientCore, Request
    from .config import Timeout

__all__ = [
    "IMAGE_FORMATS",
    "MAX_DATA_URL_CHARS",
    "MAX_IMAGE_BYTES",
    "Image",
    "ImageCapabilities",
    "ImageInput",
    "ImageModel",
    "ImageModelList",
    "ImageParameters",
    "ImagePricing",
    "ImageResponseFormat",
    "ImagesCore",
    "ImagesResponse",
    "data_url",
]

ImageResponseFormat = Literal["b64_json", "url"]
# what ``images.edit`` takes as an image: the bytes, a path, an open binary file, or a
# ``data:image/...;base64,...`` URL
ImageInput = bytes | str | os.PathLike[str] | IO[bytes]

# "Uploads should be 4 MB or smaller after encoding" (image-generation-openai.mdx): read as
# 4 MiB of data URL, checked before sending
MAX_DATA_URL_CHARS = 4 * 1024 * 1024
# the raw bytes whose data URL could still fit (base64 makes 3 bytes 4 characters)
MAX_IMAGE_BYTES = MAX_DATA_URL_CHARS // 4 * 3

IMAGE_FORMATS = "PNG, JPEG, WebP or GIF"
# the image types told by their first bytes, as a data URL names them
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def _mime_type(data: bytes) -> str | None:
    """The type of an image from its first bytes; None when it is none we know."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in _SIGNATURES if data.startswith(magic)), None)


def _too_large(param: str) -> InvalidParameterError:
    return InvalidParameterError(
        param, f"is larger than NanoGPT takes: at most 4 MB as a data URL "
               f"({MAX_DATA_URL_CHARS:,} characters, about {MAX_IMAGE_BYTES:,} bytes of "
               f"image); compress or resize it")


def data_url(param: str, value: builtins.bytes | str) -> str:
    """An image as the data URL NanoGPT takes: ``value`` is the image's bytes (PNG, JPEG,
    WebP or GIF, told by their first bytes), or already a ``data:image/...;base64,`` URL.
    Raises ``InvalidParameterError`` naming ``param`` for anything else (a link: NanoGPT
    does not fetch images) and for an image over the documented 4 MB."""
    if isinstance(value, str):
        head = value[:40].lower()
        if head.startswith(("http://", "https://")):
            raise InvalidParameterError(param, "NanoGPT takes images as data, not links: "
                                               "download it and pass its bytes or its path")
        if not head.startswith("data:image/") or ";base64," not in value[:200].lower():
            raise InvalidParameterError(param, "a data URL must be an image's: "
                                               "'data:image/<type>;base64,...'")
        if len(value) > MAX_DATA_URL_CHARS:
            raise _too_large(param)
        return value
    if not value:
        raise InvalidParameterError(param, "is empty")
    mime = _mime_type(value)
    if mime is None:
        raise InvalidParameterError(param, f"is not a {IMAGE_FORMATS} image (send another "
                                           f"type as a data URL you make)")
    size = len(f"data:{mime};base64,") + (len(value) + 2) // 3 * 4
    if size > MAX_DATA_URL_CHARS:
        raise _too_large(param)
    return f"data:{mime};base64,{base64.b64encode(value).decode('ascii')}"


# the answers ------------------------------------------------------------------------------

class Image(KeepsRaw):
    """One image of an answer: ``b64_json`` (the image, base64) or ``url`` (a signed link
    that expires in about an hour), never both. ``bytes()`` and ``save(path)`` decode
    ``b64_json``; an image that came as a link cannot be saved: download ``url``."""

    b64_json: str | None = None
    url: str | None = None
    revised_prompt: str | None = None

    def bytes(self) -> builtins.bytes:
        """The image, decoded. Raises ``InvalidParameterError`` (``response_format``) when
        it came as a link (``url``), ``APIResponseValidationError`` when the answer gave no
        image at all (an empty ``b64_json``, or neither field)."""
        if (self.b64_json is None and self.url is None) or self.b64_json == "":
            raise APIResponseValidationError(
                "the answer holds no image here: neither data (b64_json) nor a link (url)",
                status_code=200, request_id=self.request_id)
        if self.b64_json is None:
            raise InvalidParameterError(
                "response_format", "this image came as a link (response_format='url'), "
                "not as data: download .url (it expires in about an hour), or ask for "
                "response_format='b64_json'")
        try:
            return base64.b64decode(self.b64_json, validate=True)
        except (binascii.Error, ValueError):
            raise APIResponseValidationError("the image's b64_json is not valid base64",
                                             status_code=200,
                                             request_id=self.request_id) from None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the image to ``path`` (replacing a file there, as ``curl -o`` does) and
        return the path. A blocking write of the bytes already in memory (in async code,
        ``await asyncio.to_thread(image.save, path)`` keeps the loop free for a large one).
        Raises as :meth:`bytes` does for an image that came as a link; nothing is written
        then."""
        data = self.bytes()
        target = Path(path)
        target.write_bytes(data)
        return target

    def __repr__(self) -> str:
        """Never the megabytes of ``b64_json``: their size."""
        data = f"<{len(self.b64_json):,} base64 chars>" if self.b64_json is not None else None
        return f"Image(b64_json={data}, url={self.url!r})"


class ImagesResponse(KeepsRaw):
    """The answer of ``images.generate`` and ``images.edit``: ``data`` (the images),
    ``created``, and what NanoGPT charged (``cost`` in USD, ``payment_source``,
    ``remaining_balance``)."""

    created: int | float | None = None
    data: list[Image] = msgspec.field(default_factory=list)
    _cost: Any = msgspec.field(default=None, name="cost")
    _payment_source: Any = msgspec.field(default=None, name="paymentSource")
    _remaining: Any = msgspec.field(default=None, name="remainingBalance")
    _shown: ClassVar[tuple[str, ...]] = ("cost",)

    @property
    def cost(self) -> Decimal | None:
        """What NanoGPT charged for this call, in USD, when it said."""
        return _to_decimal(self._cost)

    @property
    def payment_source(self) -> str | None:
        return self._payment_source if isinstance(self._payment_source, str) else None

    @property
    def remaining_balance(self) -> Decimal | None:
        return _to_decimal(self._remaining)


class ImageCapabilities(msgspec.Struct):
    image_generation: bool = False
    image_to_image: bool = False
    inpainting: bool = False
    nsfw: bool = False


class ImageParameters(msgspec.Struct):
    """The documented common fields of a model's ``supported_parameters`` (the rest are in
    the model's ``raw``)."""

    resolutions: list[str] = msgspec.field(default_factory=list)
    max_images: int | None = None
    rendering_speed: list[str] | None = None
    fixed_image_count: int | None = None


class ImagePricing(JSONObjectView):
    """A model's prices (USD; the shape varies by model). ``per_image`` maps a resolution,
    written ``1024*1024``, to the price of one image; :meth:`for_size` reads it for a size
    as requests write it (``1024x1024``)."""

    __slots__ = ()

    @property
    def currency(self) -> str:
        value = self._d.get("currency")
        return value if isinstance(value, str) else "USD"

    @property
    def per_image(self) -> dict[str, Decimal]:
        table = self._d.get("per_image")
        if not isinstance(table, dict):
            return {}
        prices = {str(k): _to_decimal(v) for k, v in table.items()}
        return {k: v for k, v in prices.items() if v is not None}

    def for_size(self, size: str) -> Decimal | None:
        """The price of one image of ``size`` (``"1024x1024"``), when the list gives one."""
        table = self.per_image
        return table.get(size.replace("x", "*"), table.get(size))


class ImageModel(KeepsRaw):
    """An image model of ``GET /api/v1/image-models``."""

    id: str
    object: str = "model"
    created: int | float | None = None
    owned_by: str | None = None
    name: str | None = None
    description: str | None = None
    capabilities: ImageCapabilities = msgspec.field(default_factory=ImageCapabilities)
    supported_parameters: ImageParameters = msgspec.field(default_factory=ImageParameters)
    _pricing: Any = msgspec.field(default=None, name="pricing")
    icon_url: str | None = None
    tags: list[str] | None = None
    category: str | None = None
    _shown: ClassVar[tuple[str, ...]] = ("pricing",)

    @property
    def pricing(self) -> ImagePricing:
        return ImagePricing(self._pricing if isinstance(self._pricing, dict) else {})


class ImageModelList(ModelPage[ImageModel]):
    """The image models (``client.images.models()``): a :class:`ModelPage` of
    :class:`ImageModel`."""


# requests ---------------------------------------------------------------------------------

# the optional fields of both endpoints: (check, sent as); ranges from NanoGPT's OpenAPI file
_FIELDS: dict[str, Any] = {
    "model": _kind(str, what="a model id"),
    "n": _integer(1),
    "size": _kind(str, what="a size such as '1024x1024'"),
    "response_format": _one_of("b64_json", "url"),
    "user": _kind(str, what="a string"),
    "strength": _number(0, 1),
    "guidance_scale": _number(0, 20),
    "num_inference_steps": _integer(1, 100),
    "seed": _integer(),
    "kontext_max_mode": _kind(bool, what="true or false"),
}


def _body(prompt: Any, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body: the prompt and only the fields the caller set, each checked."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidParameterError("prompt", "must be a non-empty string")
    body: dict[str, Any] = {"prompt": prompt}
    for name, value in fields.items():
        if value is None:
            continue
        _FIELDS[name](name, value)
        if isinstance(value, str) and not value.strip():
            raise InvalidParameterError(name, "must not be empty")
        body[name] = value
    return body


class ImagesCore:
    """The sans-I/O half of ``client.images``."""

    def __init__(self, core: ClientCore) -> None:
        self.core = core

    def generate_request(self, prompt: Any, fields: Mapping[str, Any], *,
                         extra_body: Mapping[str, Any] | None,
                         extra_headers: Mapping[str, str] | None,
                         timeout: Timeout | float | None) -> Request:
        body = add_extra_body(_body(prompt, fields), extra_body)
        # billed: never re-sent once it may have reached the server (idempotent=False)
        return self.core.request("POST", "/images/generations", body=body, idempotent=False,
                                 extra_headers=extra_headers, timeout=timeout)

    def edit_request(self, prompt: Any, images: list[builtins.bytes | str],
                     mask: builtins.bytes | str | None, fields: Mapping[str, Any], *,
                     extra_body: Mapping[str, Any] | None,
                     extra_headers: Mapping[str, str] | None,
                     timeout: Timeout | float | None) -> Request:
        """``images``: the images the caller gave, read (bytes or data URLs). One goes as
        ``imageDataUrl``, which every image-to-image model takes; several as
        ``imageDataUrls``."""
        body = _body(prompt, fields)
        if not images:
            raise InvalidParameterError("image", "give at least one image")
        if len(images) == 1:
            body["imageDataUrl"] = data_url("image", images[0])
        else:
            body["imageDataUrls"] = [data_url(f"image[{i}]", v) for i, v in enumerate(images)]
        if mask is not None:
            body["maskDataUrl"] = data_url("mask", mask)
        body = add_extra_body(body, extra_body)
        # billed: never re-sent once it may have reached the server (idempotent=False)
        return self.core.request("POST", "/images/edits", body=body, idempotent=False,
                                 extra_headers=extra_headers, timeout=timeout)

    def models_request(self, detailed: bool) -> Request:
        if not isinstance(detailed, bool):
            raise InvalidParameterError("detailed", "must be true or false")
        query = urlencode({"detailed": "true" if detailed else "false"})
        # the list needs no key (sent when the client has one)
        return self.core.request("GET", f"/image-models?{query}", auth="bearer-if-set")

    # decoding ---------------------------------------------------------------------------------

    def decode_images(self, status: int, headers: Mapping[str, str],
                      body: builtins.bytes) -> ImagesResponse:
        raw = json_object("an images", status, headers, body)
        items = raw.get("data")
        if not isinstance(items, list):
            raise unexpected_answer("an images answer with a data list", status, headers, body)
        images = [typed_object(item, Image, status, headers, body) for item in items
                  if isinstance(item, dict)]
        result = typed_object({k: v for k, v in raw.items() if k != "data"}, ImagesResponse,
                              status, headers, body)
        result.data = images
        result.__dict__["_raw_dict"] = raw
        return result

    def decode_models(self, status: int, headers: Mapping[str, str],
                      body: builtins.bytes) -> ImageModelList:
        raw = json_object("an image model list", status, headers, body)
        items = raw.get("data")
        models = ImageModelList(typed_object(m, ImageModel, status, headers, body) for m in
                                (items if isinstance(items, list) else [])
                                if isinstance(m, dict) and isinstance(m.get("id"), str))
        models.__dict__["_raw"] = raw
        return with_request_id(models, headers)
