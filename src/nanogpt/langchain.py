"""LangChain chat model for NanoGPT: ``from nanogpt.langchain import ChatNanoGPT``.

A ``BaseChatModel`` built on this package's own clients: ``invoke``/``batch``/``stream`` go
through a ``NanoGPT``, ``ainvoke``/``abatch``/``astream`` through an ``AsyncNanoGPT`` (true
async, on aiohttp), so LangChain gets their retries (money-safe), timeouts, failover and typed
errors (every error is a ``nanogpt.NanoGPTError``). Needs ``pip install 'nanogpt[langchain]'``;
``import nanogpt`` never loads this module or LangChain.

* **Fields.** ``model``, ``api_key`` (a ``SecretStr``; else ``NANOGPT_API_KEY``), ``base_url``
  (else ``NANOGPT_BASE_URL``), ``timeout``, ``max_retries``, ``streaming``, ``model_kwargs``,
  and every sampling parameter of the SDK's one parameter table (``ChatParams``: temperature,
  top_k, min_p, repetition_penalty, reasoning_effort, seed, stop...). Those fields are made from
  the table when this module loads, so they cannot drift from what ``create()`` takes; the
  values are checked by the SDK's own checks when the model is made, and when a field is
  assigned or set by ``model_copy(update=...)`` (``InvalidParameterError``, before anything is
  sent). The per-call parameters (``tools``,
  ``tool_choice``, ``response_format``, ``parallel_tool_calls``, ``stream_options``) are not
  fields: ``bind_tools``, ``with_structured_output`` and ``bind`` give them.
* **The key** lives in the ``SecretStr`` and in the clients, made on first use and held
  privately: never in ``repr``, ``dumps``, ``dict()``, LangSmith's parameters or an error. A
  ``base_url`` carrying a password is refused however it is set (the SDK would refuse it only
  at the first call, after LangChain had traced it). A deep copy or a pickle leaves the
  clients behind and finds them again when used; a pickle holds the key, as any pickled
  ``SecretStr`` does (``dumps`` is the key-free way to store a model).
* **Clients are shared** by the models with the same key, base URL, timeout and retries (the
  last ``SHARED_CLIENTS`` such settings), so a model made per request reuses the pooled
  connections instead of opening its own. ``close()``/``aclose()`` close them (they reopen
  when used again); an async program calls ``await llm.aclose()`` before its loop ends.
* **Messages out:** LangChain's own ``convert_to_openai_messages`` (images, tool calls, tool
  results). **Answers in:** ``AIMessage`` with ``tool_calls``, ``usage_metadata`` (input,
  output, total; ``cache_read`` and ``reasoning`` details), ``response_metadata``
  (``model_name``, ``finish_reason``, ``cost`` as a ``Decimal`` in USD, ``request_id``,
  ``model_provider``) and reasoning in ``additional_kwargs["reasoning_content"]``. A stream
  yields one chunk per server chunk (``tool_call_chunks`` with their ``index``, which LangChain
  assembles) and ends with a chunk holding the usage and the metadata, so adding the chunks
  counts each once. Streams always ask for usage (``stream_options.include_usage``).
* **Structured output** uses the SDK's ``parse()`` machinery (``nanogpt._contract.
  output_format``): ``json_schema`` (default) sends the same strict schema ``parse()`` would
  and decodes with the same decoder (a Pydantic model, a TypedDict as a dict, a JSON schema as
  plain JSON); ``function_calling`` forces one tool; ``json_mode`` asks for a JSON object. An
  answer that does not fit raises ``OutputValidationError`` (with ``include_raw=True`` it is
  returned as ``parsing_error`` instead).

Only public names of the SDK are used, and ``nanogpt._contract`` (tests/project/test_layout.py).
"""

from __future__ import annotations

import functools
import json
import operator
import sys
import threading
import types
import typing
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, cast

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LangSmithParams, LanguageModelInput
from langchain_core.language_models.chat_models import (
    BaseChatModel,
    agenerate_from_stream,
    generate_from_stream,
)
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    InvalidToolCall,
    ToolCall,
    UsageMetadata,
)
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.messages.utils import convert_to_openai_messages
from langchain_core.output_parsers.openai_tools import make_invalid_tool_call, parse_tool_call
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda, RunnableMap
from langchain_core.tools import BaseTool
from langchain_core.utils import from_env, secret_from_env
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, create_model

