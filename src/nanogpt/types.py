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
from ._audio import (
    AsyncAudio,
    AsyncSpeech,
    AsyncSpeechOpening,
    AsyncSpeechStream,
    AsyncStreamingSpeech,
    AsyncTranscriptions,
    Audio,
    AudioFile,
    Speech,
    SpeechStream,
    StreamingSpeech,
    Transcriptions,
)
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
from ._core.audio import (
    AudioModel,
    AudioModelList,
    AudioModelType,
    SpeechAudio,
    SpeechFormat,
    Transcription,
    TranscriptionFormat,
    TranscriptionSegment,
)
from ._core.batches import Batch, BatchList, Endpoint, FileObject, RequestCounts
from ._core.config import Secret, Timeout
from ._core.embeddings import (
    CreateEmbeddingResponse,
    Embedding,
    EmbeddingModel,
    EmbeddingModelList,
    EmbeddingModelPricing,
    EmbeddingUsage,
    EncodingFormat,
)
from ._core.images import (
    Image,
    ImageCapabilities,
    ImageInput,
    ImageModel,
    ImageModelList,
    ImageParameters,
    ImagePricing,
    ImageResponseFormat,
    ImagesResponse,
)
from ._core.params import ChatParams, ReasoningEffort
from ._core.results import AsyncRawResponse, RawResponse
from ._core.routing import (
    DistillationPolicy,
    MaxPrice,
    ModelProvider,
    ModelProviders,
    ProviderPrice,
    ProviderRouting,
    ProviderSort,
    Quantization,
)
from ._core.search import (
    SearchDepth,
    SearchMetadata,
    SearchOutput,
    SearchProvider,
    SearchResult,
    SearchSource,
    WebSearch,
)
from ._core.structured import ParsedChatCompletion, ParsedChoice, ParsedMessage
from ._core.suffixes import ModelName, RoutePreference
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
from ._embeddings import AsyncEmbeddings, Embeddings
from ._images import AsyncImages, Images
from ._resources import MessageParam
from ._web import AsyncWeb, Web

__all__ = [
    "AsyncAudio",
    "AsyncEmbeddings",
    "AsyncImages",
    "AsyncMessages",
    "AsyncRawResponse",
    "AsyncSpeech",
    "AsyncSpeechOpening",
    "AsyncSpeechStream",
    "AsyncStreamingSpeech",
    "AsyncSubscription",
    "AsyncTranscriptions",
    "AsyncWeb",
    "Audio",
    "AudioFile",
    "AudioModel",
    "AudioModelList",
    "AudioModelType",
    "Balance",
    "Batch",
    "BatchList",
    "Catalog",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatParams",
    "Choice",
    "ChunkChoice",
    "CreateEmbeddingResponse",
    "DateLike",
    "Delta",
    "DistillationPolicy",
    "Embedding",
    "EmbeddingModel",
    "EmbeddingModelList",
    "EmbeddingModelPricing",
    "EmbeddingUsage",
    "Embeddings",
    "EncodingFormat",
    "Endpoint",
    "FileObject",
    "FunctionCall",
    "FunctionTool",
    "GroupBy",
    "Image",
    "ImageCapabilities",
    "ImageInput",
    "ImageModel",
    "ImageModelList",
    "ImageParameters",
    "ImagePricing",
    "ImageResponseFormat",
    "Images",
    "ImagesResponse",
    "MaxPrice",
    "Message",
    "MessageParam",
    "Messages",
    "Model",
    "ModelCapabilities",
    "ModelList",
    "ModelName",
    "ModelPricing",
    "ModelProvider",
    "ModelProviders",
    "ParsedChatCompletion",
    "ParsedChoice",
    "ParsedMessage",
    "Pricing",
    "ProviderPrice",
    "ProviderRouting",
    "ProviderSort",
    "Quantization",
    "Quota",
    "RawResponse",
    "ReasoningEffort",
    "RequestCounts",
    "RoutePreference",
    "SearchDepth",
    "SearchMetadata",
    "SearchOutput",
    "SearchProvider",
    "SearchResult",
    "SearchSource",
    "Secret",
    "Speech",
    "SpeechAudio",
    "SpeechFormat",
    "SpeechStream",
    "StreamingSpeech",
    "Subscription",
    "SubscriptionUsage",
    "Timeout",
    "TokenCount",
    "ToolCall",
    "Transcription",
    "TranscriptionFormat",
    "TranscriptionSegment",
    "Transcriptions",
    "Usage",
    "UsageReport",
    "UsageRow",
    "UsageTotals",
    "Web",
    "WebSearch",
]
