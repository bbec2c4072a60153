"""nanogpt: the Python SDK for NanoGPT.

Importing this package is cheap: the clients, the HTTP libraries and the emulator load on first
use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_attributes

__version__ = "0.1.0"

from ._errors import (
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
    from ._async import AsyncNanoGPT
    from ._config import Timeout
    from ._stream import AsyncStream, Stream
    from ._sync import NanoGPT
    from ._types import (
        Balance,
        ChatCompletion,
        ChatCompletionChunk,
        Model,
        Pricing,
        Usage,
    )

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
    "NanoGPT": "._sync",
    "AsyncNanoGPT": "._async",
    "Stream": "._stream",
    "AsyncStream": "._stream",
    "Timeout": "._config",
    "Balance": "._types",
    "ChatCompletion": "._types",
    "ChatCompletionChunk": "._types",
    "Model": "._types",
    "Pricing": "._types",
    "Usage": "._types",
}


__getattr__ = lazy_attributes(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(__all__)