from nanogpt import AsyncNanoGPT, InvalidParameterError, NanoGPT, OutputValidationError
from nanogpt import _contract as contract
from nanogpt.types import ChatCompletion, ChatCompletionChunk, Timeout, Usage

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["ChatNanoGPT"]

PROVIDER = "nanogpt"

# the parameters a call gives rather than the model: tools and the answer's format come from
# bind_tools / with_structured_output / bind, stream_options from the streaming code
PER_CALL = frozenset({"tools", "tool_choice", "response_format", "parallel_tool_calls",
                      "stream_options"})
# LangChain's standard parameters, declared on the class by hand (typed for your checker);
# a test checks they are in the SDK's table with these types
DECLARED = ("temperature", "max_tokens", "stop")


def sampling_parameters() -> list[str]:
    """The SDK's chat parameters a ``ChatNanoGPT`` holds as fields, in the table's order."""
    return [n for n in contract.parameter_names() if n not in PER_CALL]


def field_type(hint: Any) -> Any:
    """The type of the field for a parameter of type ``hint``: the same, but that a
    ``typing.TypedDict`` (which pydantic cannot hold before Python 3.12) is a
    ``dict[str, Any]``; the SDK's own check still reads its keys."""
    if typing.is_typeddict(hint):
        return dict[str, Any]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return functools.reduce(operator.or_, map(field_type, typing.get_args(hint)))
    return hint


def _generated_fields() -> dict[str, Any]:
    hints = contract.parameter_hints()
    return {name: (field_type(hints[name]) | None, Field(default=None))
            for name in sampling_parameters() if name not in DECLARED}


# The fields of every sampling parameter but the declared ones, made from the SDK's table.
# Type checkers see BaseChatModel (they cannot follow a class made at run time), so that
# ChatNanoGPT keeps LangChain's types; ChatNanoGPT.__init__ takes any keyword, and the fields
# are read with getattr, by name, from the same table.
if TYPE_CHECKING:
    _SamplingFields = BaseChatModel
else:
    _SamplingFields = create_model(
        "_SamplingFields", __base__=BaseChatModel, __module__=__name__, **_generated_fields())


_SAMPLING = frozenset(sampling_parameters())


def _check_fields(values: Mapping[str, Any]) -> None:
    """The SDK's checks of the fields among ``values``, however they are set (``__init__``,
    assignment, ``model_copy(update=...)``): a sampling parameter as ``create()`` checks it,
    and a base URL with a password refused at once (the SDK would refuse it only at the first
    call, after LangChain has put it in the run's trace parameters), never echoed. An empty
    base URL (``NANOGPT_BASE_URL=``) is the default, as in the SDK."""
    for name, value in values.items():
        if name in _SAMPLING and value is not None:
            contract.check_parameter(name, value)
        elif name == "base_url" and value:
            contract.check_base_url(value, allow_insecure_http=True)


class _Clients(dict[str, tuple[dict[str, Any], Any]]):
    """A model's clients by kind. Sockets and locks cannot be copied or pickled (nor can the
    SDK's key): a deep copy or a pickle of the model starts without them, and finds the
    shared client of its settings again (or makes one) when used."""

    def __deepcopy__(self, memo: dict[int, Any]) -> _Clients:
        return _Clients()

    def __reduce__(self) -> tuple[type[_Clients], tuple[()]]:
        return (_Clients, ())


