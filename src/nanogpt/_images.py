"""NanoGPT's images as a namespace: ``client.images`` (sync and async, same shape).

Each method builds its request in :class:`~nanogpt._core.images.ImagesCore` (the checks, the
body, the typed answers; no I/O) and moves the bytes through its client's shell. Reading the
caller's image files is done here (in a worker thread for the async client). Generating and
editing are billed: never re-sent once the request may have reached the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._core.config import Timeout  # at run time too: typing.get_type_hints resolves it
from ._core.images import (
    MAX_IMAGE_BYTES,
    ImageInput,
    ImageModelList,
    ImageResponseFormat,
    ImagesCore,
    ImagesResponse,
)
from ._uploads import read_upload

if TYPE_CHECKING:
    from ._async.client import AsyncNanoGPT
    from ._sync.client import NanoGPT

__all__ = ["AsyncImages", "Images"]


def _read_image(param: str, value: Any) -> bytes | str:
    """One image as the core takes it: its bytes, or a URL string as given (the core accepts
    a data URL and refuses a link). A path or an open file is read up to one byte past what
    NanoGPT takes, so that a huge file is refused without being read whole."""
    if isinstance(value, str) and value[:8].lower().startswith(("data:", "http://",
                                                                "https://")):
        return value
    return read_upload(param, value, limit=MAX_IMAGE_BYTES, default_name="image")[0]


def _read_images(image: Any, mask: Any) -> tuple[list[bytes | str], bytes | str | None]:
    """The images and the mask of an edit, read: one image, or a list of them."""
    if isinstance(image, (list, tuple)):
        images = [_read_image(f"image[{i}]", v) for i, v in enumerate(image)]
    else:
        images = [_read_image("image", image)]
    return images, (None if mask is None else _read_image("mask", mask))


def _fields(**fields: Any) -> dict[str, Any]:
    return fields


class Images:
    """``client.images``: generate and edit images, list the image models."""

    def __init__(self, client: NanoGPT) -> None:
        self._client = client
        self._core = ImagesCore(client._core)

    def generate(self, *, prompt: str, model: str | None = None, n: int | None = None,
                 size: str | None = None, response_format: ImageResponseFormat | None = None,
                 user: str | None = None, strength: float | None = None,
                 guidance_scale: float | None = None, num_inference_steps: int | None = None,
                 seed: int | None = None, kontext_max_mode: bool | None = None,
                 extra_body: Mapping[str, Any] | None = None,
                 extra_headers: Mapping[str, str] | None = None,
                 timeout: Timeout | float | None = None) -> ImagesResponse:
        """Generate ``n`` images from ``prompt`` (``POST /v1/images/generations``). ``None``
        means not sent: the service's default (model ``hidream``, one image, ``b64_json``).
        ``size`` is one of the model's ``supported_parameters.resolutions``. Billed: sent
        once, never again after it may have reached the server."""
        fields = _fields(model=model, n=n, size=size, response_format=response_format,
                         user=user, strength=strength, guidance_scale=guidance_scale,
                         num_inference_steps=num_inference_steps, seed=seed,
                         kontext_max_mode=kontext_max_mode)
        req = self._core.generate_request(prompt, fields, extra_body=extra_body,
                                          extra_headers=extra_headers, timeout=timeout)
        return self._client._call(req, self._core.decode_images)

    def edit(self, *, image: ImageInput | Sequence[ImageInput], prompt: str,
             mask: ImageInput | None = None, model: str | None = None, n: int | None = None,
             size: str | None = None, response_format: ImageResponseFormat | None = None,
             user: str | None = None, strength: float | None = None,
             guidance_scale: float | None = None, num_inference_steps: int | None = None,
             seed: int | None = None, extra_body: Mapping[str, Any] | None = None,
             extra_headers: Mapping[str, str] | None = None,
             timeout: Timeout | float | None = None) -> ImagesResponse:
        """Edit ``image`` (or a list of images) as ``prompt`` says
        (``POST /api/v1/images/edits``); ``mask`` marks what to change, for inpainting
        models. An image is its bytes, a path, an open binary file or a data URL (PNG, JPEG,
        WebP or GIF; at most 4 MB as a data URL, checked before sending). Billed: sent once."""
        images, mask_data = _read_images(image, mask)
        fields = _fields(model=model, n=n, size=size, response_format=response_format,
                         user=user, strength=strength, guidance_scale=guidance_scale,
                         num_inference_steps=num_inference_steps, seed=seed)
        req = self._core.edit_request(prompt, images, mask_data, fields, extra_body=extra_body,
                                      extra_headers=extra_headers, timeout=timeout)
        return self._client._call(req, self._core.decode_images)

    def models(self, *, detailed: bool = True) -> ImageModelList:
        """The image models (``GET /api/v1/image-models``), with their capabilities,
        supported sizes and prices; no key needed."""
        return self._client._call(self._core.models_request(detailed), self._core.decode_models)


class AsyncImages:
    """``client.images`` of the async client."""

    def __init__(self, client: AsyncNanoGPT) -> None:
        self._client = client
        self._core = ImagesCore(client._core)

    async def generate(self, *, prompt: str, model: str | None = None, n: int | None = None,
                       size: str | None = None, response_format: ImageResponseFormat | None = None,
                       user: str | None = None, strength: float | None = None,
                       guidance_scale: float | None = None,
                       num_inference_steps: int | None = None, seed: int | None = None,
                       kontext_max_mode: bool | None = None,
                       extra_body: Mapping[str, Any] | None = None,
                       extra_headers: Mapping[str, str] | None = None,
                       timeout: Timeout | float | None = None) -> ImagesResponse:
        fields = _fields(model=model, n=n, size=size, response_format=response_format,
                         user=user, strength=strength, guidance_scale=guidance_scale,
                         num_inference_steps=num_inference_steps, seed=seed,
                         kontext_max_mode=kontext_max_mode)
        req = self._core.generate_request(prompt, fields, extra_body=extra_body,
                                          extra_headers=extra_headers, timeout=timeout)
        return await self._client._call(req, self._core.decode_images)

    async def edit(self, *, image: ImageInput | Sequence[ImageInput], prompt: str,
                   mask: ImageInput | None = None, model: str | None = None,
                   n: int | None = None, size: str | None = None,
                   response_format: ImageResponseFormat | None = None, user: str | None = None,
                   strength: float | None = None, guidance_scale: float | None = None,
                   num_inference_steps: int | None = None, seed: int | None = None,
                   extra_body: Mapping[str, Any] | None = None,
                   extra_headers: Mapping[str, str] | None = None,
                   timeout: Timeout | float | None = None) -> ImagesResponse:
        images, mask_data = await asyncio.to_thread(_read_images, image, mask)
        fields = _fields(model=model, n=n, size=size, response_format=response_format,
                         user=user, strength=strength, guidance_scale=guidance_scale,
                         num_inference_steps=num_inference_steps, seed=seed)
        req = self._core.edit_request(prompt, images, mask_data, fields, extra_body=extra_body,
                                      extra_headers=extra_headers, timeout=timeout)
        return await self._client._call(req, self._core.decode_images)

    async def models(self, *, detailed: bool = True) -> ImageModelList:
        return await self._client._call(self._core.models_request(detailed),
                                        self._core.decode_models)
