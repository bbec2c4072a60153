"""nanogpt: the Python SDK for NanoGPT.

Importing this package is cheap: the clients, the HTTP libraries and the emulator load on first
use. The types the clients take and return are in :mod:`nanogpt.types`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_attributes

__version__ = "0.1.0"  # the one place: pyproject.toml reads it from here

# Every public name and the module it is imported from on first use: the one table that
# __all__, dir() and the attribute lookup (PEP 562, see _lazy) are made from.
_EXPORTS = {
    "NanoGPT": "._sync.client",
    "AsyncNanoGPT": "._async.client",
    "Stream": "._sync.stream",
    "AsyncStream": "._async.stream",
    "ParsedStream": "._sync.parsed",
    "AsyncParsedStream": "._async.parsed",
    # structured outputs and tools
    "function_tool": "._core.tools",
    "FunctionTool": ".types",
    "ParsedChatCompletion": ".types",
    # model suffixes (":online/linkup-deep", ":memory-30", ...)
    "model_id": "._core.suffixes",
    "ModelName": ".types",
    # types (all of them are in nanogpt.types)
    "Balance": ".types",
    "ChatCompletion": ".types",
    "ChatCompletionChunk": ".types",
    "Model": ".types",
    "Pricing": ".types",
    "Timeout": ".types",
    "Usage": ".types",
    # errors
    "APIConnectionError": "._core.errors",
    "APIResponseValidationError": "._core.errors",
    "APIStatusError": "._core.errors",
    "APITimeoutError": "._core.errors",
    "AuthenticationError": "._core.errors",
    "BadRequestError": "._core.errors",
    "ConcurrencyDeadlockError": "._core.errors",
    "ConflictError": "._core.errors",
    "EmbeddingsIncompleteError": "._core.embeddings",
    "InsufficientBalanceError": "._core.errors",
    "InternalServerError": "._core.errors",
    "InvalidParameterError": "._core.errors",
    "MissingAPIKeyError": "._core.errors",
    "NanoGPTError": "._core.errors",
    "NotFoundError": "._core.errors",
    "PermissionDeniedError": "._core.errors",
    "ProxyError": "._core.errors",
    "RateLimitError": "._core.errors",
    "StreamError": "._core.errors",
    "StreamTimeoutError": "._core.errors",
    "StructuredOutputError": "._core.structured",
    "LengthFinishReasonError": "._core.structured",
    "OutputValidationError": "._core.structured",
}

if TYPE_CHECKING:
    # The same names again, for type checkers: they neither run __getattr__ (every lazy name
    # would be Any) nor read an __all__ that is computed. "import X as X" marks a name as
    # re-exported (mypy --strict, pyright). tests/project/test_exports.py checks that this
    # block and _EXPORTS name the same things from the same modules.
    from ._async.client import AsyncNanoGPT as AsyncNanoGPT
    from ._async.parsed import AsyncParsedStream as AsyncParsedStream
    from ._async.stream import AsyncStream as AsyncStream
    from ._core.embeddings import EmbeddingsIncompleteError as EmbeddingsIncompleteError
    from ._core.errors import APIConnectionError as APIConnectionError
    from ._core.errors import APIResponseValidationError as APIResponseValidationError
    from ._core.errors import APIStatusError as APIStatusError
    from ._core.errors import APITimeoutError as APITimeoutError
    from ._core.errors import AuthenticationError as AuthenticationError
    from ._core.errors import BadRequestError as BadRequestError
    from ._core.errors import ConcurrencyDeadlockError as ConcurrencyDeadlockError
    from ._core.errors import ConflictError as ConflictError
    from ._core.errors import InsufficientBalanceError as InsufficientBalanceError
    from ._core.errors import InternalServerError as InternalServerError
    from ._core.errors import InvalidParameterError as InvalidParameterError
    from ._core.errors import MissingAPIKeyError as MissingAPIKeyError
    from ._core.errors import NanoGPTError as NanoGPTError
    from ._core.errors import NotFoundError as NotFoundError
    from ._core.errors import PermissionDeniedError as PermissionDeniedError
    from ._core.errors import ProxyError as ProxyError
    from ._core.errors import RateLimitError as RateLimitError
    from ._core.errors import StreamError as StreamError
    from ._core.errors import StreamTimeoutError as StreamTimeoutError
    from ._core.structured import LengthFinishReasonError as LengthFinishReasonError
    from ._core.structured import OutputValidationError as OutputValidationError
    from ._core.structured import StructuredOutputError as StructuredOutputError
    from ._core.suffixes import model_id as model_id
    from ._core.tools import function_tool as function_tool
    from ._sync.client import NanoGPT as NanoGPT
    from ._sync.parsed import ParsedStream as ParsedStream
    from ._sync.stream import Stream as Stream
    from .types import Balance as Balance
    from .types import ChatCompletion as ChatCompletion
    from .types import ChatCompletionChunk as ChatCompletionChunk
    from .types import FunctionTool as FunctionTool
    from .types import Model as Model
    from .types import ModelName as ModelName
    from .types import ParsedChatCompletion as ParsedChatCompletion
    from .types import Pricing as Pricing
    from .types import Timeout as Timeout
    from .types import Usage as Usage

if not TYPE_CHECKING:  # for type checkers, the "as" imports above say what is public
    __all__ = [*_EXPORTS, "__version__"]
    __getattr__ = lazy_attributes(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted([*_EXPORTS, "__version__"])