class ChatNanoGPT(_SamplingFields):
    """NanoGPT chat model (see the module docstring)::

        from nanogpt.langchain import ChatNanoGPT
        llm = ChatNanoGPT(model="openai/gpt-5-mini", temperature=0.2, top_k=40)
        llm.invoke("Hello").content
    """

    model_config = ConfigDict(populate_by_name=True, protected_namespaces=())

    model: str = Field(alias="model_name")
    """The model id, such as ``openai/gpt-5-mini`` (``nanogpt models`` lists them)."""
    api_key: SecretStr | None = Field(
        default_factory=secret_from_env("NANOGPT_API_KEY", default=None))
    """The NanoGPT key; else ``NANOGPT_API_KEY`` (read when the model is made)."""
    base_url: str | None = Field(
        default_factory=from_env("NANOGPT_BASE_URL", default=None))
    """The API root; else ``NANOGPT_BASE_URL``, else the SDK's default and fallbacks."""
    timeout: float | Timeout | None = None
    """Seconds for each bound of a call (as ``Timeout(n)``), or a ``nanogpt.Timeout`` (stream
    bounds such as ``idle``, ``first_event``); None: the SDK's defaults."""
    max_retries: int | None = None
    """Retries where they are safe (never after the answer started); None: the SDK's (2)."""
    streaming: bool = False
    """``invoke`` streams underneath (callbacks get every token)."""
    temperature: float | None = None
    max_tokens: int | None = None
    stop: str | list[str] | None = None
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """More request fields: a name of the SDK's table goes as that parameter (checked), any
    other as a body field (``extra_body``)."""

    # kind -> (the settings it was made with, the client)
    _clients: _Clients = PrivateAttr(default_factory=_Clients)

    def __init__(self, **data: Any) -> None:
        # the SDK's own checks first, outside pydantic (which would turn InvalidParameterError
        # into its ValidationError, echoing the value): a wrong value is refused as create()
        # refuses it, naming the parameter, before anything is sent
        _check_fields(data)
        super().__init__(**data)
        _check_fields({"base_url": self.base_url})  # it may come from NANOGPT_BASE_URL

    def __setattr__(self, name: str, value: Any) -> None:
        """Assignment skips pydantic's validation (and ``__init__``): the same checks here."""
        _check_fields({name: value})
        super().__setattr__(name, value)

    def model_copy(self, *, update: Mapping[str, Any] | None = None,
                   deep: bool = False) -> Self:
        """``update`` skips pydantic's validation (and ``__init__``): the same checks here,
        before the copy is made."""
        _check_fields(update or {})
        return super().model_copy(update=update, deep=deep)

    # LangChain's identity of the model ------------------------------------------------------

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """``dumps``/``loads`` work; the key is written as a reference to ``NANOGPT_API_KEY``
        (``lc_secrets``), never as its value."""
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["nanogpt", "langchain"]

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": "NANOGPT_API_KEY"}

    @property
    def _llm_type(self) -> str:
        return "nanogpt-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        """What tells two configurations apart (caches, traces); never the key."""
        return {"model": self.model, "base_url": self.base_url, **self._set_parameters(),
                **self.model_kwargs}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(ls_provider=PROVIDER,
                                 ls_model_name=kwargs.get("model") or self.model,
                                 ls_model_type="chat")
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        stops = stop or kwargs.get("stop") or self.stop
        if stops:
            params["ls_stop"] = [stops] if isinstance(stops, str) else list(stops)
        return params

    # the clients ----------------------------------------------------------------------------

    def _client_options(self) -> dict[str, Any]:
        """The settings a client is made from; the key stays a ``SecretStr`` in here."""
        options: dict[str, Any] = {"base_url": self.base_url, "api_key": self.api_key}
        if self.timeout is not None:
            options["timeout"] = self.timeout
        if self.max_retries is not None:
            options["max_retries"] = self.max_retries
        return options

    def _client(self, kind: Literal["sync", "async"]) -> Any:
        """The ``NanoGPT`` (``"sync"``) or ``AsyncNanoGPT`` (``"async"``) for this model's
        settings: the one it used last while they stay, else one shared by every model with
        the same settings (see ``_shared_client``)."""
        options = self._client_options()
        entry = self._clients.get(kind)
        if entry is None or entry[0] != options:
            entry = (options, _shared_client(kind, options))
            # a new dict, not a change in place: a copy (model_copy) shares the old one
            self._clients = _Clients({**self._clients, kind: entry})
        return entry[1]

    def _existing_client(self, kind: Literal["sync", "async"]) -> Any:
        """The client :meth:`_client` would give, or None when there is none yet."""
        options = self._client_options()
        entry = self._clients.get(kind)
        if entry is not None and entry[0] == options:
            return entry[1]
        return _shared_client(kind, options, make=False)

    def close(self) -> None:
        """Close the blocking client's connections (shared with the models of the same
        settings; it opens new ones when used again)."""
        client = self._existing_client("sync")
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close the async client's connections on the running event loop (shared with the
        models of the same settings; it opens new ones when used again)."""
        client = self._existing_client("async")
        if client is not None:
            await client.close()

    # the request ----------------------------------------------------------------------------

    def _set_parameters(self) -> dict[str, Any]:
        """The sampling fields that are set (None is "not sent", as in ``create()``); an empty
        stop list is no stop."""
        out = {name: getattr(self, name) for name in sampling_parameters()}
        return {k: v for k, v in out.items() if v is not None and v != []}

    def _request(self, messages: list[BaseMessage], stop: list[str] | None,
                 kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The keywords of ``chat.completions.create`` for one call: the fields, then
        ``model_kwargs``, then the call's own keywords (``bind``, ``invoke(..., top_k=5)``)."""
        known = set(contract.parameter_names())
        params = self._set_parameters()
        extra_body: dict[str, Any] = {}
        for name, value in self.model_kwargs.items():
            (params if name in known else extra_body)[name] = value
        call = dict(kwargs)
        call.pop("stream", None)  # LangChain's switch, already used: see _streams
        model = call.pop("model", None) or self.model
        extra_body.update(call.pop("extra_body", None) or {})
        request: dict[str, Any] = {"model": model, "messages": wire_messages(messages)}
        if "extra_headers" in call:
            request["extra_headers"] = call.pop("extra_headers")
        params.update(call)  # an unknown name: create() says so (TypeError)
        if stop:
            params["stop"] = stop
        if extra_body:
            request["extra_body"] = extra_body
        return {**request, **{k: v for k, v in params.items() if v is not None}}

    def _stream_request(self, messages: list[BaseMessage], stop: list[str] | None,
                        kwargs: Mapping[str, Any]) -> dict[str, Any]:
        request = self._request(messages, stop, kwargs)
        request["stream_options"] = {**request.get("stream_options", {}), "include_usage": True}
        return request

    # blocking -------------------------------------------------------------------------------

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        if _streams(kwargs, self.streaming):
            return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))
        completion = self._client("sync").chat.completions.create(
            **self._request(messages, stop, kwargs))
        return chat_result(completion, self.model)

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        state = StreamState(self.model)
        with self._client("sync").chat.completions.create(
                stream=True, **self._stream_request(messages, stop, kwargs)) as stream:
            for chunk in stream:
                for out in state.feed(chunk):
                    if run_manager:
                        run_manager.on_llm_new_token(out.text, chunk=out)
                    yield out
            yield state.finish(stream.request_id)

    # async ----------------------------------------------------------------------------------

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: AsyncCallbackManagerForLLMRun | None = None,
                         **kwargs: Any) -> ChatResult:
        if _streams(kwargs, self.streaming):
            return await agenerate_from_stream(
                self._astream(messages, stop, run_manager, **kwargs))
        completion = await self._client("async").chat.completions.create(
            **self._request(messages, stop, kwargs))
        return chat_result(completion, self.model)

    async def _astream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                       run_manager: AsyncCallbackManagerForLLMRun | None = None,
                       **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        state = StreamState(self.model)
        stream = await self._client("async").chat.completions.create(
            stream=True, **self._stream_request(messages, stop, kwargs))
        async with stream:
            async for chunk in stream:
                for out in state.feed(chunk):
                    if run_manager:
                        await run_manager.on_llm_new_token(out.text, chunk=out)
                    yield out
            yield state.finish(stream.request_id)

    # tools and structured output ------------------------------------------------------------

    def bind_tools(self, tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
                   *, tool_choice: str | bool | dict[str, Any] | None = None,
                   strict: bool | None = None, parallel_tool_calls: bool | None = None,
                   **kwargs: Any) -> Runnable[LanguageModelInput, AIMessage]:
        """Offer ``tools`` (LangChain tools, functions, Pydantic models, TypedDicts or OpenAI
        tool dicts) on every call. ``tool_choice``: ``"auto"``, ``"none"``, ``"required"`` (or
        LangChain's ``"any"``, or ``True``), a tool's name, or an OpenAI tool-choice dict."""
        formatted = [convert_to_openai_tool(t, strict=strict) for t in tools]
        if tool_choice is not None and tool_choice is not False:
            kwargs["tool_choice"] = _tool_choice(tool_choice, formatted)
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        bound: Runnable[LanguageModelInput, AIMessage] = super().bind(tools=formatted, **kwargs)
        return bound

    def with_structured_output(
            self, schema: dict[str, Any] | type | None = None, *,
            method: Literal["json_schema", "function_calling", "json_mode"] = "json_schema",
            include_raw: bool = False, strict: bool | None = None,
            **kwargs: Any) -> Runnable[LanguageModelInput, Any]:
        """Answers as ``schema`` (a Pydantic model, a TypedDict, a JSON schema dict). See the
        module docstring for the three methods; ``strict`` overrides the SDK's choice."""
        if kwargs:
            raise TypeError(f"with_structured_output() got unexpected arguments {sorted(kwargs)}")
        if schema is None and method != "json_mode":
            raise InvalidParameterError("schema", f"is required for method={method!r}")
        traced: dict[str, Any] = {"ls_structured_output_format": {
            "kwargs": {"method": method, "strict": strict}, "schema": schema}}
        fmt = _output_format(schema) if schema is not None else None
        llm: Runnable[LanguageModelInput, Any]
        if method == "function_calling":
            tool = convert_to_openai_tool(cast(Any, schema), strict=strict)
            name = tool["function"]["name"]
            llm = self.bind_tools([tool], tool_choice=name, parallel_tool_calls=False, **traced)
            parse = _parse_tool_call(name, fmt)
        elif method == "json_schema":
            assert fmt is not None
            response_format = fmt.response_format
            if strict is not None:
                response_format["json_schema"]["strict"] = strict
            llm = self.bind(response_format=response_format, **traced)
            parse = _parse_content(fmt)
        elif method == "json_mode":
            llm = self.bind(response_format={"type": "json_object"}, **traced)
            parse = _parse_content(fmt)
        else:
            raise InvalidParameterError(
                "method", f"must be 'json_schema', 'function_calling' or 'json_mode', got "
                          f"{method!r}")
        if not include_raw:
            return llm | RunnableLambda(parse)
        return RunnableMap(raw=llm) | _with_parsed(parse)


