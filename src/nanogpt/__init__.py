"""nanogpt: the Python SDK for NanoGPT.

Importing this package is cheap: the clients, the HTTP libraries and the emulator load on first
use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_attributes

__version__ = "0.1.0"

from ._core.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConcurrencyDeadlockError,
    ConflictError,
    InsufficientBalanceError,
    InternalServerError,
    InvalidParameterError,
    MissingAPIKeyError,
    NanoGPTError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamError,
    StreamTimeoutError,
)

if TYPE_CHECKING:
    from ._async.client import AsyncNanoGPT
    from ._async.stream import AsyncStream
    from ._core.config import Timeout
    from ._core.types import (
        Balance,
        ChatCompletion,
        ChatCompletionChunk,
        Model,
        Pricing,
        Usage,
    )
    from ._sync.client import NanoGPT
    from ._sync.stream import Stream

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncNanoGPT",
    "AsyncStream",
    "AuthenticationError",
    "BadRequestError",
    "Balance",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ConcurrencyDeadlockError",
    "ConflictError",
    "InsufficientBalanceError",
    "InternalServerError",
    "InvalidParameterError",
    "MissingAPIKeyError",
    "Model",
    "NanoGPT",
    "NanoGPTError",
    "NotFoundError",
    "PermissionDeniedError",
    "Pricing",
    "RateLimitError",
    "Stream",
    "StreamError",
    "StreamTimeoutError",
    "Timeout",
    "Usage",
    "__version__",
]

_LAZY = {
    "NanoGPT": "._sync.client",
    "AsyncNanoGPT": "._async.client",
    "Stream": "._sync.stream",
    "AsyncStream": "._async.stream",
    "Timeout": "._core.config",
    "Balance": "._core.types",
    "ChatCompletion": "._core.types",
    "ChatCompletionChunk": "._core.types",
    "Model": "._core.types",
    "Pricing": "._core.types",
    "Usage": "._core.types",
}


__getattr__ = lazy_attributes(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(__all__)
