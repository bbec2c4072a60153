"""The ``llm`` plugin: NanoGPT's models in Simon Willison's ``llm`` command line and library.

Registered through the ``llm`` entry-point group (``pip install 'nanogpt[llm]'``); ``llm``
imports this module, ``import nanogpt`` never does. Every request goes through our own clients
(``NanoGPT`` for ``llm``'s sync models, ``AsyncNanoGPT`` for its async ones), so the plugin
inherits their checks, retries (only where a request cannot be billed twice), timeouts and
typed errors; this module only translates between ``llm``'s objects and the chat API.

* Models: ``nanogpt/<model id>`` for each model of the catalog. The catalog needs no key; it is
  kept for an hour in ``llm``'s user directory (``nanogpt-models.json``, per base URL) because
  ``llm`` asks plugins for their models at every start. ``llm nanogpt refresh`` fetches it now,
  and so does a command line naming a ``nanogpt/`` model the cached catalog lacks.
  When it cannot be fetched, a stale copy is used, and ``llm`` starts without trying again
  for five minutes; with no copy, no model is registered and ``llm`` starts as usual
  (``llm nanogpt refresh`` says why).
* What ``llm`` may send follows the catalog's capabilities: tools (``tool_calling``), schemas
  (``structured_output``), image attachments (``vision``), sent as data URLs.
* Key: ``llm keys set nanogpt`` or ``NANOGPT_API_KEY``; base URL: ``NANOGPT_BASE_URL``.
* Options are sampling parameters of the SDK's table, typed from it
  (``nanogpt._contract.parameter_hints``), and checked by the SDK's own parameter checks, so
  ``-o`` refuses what ``create()`` would refuse, with the same message, before anything is sent.
* Reasoning is streamed as ``llm``'s reasoning events (shown on stderr, logged); ``-R``
  (``hide_reasoning``) asks NanoGPT to leave it out (``reasoning: {"exclude": true}``).
* Usage goes to ``llm``'s log: input and output tokens, and in ``details`` the token details
  NanoGPT sent and ``cost_usd``, what the call was charged.
* A ``NanoGPTError`` becomes ``llm.ModelError`` with the SDK's one-line message, which the
  ``llm`` command prints as ``Error: ...`` (no traceback).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncGenerator, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import llm
from llm.parts import AttachmentPart, StreamEvent, TextPart, ToolCallPart, ToolResultPart
from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    create_model,
    field_validator,
)
from pydantic_core import PydanticCustomError

from nanogpt import (
    AsyncNanoGPT,
    ChatCompletion,
    InvalidParameterError,
    Model,
    NanoGPT,
    NanoGPTError,
    NotFoundError,
    Timeout,
)
from nanogpt._contract import (
    check_parameter,
    models_from_catalog,
    parameter_hints,
    redact_url,
)

__all__ = ["AsyncNanoGPTChat", "NanoGPTChat", "NanoGPTOptions", "load_catalog", "refresh_catalog"]

PREFIX = "nanogpt/"
KEY_NAME = "nanogpt"
KEY_ENV_VAR = "NANOGPT_API_KEY"
CACHE_FILE = "nanogpt-models.json"
CACHE_SECONDS = 3600
# after a failed fetch, llm starts without trying again for this long (`llm nanogpt refresh`
# still does): offline, each start would otherwise wait for the fetch to fail
RETRY_SECONDS = 300
# the catalog is fetched while llm starts: a server that does not answer must not hold it long
CATALOG_TIMEOUT = Timeout(connect=3, read=8, idle=8, total=10)
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})


# the catalog ---------------------------------------------------------------------------------

def _base_url() -> str | None:
    return os.environ.get("NANOGPT_BASE_URL") or None


def _cache_path() -> Path:
    return Path(llm.user_dir()) / CACHE_FILE  # type: ignore[no-untyped-call]


def _cache_owner() -> str:
    """Whose catalog a cache holds: the base URL (without any password), or the default."""
    url = _base_url()
    return redact_url(url) if url else "default"


def _read_cache() -> dict[str, Any]:
    """The cache of this base URL: ``fetched_at`` and ``models`` (the raw entries) of the
    last catalog fetched, ``failed_at`` of a fetch that failed since; ``{}`` when none."""
    try:
        data = json.loads(_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("base_url") != _cache_owner():
        return {}
    good = (isinstance(data.get("fetched_at"), (int, float))
            and isinstance(data.get("models"), list))
    failed = data.get("failed_at")
    return {**({"fetched_at": float(data["fetched_at"]), "models": data["models"]}
               if good else {}),
            **({"failed_at": float(failed)} if isinstance(failed, (int, float)) else {})}


def _write_cache(**fields: Any) -> None:
    """Replace the cache in one step (a reader never sees half a file); an unwritable user
    directory costs a fetch per start, nothing worse."""
    path = _cache_path()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(OSError):
        tmp.write_text(json.dumps({"base_url": _cache_owner(), **fields}), encoding="utf-8")
        os.replace(tmp, path)


def refresh_catalog() -> list[Model]:
    """Fetch the catalog now (no key needed) and cache it; raises ``NanoGPTError``, and then
    notes the failure in the cache (the catalog there is kept)."""
    try:
        with NanoGPT(api_key="", base_url=_base_url(), timeout=CATALOG_TIMEOUT,
                     max_retries=0) as client:  # failover still moves to a healthy host
            models = client.models.list(refresh=True)
    except NanoGPTError:
        _write_cache(**{**_read_cache(), "failed_at": time.time()})
        raise
    _write_cache(fetched_at=time.time(), models=[m.raw for m in models])
    return list(models)


def _asked_for() -> set[str]:
    """The NanoGPT model ids on ``llm``'s command line (``-m nanogpt/...``). ``llm`` asks its
    plugins for every model without saying which one it wants; a model the cached catalog
    lacks (a new one) is a reason to fetch the catalog again."""
    args = [a.split("=", 1)[-1] for a in sys.argv[1:]]
    return {a[len(PREFIX):] for a in args if a.startswith(PREFIX) and len(a) > len(PREFIX)}


def _within(age: float, limit: float) -> bool:
    """Whether a time noted ``age`` seconds ago is recent. A time in the future is not: it
    was written under another clock (set back since, a restored snapshot, a copied user
    directory), and would otherwise keep the catalog, or the failure, until then."""
    return 0 <= age < limit


def load_catalog() -> list[Model]:
    """The cached catalog while it is fresh (and has every model the command line names),
    else a fresh one; a stale copy when the fetch fails (or failed a moment ago); an empty
    list when there is neither (``llm`` must start offline too)."""
    cache, now = _read_cache(), time.time()
    stale = models_from_catalog(cache.get("models", []))
    fresh = "models" in cache and _within(now - cache["fetched_at"], CACHE_SECONDS)
    if fresh and _asked_for() <= {m.id for m in stale}:
        return stale
    if "failed_at" in cache and _within(now - cache["failed_at"], RETRY_SECONDS):
        return stale
    try:
        return refresh_catalog()
    except NanoGPTError:
        return stale


@llm.hookimpl
def register_models(register: Any) -> None:
    for model in load_catalog():
        if isinstance(model.raw.get("id"), str):  # an entry without an id is no model
            register(NanoGPTChat(model), AsyncNanoGPTChat(model))


@llm.hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.group(name="nanogpt")
    def nanogpt_group() -> None:
        """Commands of the NanoGPT plugin."""

    @nanogpt_group.command(name="refresh")
    def refresh() -> None:
        """Fetch NanoGPT's model catalog now (it is cached for an hour)."""
        try:
            models = refresh_catalog()
        except NanoGPTError as e:
            raise click.ClickException(f"the NanoGPT catalog could not be fetched: {e}") from e
        click.echo(f"{len(models)} NanoGPT models")


