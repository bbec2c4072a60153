"""NanoGPT's Batch API as namespaces: ``client.files`` and ``client.batches`` (sync and async,
same shape).

Each method builds its request in :class:`~nanogpt._core.batches.BatchCore` (where batch calls
go, the typed objects, the decoding; no I/O) and moves the bytes through its client's shell.
Creating a batch, which NanoGPT may bill, is never re-sent once it may have reached the server.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

from ._core.batches import Batch, BatchCore, BatchList, Endpoint, FileObject
from ._uploads import read_upload

if TYPE_CHECKING:
    from ._async.client import AsyncNanoGPT
    from ._sync.client import NanoGPT

__all__ = ["AsyncBatches", "AsyncFiles", "Batches", "Files", "async_namespaces", "sync_namespaces"]


def _read_file(file: Any, filename: str | None) -> tuple[bytes, str]:
    """The bytes to upload and the name to give them."""
    data, name = read_upload("file", file, default_name="batch.jsonl")
    return data, filename or name


# the namespaces -------------------------------------------------------------------------------

class Files:
    """``client.files``: upload a batch input file, look at a file, download its content."""

    def __init__(self, client: NanoGPT, core: BatchCore) -> None:
        self._client, self._core = client, core

    def create(self, file: str | os.PathLike[str] | bytes | IO[bytes], *,
               purpose: str = "batch", filename: str | None = None) -> FileObject:
        """Upload ``file`` (a path, an open binary file, or the content as bytes) with
        ``purpose``."""
        data, name = _read_file(file, filename)
        return self._client._call(self._core.upload_request(data, name, purpose),
                                  self._core.decode_file)

    upload = create

    def retrieve(self, file_id: str) -> FileObject:
        return self._client._call(self._core.file_request(file_id), self._core.decode_file)

    def content(self, file_id: str) -> bytes:
        """The file's content (a batch's output or error JSONL), whole, as bytes; at most
        the client's ``max_response_bytes``."""
        return self._client._call(self._core.content_request(file_id),
                                  self._core.decode_content)


class Batches:
    """``client.batches``: create, look at, list and cancel batch jobs."""

    def __init__(self, client: NanoGPT, core: BatchCore) -> None:
        self._client, self._core = client, core

    @property
    def base_url(self) -> str:
        """Where batch calls go (NanoGPT's batch host, unless ``batch_base_url=``,
        ``NANOGPT_BATCH_BASE_URL`` or a non-default ``base_url`` says otherwise)."""
        return self._core.base_url

    def create(self, *, input_file_id: str, endpoint: Endpoint = "/v1/chat/completions",
               completion_window: str = "24h",
               metadata: Mapping[str, str] | None = None) -> Batch:
        """Start a batch over an uploaded file. Sent once: never retried after it may have
        reached the server (NanoGPT bills a batch once it runs)."""
        req = self._core.create_request(input_file_id, endpoint, completion_window, metadata)
        return self._client._call(req, self._core.decode_batch)

    def retrieve(self, batch_id: str) -> Batch:
        return self._client._call(self._core.retrieve_request(batch_id),
                                  self._core.decode_batch)

    def list(self, *, limit: int | None = None, after: str | None = None) -> BatchList:
        return self._client._call(self._core.list_request(limit, after),
                                  self._core.decode_list)

    def cancel(self, batch_id: str) -> Batch:
        """Ask for cancellation (best effort; a finished batch cannot be cancelled)."""
        return self._client._call(self._core.cancel_request(batch_id),
                                  self._core.decode_batch)

    def wait(self, batch_id: str, *, poll_interval: float = 5.0,
             timeout: float | None = None) -> Batch:
        """Poll until the batch reaches a terminal status (or ``timeout`` seconds pass:
        then the last status seen is returned)."""
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            batch = self.retrieve(batch_id)
            if batch.done or (end is not None and time.monotonic() >= end):
                return batch
            time.sleep(poll_interval)


class AsyncFiles:
    """``client.files`` of the async client."""

    def __init__(self, client: AsyncNanoGPT, core: BatchCore) -> None:
        self._client, self._core = client, core

    async def create(self, file: str | os.PathLike[str] | bytes | IO[bytes], *,
                     purpose: str = "batch", filename: str | None = None) -> FileObject:
        """Upload ``file`` (a path, an open binary file, or the content as bytes) with
        ``purpose``."""
        data, name = await asyncio.to_thread(_read_file, file, filename)
        return await self._client._call(self._core.upload_request(data, name, purpose),
                                        self._core.decode_file)

    upload = create

    async def retrieve(self, file_id: str) -> FileObject:
        return await self._client._call(self._core.file_request(file_id),
                                        self._core.decode_file)

    async def content(self, file_id: str) -> bytes:
        return await self._client._call(self._core.content_request(file_id),
                                        self._core.decode_content)


class AsyncBatches:
    """``client.batches`` of the async client."""

    def __init__(self, client: AsyncNanoGPT, core: BatchCore) -> None:
        self._client, self._core = client, core

    @property
    def base_url(self) -> str:
        """Where batch calls go (NanoGPT's batch host, unless ``batch_base_url=``,
        ``NANOGPT_BATCH_BASE_URL`` or a non-default ``base_url`` says otherwise)."""
        return self._core.base_url

    async def create(self, *, input_file_id: str, endpoint: Endpoint = "/v1/chat/completions",
                     completion_window: str = "24h",
                     metadata: Mapping[str, str] | None = None) -> Batch:
        req = self._core.create_request(input_file_id, endpoint, completion_window, metadata)
        return await self._client._call(req, self._core.decode_batch)

    async def retrieve(self, batch_id: str) -> Batch:
        return await self._client._call(self._core.retrieve_request(batch_id),
                                        self._core.decode_batch)

    async def list(self, *, limit: int | None = None, after: str | None = None) -> BatchList:
        return await self._client._call(self._core.list_request(limit, after),
                                        self._core.decode_list)

    async def cancel(self, batch_id: str) -> Batch:
        return await self._client._call(self._core.cancel_request(batch_id),
                                        self._core.decode_batch)

    async def wait(self, batch_id: str, *, poll_interval: float = 5.0,
                   timeout: float | None = None) -> Batch:
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            batch = await self.retrieve(batch_id)
            if batch.done or (end is not None and time.monotonic() >= end):
                return batch
            await asyncio.sleep(poll_interval)


def sync_namespaces(client: NanoGPT) -> tuple[Files, Batches]:
    core = BatchCore(client._core, client._batch_base_url)
    return Files(client, core), Batches(client, core)


def async_namespaces(client: AsyncNanoGPT) -> tuple[AsyncFiles, AsyncBatches]:
    core = BatchCore(client._core, client._batch_base_url)
    return AsyncFiles(client, core), AsyncBatches(client, core)
