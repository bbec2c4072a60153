"""``client.embeddings`` (sync and async, same shape): ``create`` and ``models``.

Each call is planned in :class:`~nanogpt._core.embeddings.EmbeddingsCore` (checks, the split
into requests of at most 2048 inputs, decoding, the join, what a failed request means); this
module only moves the bytes. An input of one request is one plain call; a longer one runs its
requests at once under the client's concurrency cap: threads here (the calling thread is one
of them), tasks in the async class. Imported on first use of ``client.embeddings``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._core.config import Timeout  # at run time too: typing.get_type_hints resolves it
from ._core.embeddings import (
    CreateEmbeddingResponse,
    EmbeddingJob,
    EmbeddingModelList,
    EmbeddingsCore,
    EncodingFormat,
)

if TYPE_CHECKING:
    from ._async.client import AsyncNanoGPT
    from ._sync.client import NanoGPT

__all__ = ["AsyncEmbeddings", "Embeddings"]


class Embeddings:
    """``client.embeddings``: vectors for texts (``create``), and the embedding models."""

    def __init__(self, client: NanoGPT) -> None:
        self._client = client
        self._core = EmbeddingsCore(client._core)

    def create(self, *, model: str, input: str | Sequence[str], dimensions: int | None = None,
               encoding_format: EncodingFormat | None = None, user: str | None = None,
               extra_body: Mapping[str, Any] | None = None,
               extra_headers: Mapping[str, str] | None = None,
               timeout: Timeout | float | None = None) -> CreateEmbeddingResponse:
        """One vector per input, in input order (``r.data[i].embedding``, a list of floats).

        Any number of inputs: more than 2048 are sent as several requests at once (within
        ``max_concurrency``) and joined. Each request is billed and sent once; if one fails
        after others were answered, ``EmbeddingsIncompleteError`` carries what came back
        (``.partial``) and the inputs to send again (``.missing``). ``encoding_format`` is
        the wire format (default: base64, decoded here); the vectors are floats either way.
        """
        job = self._core.job(model=model, input=input, dimensions=dimensions,
                             encoding_format=encoding_format, user=user,
                             extra_body=extra_body, extra_headers=extra_headers,
                             timeout=timeout, raw=self._client._raw)
        if job.single:
            return self._client._call(job.requests[0], job.decoder(0))
        try:
            if job.workers == 1:
                self._work(job)
            else:
                self._work_with_helpers(job)
        finally:
            job.stop()  # after an interrupt, nothing more is started
        return job.result()

    def _work_with_helpers(self, job: EmbeddingJob) -> None:
        """``job.workers`` loops at once: this thread and helper threads."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(job.workers - 1, thread_name_prefix="nanogpt-embed") as pool:
            helpers = [pool.submit(self._work, job) for _ in range(job.workers - 1)]
            try:
                self._work(job)
            finally:
                job.stop()  # an interrupt in this thread: the helpers start nothing more
            for helper in helpers:
                helper.result()

    def _work(self, job: EmbeddingJob) -> None:
        """Send the job's requests one after another until none is left (or one failed)."""
        while (i := job.take()) is not None:
            try:
                job.succeeded(i, self._client._call(job.requests[i], job.decoder(i)))
            except Exception as e:  # kept: the other requests' answers must not be lost
                job.failed(i, e)

    def models(self) -> EmbeddingModelList:
        """The embedding models (``GET /api/v1/embedding-models``): dimensions, whether
        ``dimensions=`` may reduce them, tokens per input, price per million tokens."""
        return self._client._call(self._core.models_request(), self._core.decode_models)


class AsyncEmbeddings:
    """``client.embeddings`` of the async client."""

    def __init__(self, client: AsyncNanoGPT) -> None:
        self._client = client
        self._core = EmbeddingsCore(client._core)

    async def create(self, *, model: str, input: str | Sequence[str],
                     dimensions: int | None = None,
                     encoding_format: EncodingFormat | None = None, user: str | None = None,
                     extra_body: Mapping[str, Any] | None = None,
                     extra_headers: Mapping[str, str] | None = None,
                     timeout: Timeout | float | None = None) -> CreateEmbeddingResponse:
        """As :meth:`Embeddings.create`; the requests of a long input run as tasks."""
        import asyncio

        job = self._core.job(model=model, input=input, dimensions=dimensions,
                             encoding_format=encoding_format, user=user,
                             extra_body=extra_body, extra_headers=extra_headers,
                             timeout=timeout, raw=self._client._raw)
        if job.single:
            return await self._client._call(job.requests[0], job.decoder(0))
        try:
            await asyncio.gather(*(self._work(job) for _ in range(job.workers)))
        finally:
            job.stop()
        return job.result()

    async def _work(self, job: EmbeddingJob) -> None:
        while (i := job.take()) is not None:
            try:
                job.succeeded(i, await self._client._call(job.requests[i], job.decoder(i)))
            except Exception as e:
                job.failed(i, e)

    async def models(self) -> EmbeddingModelList:
        return await self._client._call(self._core.models_request(), self._core.decode_models)