_CLIENTS_LOCK = threading.Lock()
_SHARED: list[tuple[str, dict[str, Any], Any]] = []  # (kind, settings, client), newest last
SHARED_CLIENTS = 16  # clients kept for reuse; an older one stays with the models that hold it


def _shared_client(kind: Literal["sync", "async"], options: dict[str, Any], *,
                   make: bool = True) -> Any:
    """The client for these settings, shared by every ``ChatNanoGPT`` that has them.

    LangChain code makes models freely (one per request, ``model_copy`` for configurable
    fields); a client each would open new connections each time and leave them for the
    garbage collector. Shared, they reuse one pool (an ``AsyncNanoGPT`` keeps one per event
    loop). ``close()``/``aclose()`` close the shared client's connections; it opens new ones
    if used again, so other models are not broken by it. ``make=False``: None when there is
    none yet."""
    with _CLIENTS_LOCK:
        for i, (k, settings, client) in enumerate(_SHARED):
            if k == kind and settings == options:
                _SHARED.append(_SHARED.pop(i))
                return client
        if not make:
            return None
        new = NanoGPT if kind == "sync" else AsyncNanoGPT
        key = options["api_key"].get_secret_value() if options["api_key"] is not None else None
        client = new(**{**options, "api_key": key})
        _SHARED.append((kind, options, client))
        del _SHARED[:-SHARED_CLIENTS]
        return client