# options -------------------------------------------------------------------------------------

# what `llm models --options` shows for each option; the names are the options offered, their
# types come from the SDK's parameter table (a test checks both), so the table defines them
OPTION_HELP = {
    "temperature": "Sampling temperature, 0 to 2",
    "top_p": "Nucleus sampling: 0 to 1",
    "top_k": "Sample from the k likeliest tokens",
    "min_p": "Drop tokens below this share of the top one",
    "repetition_penalty": "Penalty for repeated tokens",
    "frequency_penalty": "-2 to 2",
    "presence_penalty": "-2 to 2",
    "max_tokens": "At most this many tokens in the answer",
    "reasoning_effort": "none, minimal, low, medium, high or xhigh",
    "seed": "For repeatable sampling, where supported",
    "stop": "Stop at this text",
}


def _option_fields() -> dict[str, Any]:
    hints = parameter_hints()
    return {name: (hints[name] | None, Field(None, description=help_text))
            for name, help_text in OPTION_HELP.items()}


# Type checkers see llm.Options (they cannot follow a class made at run time).
if TYPE_CHECKING:
    _OptionFields = llm.Options
else:
    _OptionFields = create_model("_OptionFields", __base__=llm.Options, __module__=__name__,
                                 **_option_fields())


class NanoGPTOptions(_OptionFields):
    """The sampling options ``-o`` takes; each is checked as ``create()`` checks it."""

    @field_validator("*", mode="wrap")
    @classmethod
    def _checked_by_the_sdk(cls, value: Any, handler: ValidatorFunctionWrapHandler,
                            info: ValidationInfo) -> Any:
        """pydantic converts the command line's text (``"0.5"``) to the table's type; the
        SDK's check then judges the value, and when pydantic cannot convert it (a name
        outside a ``Literal``), judges the text as given, so that the message is the SDK's."""
        name = info.field_name
        try:
            value = handler(value)
        except ValidationError:
            if value is not None and name is not None:
                _check_option(name, value)
            raise
        if value is not None and name is not None:
            _check_option(name, value)
        return value


