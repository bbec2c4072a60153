"""The public types: what the clients take and return, for annotations in your code.

>>> from nanogpt.types import ChatCompletion, Message, ChatParams

Every type a public method of ``NanoGPT``, ``AsyncNanoGPT`` or their namespaces names is here
or in ``nanogpt`` itself (the clients, streams and errors); tests/project/test_public_types.py
checks that. The classes are defined in private modules (``nanogpt._core.types`` and others);
import them from here, which stays put when those move.

A response object keeps every field the server sent: the ones its class does not declare are
in ``.raw`` (and ``.to_dict()``), and at run time by attribute too, which type checkers do not
see, so that a typo (``completion.choises``) is reported rather than typed ``Any``.
"""

from __future__ import annotations

from ._account import AsyncMessages, AsyncSubscription, Messages, Subscription
from ._core.account import (
    DateLike,
    GroupBy,
    Quota,
    SubscriptionUsage,
    TokenCount,
    UsageReport,
    UsageRow,
    UsageTotals,
)
from ._core.batches import Batch, BatchList, Endpoint, FileObject, RequestCounts
from ._core.config import Secret, Timeout
from ._core.params import ChatParams, ReasoningEffort
from ._core.results import AsyncRawResponse, RawResponse
from ._core.structured import ParsedChatCompletion, ParsedChoice, ParsedMessage
from ._core.tools import FunctionTool
from ._core.types import (
    Balance,
    Catalog,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    Delta,
    FunctionCall,
    Message,
    Model,
    ModelCapabilities,
    ModelList,
    ModelPricing,
    Pricing,
    ToolCall,
    Usage,
)
from ._resources import MessageParam

__all__ = [
    "AsyncMessages",
    "AsyncRawResponse",
    "AsyncSubscription",
    "Balance",
    "Batch",
    "BatchList",
    "Catalog",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatParams",
    "Choice",
    "ChunkChoice",
    "DateLike",
    "Delta",
    "Endpoint",
    "FileObject",
    "FunctionCall",
    "FunctionTool",
    "GroupBy",
    "Message",
    "MessageParam",
    "Messages",
    "Model",
    "ModelCapabilities",
    "ModelList",
    "ModelPricing",
    "ParsedChatCompletion",
    "ParsedChoice",
    "ParsedMessage",
    "Pricing",
    "Quota",
    "RawResponse",
    "ReasoningEffort",
    "RequestCounts",
    "Secret",
    "Subscription",
    "SubscriptionUsage",
    "Timeout",
    "TokenCount",
    "ToolCall",
    "Usage",
    "UsageReport",
    "UsageRow",
    "UsageTotals",
]