def _streams(kwargs: Mapping[str, Any], streaming: bool) -> bool:
    """Whether a call streams underneath: LangChain's per-call ``stream`` keyword
    (``invoke(..., stream=False)``) wins over the ``streaming`` field, as LangChain's own
    choice between ``_stream`` and ``_generate`` does. The keyword is no request field."""
    stream = kwargs.get("stream")
    return streaming if stream is None else bool(stream)


def wire_messages(messages: list[BaseMessage]) -> list[dict[str, Any]]:
    """LangChain's messages in the OpenAI shape NanoGPT takes (LangChain's own conversion:
    standard, OpenAI and Anthropic content blocks, tool calls and results). An assistant turn
    keeps only its text: its reasoning blocks (``thinking``...) are the provider's, and an
    OpenAI-compatible endpoint does not take them back."""
    out = convert_to_openai_messages(messages)
    for message in out:
        content = message.get("content")
        if message.get("role") == "assistant" and isinstance(content, list):
            message["content"] = "".join(
                part.get("text", "") for part in content
                if isinstance(part, dict) and part.get("type") == "text")
    return out


def _tool_choice(choice: str | bool | dict[str, Any],
                 tools: list[dict[str, Any]]) -> str | dict[str, Any]:
    if isinstance(choice, dict):
        return choice
    if choice is True or choice == "any":
        return "required"
    if choice in ("auto", "none", "required"):
        return cast(str, choice)
    names = [t["function"]["name"] for t in tools if "function" in t]
    if isinstance(choice, str) and choice in names:
        return {"type": "function", "function": {"name": choice}}
    raise InvalidParameterError("tool_choice",
                                f"{choice!r} is not 'auto', 'none', 'required', 'any' or the "
                                f"name of a bound tool ({', '.join(names)})")