def _check_option(name: str, value: Any) -> None:
    try:
        check_parameter(name, value)
    except InvalidParameterError as e:  # shown as it is, without pydantic's prefix
        raise PydanticCustomError("nanogpt_parameter", "{message}",
                                  {"message": str(e)}) from None


# one request: llm's prompt -> the chat API -----------------------------------------------------

def _image_part(attachment: llm.Attachment) -> dict[str, Any]:
    """An image as the chat API takes it; a file or bytes go inline, as a data URL."""
    if attachment.url and not attachment.path and attachment.content is None:
        url = attachment.url
    else:
        kind = attachment.resolve_type()  # type: ignore[no-untyped-call]
        data = attachment.base64_content()  # type: ignore[no-untyped-call]
        url = f"data:{kind};base64,{data}"
    return {"type": "image_url", "image_url": {"url": url}}


def _wire_message(message: llm.Message) -> list[dict[str, Any]]:
    """One ``llm`` message as chat messages (a tool message holds one result per call)."""
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            texts.append(part.text)
        elif isinstance(part, AttachmentPart) and part.attachment is not None:
            images.append(_image_part(part.attachment))
        elif isinstance(part, ToolCallPart):
            calls.append({"id": part.tool_call_id, "type": "function",
                          "function": {"name": part.name,
                                       "arguments": json.dumps(part.arguments)}})
        elif isinstance(part, ToolResultPart):
            results.append({"role": "tool", "tool_call_id": part.tool_call_id,
                            "content": part.output})
    if message.role == "tool":
        return results
    text = "".join(texts)
    content: Any = [{"type": "text", "text": text}, *images] if images else text
    wire: dict[str, Any] = {"role": message.role, "content": content}
    if calls:
        wire["tool_calls"] = calls
        wire["content"] = text or None
    elif not text and not images and message.role != "assistant":
        return []
    return [wire]


def _wire_messages(prompt: llm.Prompt) -> list[dict[str, Any]]:
    return [wire for message in prompt.messages for wire in _wire_message(message)]


def _tool_definitions(tools: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"type": "function",
             "function": {"name": tool.name, "description": tool.description or "",
                          "parameters": tool.input_schema or {"type": "object",
                                                             "properties": {}}}}
            for tool in tools if isinstance(tool, llm.Tool)]


def _text_events(reasoning: str | None, text: str | None,
                 hide_reasoning: bool) -> Iterator[StreamEvent]:
    """A piece of the answer (a chunk's delta, or a whole message) as ``llm``'s events."""
    if reasoning and not hide_reasoning:
        yield StreamEvent(type="reasoning", chunk=reasoning)
    if text:
        yield StreamEvent(type="text", chunk=text)


def _whole_events(completion: ChatCompletion, hide_reasoning: bool) -> Iterator[StreamEvent]:
    message = completion.choices[0].message if completion.choices else None
    if message is not None:
        yield from _text_events(message.reasoning, message.content, hide_reasoning)


def _usage_details(completion: ChatCompletion) -> dict[str, Any]:
    """What ``llm`` logs besides the two counts: NanoGPT's token details (zeros left out, as
    ``llm`` does for OpenAI) and the charge."""
    details: dict[str, Any] = {}
    if completion.usage is not None:
        raw = completion.usage.to_dict()
        for name, value in raw.items():
            if name in ("prompt_tokens", "completion_tokens", "total_tokens"):
                continue
            if isinstance(value, dict):
                value = {k: v for k, v in value.items() if v}
            if value:
                details[name] = value
    if completion.cost is not None:
        details["cost_usd"] = str(completion.cost)
    return details


def _llm_error(error: NanoGPTError) -> llm.ModelError:
    """The SDK's one-line message, with the fix ``llm`` users type."""
    message = str(error)
    if isinstance(error, NotFoundError) and error.code == "model_not_found":
        message += " (the catalog may have changed: llm nanogpt refresh)"
    elif getattr(error, "status_code", None) == 401:
        message += " (set the key with: llm keys set nanogpt)"
    return llm.ModelError(message)


