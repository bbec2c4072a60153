"""The public types: what the clients take and return, for annotations in your code.

>>> from nanogpt.types import ChatCompletion, Message, ChatParams

Every type a public method of ``NanoGPT``, ``AsyncNanoGPT`` or their namespaces names is here
or in ``nanogpt`` itself (the clients, streams and errors); tests/project/test_public_types.py
checks that. The classes are defined in private modules (``nanogpt._core.types`` and others);
import them from here, which stays put when those move. Each is imported on first use
(``_TYPES``), so that annotating chat code loads no audio, images or embeddings module.

A response object keeps every field the server sent: the ones its class does not declare are
in ``.raw`` (and ``.to_dict()``), and at run time by attribute too, which type checkers do not
see, so that a typo (``completion.choises``) is reported rather than typed ``Any``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_attributes

_TYPES = {  # name -> the private module that defines it (imported on first use)
    "AsyncAudio": "._audio",
    "AsyncEmbeddings": "._embeddings",
    "AsyncImages": "._images",
    "AsyncMessages": "._account",
    "AsyncRawResponse": "._core.results",
    "AsyncSpeech": "._audio",
    "AsyncSpeechOpening": "._audio",
    "AsyncSpeechStream": "._audio",
    "AsyncStreamingSpeech": "._audio",
    "AsyncSubscription": "._account",
    "AsyncTranscriptions": "._audio",
    "AsyncWeb": "._web",
    "Audio": "._audio",
    "AudioFile": "._audio",
    "AudioModel": "._core.audio",
    "AudioModelList": "._core.audio",
    "AudioModelType": "._core.audio",
    "Balance": "._core.types",
    "Batch": "._core.batches",
    "BatchList": "._core.batches",
    "Catalog": "._core.types",
    "ChatCompletion": "._core.types",
    "ChatCompletionChunk": "._core.types",
    "ChatParams": "._core.params",
    "Choice": "._core.types",
    "ChunkChoice": "._core.types",
    "CreateEmbeddingResponse": "._core.embeddings",
    "DateLike": "._core.account",
    "Delta": "._core.types",
    "DistillationPolicy": "._core.providers",
    "Embedding": "._core.embeddings",
    "EmbeddingModel": "._core.embeddings",
    "EmbeddingModelList": "._core.embeddings",
    "EmbeddingModelPricing": "._core.embeddings",
    "EmbeddingUsage": "._core.embeddings",
    "Embeddings": "._embeddings",
    "EncodingFormat": "._core.embeddings",
    "Endpoint": "._core.batches",
    "FileObject": "._core.batches",
    "FunctionCall": "._core.types",
    "FunctionTool": "._core.tools",
    "GroupBy": "._core.account",
    "Image": "._core.images",
    "ImageCapabilities": "._core.images",
    "ImageInput": "._core.images",
    "ImageModel": "._core.images",
    "ImageModelList": "._core.images",
    "ImageParameters": "._core.images",
    "ImagePricing": "._core.images",
    "ImageResponseFormat": "._core.images",
    "Images": "._images",
    "ImagesResponse": "._core.images",
    "MaxPrice": "._core.routing",
    "Message": "._core.types",
    "MessageParam": "._core.params",
    "Messages": "._account",
    "Model": "._core.types",
    "ModelCapabilities": "._core.types",
    "ModelList": "._core.types",
    "ModelPage": "._core.types",
    "ModelName": "._core.suffixes",
    "ModelPricing": "._core.types",
    "ModelProvider": "._core.providers",
    "ModelProviders": "._core.providers",
    "ParsedChatCompletion": "._core.structured",
    "ParsedChoice": "._core.structured",
    "ParsedMessage": "._core.structured",
    "Pricing": "._core.types",
    "ProviderPrice": "._core.providers",
    "ProviderRouting": "._core.routing",
    "ProviderSort": "._core.routing",
    "Quantization": "._core.routing",
    "Quota": "._core.account",
    "RawResponse": "._core.results",
    "ReasoningEffort": "._core.params",
    "RequestCounts": "._core.batches",
    "RoutePreference": "._core.suffixes",
    "SearchDepth": "._core.search",
    "SearchMetadata": "._core.search",
    "SearchOutput": "._core.search",
    "SearchProvider": "._core.search",
    "SearchResult": "._core.search",
    "SearchSource": "._core.search",
    "Secret": "._core.config",
    "Speech": "._audio",
    "SpeechAudio": "._core.audio",
    "SpeechFormat": "._core.audio",
    "SpeechStream": "._audio",
    "StreamingSpeech": "._audio",
    "Subscription": "._account",
    "SubscriptionUsage": "._core.account",
    "Timeout": "._core.config",
    "TokenCount": "._core.account",
    "ToolCall": "._core.types",
    "Transcription": "._core.audio",
    "TranscriptionFormat": "._core.audio",
    "TranscriptionSegment": "._core.audio",
    "Transcriptions": "._audio",
    "Usage": "._core.types",
    "UsageReport": "._core.account",
    "UsageRow": "._core.account",
    "UsageTotals": "._core.account",
    "Web": "._web",
    "WebSearch": "._core.search",
}

__all__ = sorted(_TYPES)
__getattr__ = lazy_attributes("nanogpt", _TYPES, globals())


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # what type checkers see (explicit re-exports)
    from ._account import AsyncMessages as AsyncMessages
    from ._account import AsyncSubscription as AsyncSubscription
    from ._account import Messages as Messages
    from ._account import Subscription as Subscription
    from ._audio import AsyncAudio as AsyncAudio
    from ._audio import AsyncSpeech as AsyncSpeech
    from ._audio import AsyncSpeechOpening as AsyncSpeechOpening
    from ._audio import AsyncSpeechStream as AsyncSpeechStream
    from ._audio import AsyncStreamingSpeech as AsyncStreamingSpeech
    from ._audio import AsyncTranscriptions as AsyncTranscriptions
    from ._audio import Audio as Audio
    from ._audio import AudioFile as AudioFile
    from ._audio import Speech as Speech
    from ._audio import SpeechStream as SpeechStream
    from ._audio import StreamingSpeech as StreamingSpeech
    from ._audio import Transcriptions as Transcriptions
    from ._core.account import DateLike as DateLike
    from ._core.account import GroupBy as GroupBy
    from ._core.account import Quota as Quota
    from ._core.account import SubscriptionUsage as SubscriptionUsage
    from ._core.account import TokenCount as TokenCount
    from ._core.account import UsageReport as UsageReport
    from ._core.account import UsageRow as UsageRow
    from ._core.account import UsageTotals as UsageTotals
    from ._core.audio import AudioModel as AudioModel
    from ._core.audio import AudioModelList as AudioModelList
    from ._core.audio import AudioModelType as AudioModelType
    from ._core.audio import SpeechAudio as SpeechAudio
    from ._core.audio import SpeechFormat as SpeechFormat
    from ._core.audio import Transcription as Transcription
    from ._core.audio import TranscriptionFormat as TranscriptionFormat
    from ._core.audio import TranscriptionSegment as TranscriptionSegment
    from ._core.batches import Batch as Batch
    from ._core.batches import BatchList as BatchList
    from ._core.batches import Endpoint as Endpoint
    from ._core.batches import FileObject as FileObject
    from ._core.batches import RequestCounts as RequestCounts
    from ._core.config import Secret as Secret
    from ._core.config import Timeout as Timeout
    from ._core.embeddings import CreateEmbeddingResponse as CreateEmbeddingResponse
    from ._core.embeddings import Embedding as Embedding
    from ._core.embeddings import EmbeddingModel as EmbeddingModel
    from ._core.embeddings import EmbeddingModelList as EmbeddingModelList
    from ._core.embeddings import EmbeddingModelPricing as EmbeddingModelPricing
    from ._core.embeddings import EmbeddingUsage as EmbeddingUsage
    from ._core.embeddings import EncodingFormat as EncodingFormat
    from ._core.images import Image as Image
    from ._core.images import ImageCapabilities as ImageCapabilities
    from ._core.images import ImageInput as ImageInput
    from ._core.images import ImageModel as ImageModel
    from ._core.images import ImageModelList as ImageModelList
    from ._core.images import ImageParameters as ImageParameters
    from ._core.images import ImagePricing as ImagePricing
    from ._core.images import ImageResponseFormat as ImageResponseFormat
    from ._core.images import ImagesResponse as ImagesResponse
    from ._core.params import ChatParams as ChatParams
    from ._core.params import MessageParam as MessageParam
    from ._core.params import ReasoningEffort as ReasoningEffort
    from ._core.providers import DistillationPolicy as DistillationPolicy
    from ._core.providers import ModelProvider as ModelProvider
    from ._core.providers import ModelProviders as ModelProviders
    from ._core.providers import ProviderPrice as ProviderPrice
    from ._core.results import AsyncRawResponse as AsyncRawResponse
    from ._core.results import RawResponse as RawResponse
    from ._core.routing import MaxPrice as MaxPrice
    from ._core.routing import ProviderRouting as ProviderRouting
    from ._core.routing import ProviderSort as ProviderSort
    from ._core.routing import Quantization as Quantization
    from ._core.search import SearchDepth as SearchDepth
    from ._core.search import SearchMetadata as SearchMetadata
    from ._core.search import SearchOutput as SearchOutput
    from ._core.search import SearchProvider as SearchProvider
    from ._core.search import SearchResult as SearchResult
    from ._core.search import SearchSource as SearchSource
    from ._core.search import WebSearch as WebSearch
    from ._core.structured import ParsedChatCompletion as ParsedChatCompletion
    from ._core.structured import ParsedChoice as ParsedChoice
    from ._core.structured import ParsedMessage as ParsedMessage
    from ._core.suffixes import ModelName as ModelName
    from ._core.suffixes import RoutePreference as RoutePreference
    from ._core.tools import FunctionTool as FunctionTool
    from ._core.types import Balance as Balance
    from ._core.types import Catalog as Catalog
    from ._core.types import ChatCompletion as ChatCompletion
    from ._core.types import ChatCompletionChunk as ChatCompletionChunk
    from ._core.types import Choice as Choice
    from ._core.types import ChunkChoice as ChunkChoice
    from ._core.types import Delta as Delta
    from ._core.types import FunctionCall as FunctionCall
    from ._core.types import Message as Message
    from ._core.types import Model as Model
    from ._core.types import ModelCapabilities as ModelCapabilities
    from ._core.types import ModelList as ModelList
    from ._core.types import ModelPage as ModelPage
    from ._core.types import ModelPricing as ModelPricing
    from ._core.types import Pricing as Pricing
    from ._core.types import ToolCall as ToolCall
    from ._core.types import Usage as Usage
    from ._embeddings import AsyncEmbeddings as AsyncEmbeddings
    from ._embeddings import Embeddings as Embeddings
    from ._images import AsyncImages as AsyncImages
    from ._images import Images as Images
    from ._web import AsyncWeb as AsyncWeb
    from ._web import Web as Web