def _output_format(schema: Any) -> Any:
    """The SDK's output format for ``schema``; a Pydantic v1 model (``pydantic.v1``, which
    LangChain still takes, and the SDK does not) goes as its JSON schema and is decoded by
    its own ``parse_obj``."""
    v1 = sys.modules.get("pydantic.v1")
    if v1 is not None and isinstance(schema, type) and issubclass(schema, v1.BaseModel):
        return _PydanticV1Format(schema)
    return contract.output_format(schema)


class _PydanticV1Format:
    def __init__(self, cls: Any) -> None:
        self.cls = cls
        self.json = contract.output_format(cls.schema())
        self.response_format = self.json.response_format

    def parse_text(self, text: str) -> Any:
        data = self.json.parse_text(text)
        try:
            return self.cls.parse_obj(data)
        except Exception as e:  # pydantic.v1's ValidationError
            raise OutputValidationError(
                f"the answer does not validate as {self.cls.__name__}: {e}",
                raw_text=text, completion=None) from e


def _parse_content(fmt: Any) -> Callable[[AIMessage], Any]:
    def parse(message: AIMessage) -> Any:
        text = message.text if isinstance(message.content, list) else str(message.content)
        if fmt is None:  # json_mode without a schema: plain JSON
            return contract.output_format({}).parse_text(text)
        return fmt.parse_text(text)
    return parse


def _parse_tool_call(name: str, fmt: Any) -> Callable[[AIMessage], Any]:
    def parse(message: AIMessage) -> Any:
        for call in message.tool_calls:
            if call["name"] == name:
                return fmt.parse_text(json.dumps(call["args"]))
        for bad in message.invalid_tool_calls:
            if bad.get("name") == name:
                return fmt.parse_text(bad.get("args") or "")
        raise OutputValidationError(f"the answer has no call of the tool {name!r}",
                                    raw_text=str(message.content), completion=None)
    return parse


def _with_parsed(parse: Callable[[AIMessage], Any]) -> Runnable[Any, Any]:
    """``{"raw": message}`` -> ``{"raw", "parsed", "parsing_error"}``: an answer that does not
    fit leaves ``parsed`` None and the ``OutputValidationError`` in ``parsing_error``, as
    LangChain's models do with ``include_raw=True``."""
    def run(d: dict[str, Any]) -> dict[str, Any]:
        try:
            return {**d, "parsed": parse(d["raw"]), "parsing_error": None}
        except OutputValidationError as e:
            return {**d, "parsed": None, "parsing_error": e}

    return RunnableLambda(run)


# answers -> LangChain ------------------------------------------------------------------------


def usage_metadata(usage: Usage) -> UsageMetadata:
    """The SDK's ``Usage`` as LangChain counts it (a count the server garbled reads 0); the
    details hold what the server reported (cached prompt tokens, reasoning tokens)."""
    inputs, outputs = usage.prompt_tokens or 0, usage.completion_tokens or 0
    cached, reasoning = usage.cached_tokens, usage.reasoning_tokens
    return {"input_tokens": inputs, "output_tokens": outputs,
            "total_tokens": usage.total_tokens or inputs + outputs,
            "input_token_details": {"cache_read": cached} if cached is not None else {},
            "output_token_details": {"reasoning": reasoning} if reasoning is not None else {}}


def _metadata(reply: ChatCompletion | ChatCompletionChunk, model: str,
              request_id: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"model_name": reply.model or model, "model_provider": PROVIDER}
    cost: Decimal | None = reply.cost
    if cost is not None:
        meta["cost"] = cost
    if request_id:
        meta["request_id"] = request_id
    if reply.system_fingerprint:
        meta["system_fingerprint"] = reply.system_fingerprint
    return meta