class _NanoGPTModel:
    """What the sync and async models share: the model's capabilities, and the translation
    of a prompt into a request and of an answer into ``llm``'s events and records."""

    model_id: str
    can_stream: bool = True
    needs_key: str | None = KEY_NAME
    key_env_var: str | None = KEY_ENV_VAR
    attachment_types: set[str] | frozenset[str] = frozenset()

    def _setup(self, model: Model) -> None:
        self.model_id = PREFIX + model.id
        self.nanogpt_model = model
        caps = model.capabilities
        self.supports_tools = caps.tool_calling
        self.supports_schema = caps.structured_output
        self.attachment_types = set(IMAGE_TYPES) if caps.vision else set()

    def _request(self, prompt: llm.Prompt) -> dict[str, Any]:
        """The keywords of ``chat.completions.create`` for this prompt."""
        params: dict[str, Any] = {k: v for k, v in prompt.options if v is not None}
        if prompt.schema:
            params["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "output", "schema": prompt.schema}}
        tools = _tool_definitions(prompt.tools)
        if tools:
            params["tools"] = tools
        if prompt.hide_reasoning and self.nanogpt_model.capabilities.reasoning:
            params["reasoning"] = {"exclude": True}
        return {"model": self.nanogpt_model.id, "messages": _wire_messages(prompt), **params}

    def _finish(self, completion: ChatCompletion,
                response: llm.Response | llm.AsyncResponse) -> Iterator[StreamEvent]:
        """Record the answer on ``response`` (tool calls, usage, model, JSON) and yield the
        tool calls' events."""
        message = completion.choices[0].message if completion.choices else None
        for call in (message.tool_calls or []) if message is not None else []:
            name = call.function.name if call.function else None
            args = (call.function.arguments if call.function else None) or "{}"
            try:
                arguments = json.loads(args)
            except ValueError:
                arguments = {"_raw": args}  # the tool refuses it, and llm tells the model
            response.add_tool_call(llm.ToolCall(name=name or "", arguments=arguments,
                                                tool_call_id=call.id))
            yield StreamEvent(type="tool_call_name", chunk=name or "", tool_call_id=call.id)
            yield StreamEvent(type="tool_call_args", chunk=args, tool_call_id=call.id)
        usage = completion.usage
        if usage is not None:
            response.set_usage(input=usage.prompt_tokens, output=usage.completion_tokens,
                               details=_usage_details(completion) or None)
        if completion.model and completion.model != self.nanogpt_model.id:
            response.set_resolved_model(completion.model)
        response.response_json = completion.to_dict()

    def __str__(self) -> str:
        return f"NanoGPT: {self.model_id}"

    def _client_options(self, key: str | None) -> dict[str, Any]:
        return {"api_key": key, "base_url": _base_url()}


class NanoGPTChat(_NanoGPTModel, llm.KeyModel):
    """A NanoGPT model for ``llm``'s blocking API and command line."""

    class Options(NanoGPTOptions):
        pass

    def __init__(self, model: Model) -> None:
        self._setup(model)

    def execute(self, prompt: llm.Prompt, stream: bool, response: llm.Response,
                conversation: llm.Conversation | None,
                key: str | None = None) -> Iterator[StreamEvent]:
        request = self._request(prompt)
        hide = prompt.hide_reasoning
        try:
            with NanoGPT(**self._client_options(key)) as client:
                if stream:
                    with client.chat.completions.create(
                            **request, stream=True,
                            stream_options={"include_usage": True}) as s:
                        for chunk in s:
                            if chunk.choices:
                                delta = chunk.choices[0].delta
                                yield from _text_events(delta.reasoning, delta.content, hide)
                        completion = s.get_final_completion()
                else:
                    completion = client.chat.completions.create(**request)
                    yield from _whole_events(completion, hide)
        except NanoGPTError as e:
            raise _llm_error(e) from e
        yield from self._finish(completion, response)


class AsyncNanoGPTChat(_NanoGPTModel, llm.AsyncKeyModel):
    """A NanoGPT model for ``llm``'s async API."""

    class Options(NanoGPTOptions):
        pass

    def __init__(self, model: Model) -> None:
        self._setup(model)

    async def execute(self, prompt: llm.Prompt, stream: bool, response: llm.AsyncResponse,
                      conversation: llm.AsyncConversation | None,
                      key: str | None = None) -> AsyncGenerator[StreamEvent, None]:
        request = self._request(prompt)
        hide = prompt.hide_reasoning
        try:
            async with AsyncNanoGPT(**self._client_options(key)) as client:
                if stream:
                    s = await client.chat.completions.create(
                        **request, stream=True, stream_options={"include_usage": True})
                    async with s:
                        async for chunk in s:
                            if chunk.choices:
                                delta = chunk.choices[0].delta
                                for event in _text_events(delta.reasoning, delta.content,
                                                          hide):
                                    yield event
                        completion = await s.get_final_completion()
                else:
                    completion = await client.chat.completions.create(**request)
                    for event in _whole_events(completion, hide):
                        yield event
        except NanoGPTError as e:
            raise _llm_error(e) from e
        for event in self._finish(completion, response):
            yield event