def _tool_calls(raw: list[Any]) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for call in raw:
        as_dict = {"id": call.id, "type": "function", "function": {
            "name": call.function.name if call.function else None,
            "arguments": call.function.arguments if call.function else None}}
        try:
            parsed = parse_tool_call(as_dict, return_id=True)
        except Exception as e:  # LangChain's OutputParserException: arguments not JSON
            invalid.append(make_invalid_tool_call(as_dict, str(e)))
        else:
            if parsed is not None:
                calls.append(cast(ToolCall, parsed))
    return calls, invalid


def chat_result(completion: ChatCompletion, model: str) -> ChatResult:
    """A whole answer: one generation per choice."""
    meta = _metadata(completion, model, completion.request_id)
    usage = usage_metadata(completion.usage) if completion.usage is not None else None
    generations = []
    for choice in completion.choices:
        msg = choice.message
        calls, invalid = _tool_calls(msg.tool_calls or [])
        extra: dict[str, Any] = {}
        if msg.reasoning:
            extra["reasoning_content"] = msg.reasoning
        if msg.refusal:
            extra["refusal"] = msg.refusal
        message = AIMessage(content=msg.content or "", tool_calls=calls,
                            invalid_tool_calls=invalid, additional_kwargs=extra,
                            usage_metadata=usage, id=completion.id or None,
                            response_metadata={**meta, "finish_reason": choice.finish_reason})
        generations.append(ChatGeneration(
            message=message, generation_info={"finish_reason": choice.finish_reason}))
    return ChatResult(generations=generations,
                      llm_output={"model_name": meta["model_name"],
                                  "token_usage": completion.usage.to_dict()
                                  if completion.usage is not None else {}})


class StreamState:
    """Server chunks -> LangChain chunks, for both the blocking and the async stream (no I/O).

    Each server chunk gives at most one LangChain chunk (the first choice's delta); the usage
    and the answer's metadata are held back to the chunk ``finish`` makes, so that adding the
    chunks up counts the tokens and names the model once."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.last: ChatCompletionChunk | None = None
        self.usage: Usage | None = None
        self.cost_seen: ChatCompletionChunk | None = None

    def feed(self, chunk: ChatCompletionChunk) -> list[ChatGenerationChunk]:
        self.last = chunk
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.cost is not None:
            self.cost_seen = chunk
        out = []
        for choice in chunk.choices:
            if choice.index == 0:
                out.append(self._chunk(chunk.id, choice.delta, choice.finish_reason))
        return out

    def _chunk(self, id_: str, delta: Any, finish_reason: str | None) -> ChatGenerationChunk:
        extra: dict[str, Any] = {}
        if delta.reasoning:
            extra["reasoning_content"] = delta.reasoning
        if delta.refusal:
            extra["refusal"] = delta.refusal
        # LangChain joins the pieces of a call by index: the SDK's index, so that a server
        # that leaves it out gets the same calls as from the SDK's own assembly
        calls = [tool_call_chunk(
            name=c.function.name if c.function else None,
            args=c.function.arguments if c.function else None,
            id=c.id, index=contract.tool_call_slot(c, position))
            for position, c in enumerate(delta.tool_calls or [])]
        meta = {"finish_reason": finish_reason} if finish_reason else {}
        message = AIMessageChunk(content=delta.content or "", additional_kwargs=extra,
                                 tool_call_chunks=calls, response_metadata=meta,
                                 id=id_ or None)
        return ChatGenerationChunk(message=message, generation_info=meta or None)

    def finish(self, request_id: str | None) -> ChatGenerationChunk:
        """The last chunk: no text, the usage (when the server sent it) and the metadata."""
        source = self.cost_seen or self.last
        meta = (_metadata(source, self.model, request_id) if source is not None
                else {"model_name": self.model, "model_provider": PROVIDER})
        usage = usage_metadata(self.usage) if self.usage is not None else None
        message = AIMessageChunk(content="", usage_metadata=usage, response_metadata=meta,
                                 id=(self.last.id or None) if self.last else None,
                                 chunk_position="last")
        return ChatGenerationChunk(message=message)
