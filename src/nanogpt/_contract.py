"""What the package's own tools (the command line, the batch runner) use from the SDK.

Not public API, but a named contract: the tools import these names and nothing else that is
private, so the SDK's internals can move without the tools reaching into them. Importing this
module is cheap (no HTTP library); the clients offer ``has_api_key`` for the same reason.

* the chat parameters: which exist (:func:`parameter_names`), their type as the command line
  reads them (:func:`parameter_kind`), their check (:func:`check_parameter`, raising
  ``InvalidParameterError`` like ``create()``) and their name on the wire (:func:`wire_name`);
* :func:`models_from_catalog`: typed models from catalog entries kept on disk;
  :func:`closest_ids`: the catalog ids a mistyped model id most likely meant (what
  ``models.retrieve`` names in its ``NotFoundError``);
* the key and the base URL as the clients take them: :class:`Secret` (a key no repr, log or
  traceback shows), :func:`resolve_api_key` and :func:`check_base_url`, so that a value the
  tools store is refused when, and only when, a client would refuse it; :func:`redact_url`, a
  URL without its password, as the tools write it to disk or show it;
* :func:`post_without_key`: a JSON POST under the API root that carries no key, through a
  client's transport (retries, timeouts, failover), answered as (status, parsed body), also
  for the error statuses the caller names (the browser login reads 409 and 410 that way);
* :func:`parameter_hints`: every chat parameter's type, from ``ChatParams`` (the LangChain chat
  model makes its fields from it); :func:`output_format`: what ``parse()`` sends for a type or
  a JSON schema and how it decodes the answer (``response_format``, ``parse_text``), for the
  integrations' structured output; :func:`tool_call_slot`: which tool call a streamed
  tool-call delta continues, as the SDK's stream assembles them (the LangChain chat model gives
  LangChain the same index).
"""

from __future__ import annotations

import typing
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._core.config import Secret, check_base_url, redact_url, resolve_api_key
    from ._core.structured import OutputFormat
    from ._core.types import Model
    from ._sync.client import NanoGPT

__all__ = [
    "Secret",
    "check_base_url",
    "check_parameter",
    "closest_ids",
    "models_from_catalog",
    "output_format",
    "parameter_hints",
    "parameter_kind",
    "parameter_names",
    "post_without_key",
    "redact_url",
    "resolve_api_key",
    "wire_name",
]


_FROM_CONFIG = ("Secret", "check_base_url", "redact_url", "resolve_api_key")


def __getattr__(name: str) -> Any:
    """The key and URL names load on first use: the command line imports this module at
    startup, and needs them only in some commands."""
    if name in _FROM_CONFIG:
        from ._core import config

        return getattr(config, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parameter_names() -> list[str]:
    """Every named parameter ``chat.completions.create`` takes besides model and messages."""
    from ._core.params import PARAMS

    return list(PARAMS)


def check_parameter(name: str, value: Any) -> None:
    """Raise ``InvalidParameterError`` (naming ``name``) when ``create()`` would refuse
    ``value``; a name that is not a parameter is a ``KeyError``."""
    from ._core.params import PARAMS

    PARAMS[name][1](name, value)


def wire_name(name: str) -> str | None:
    """The field ``name`` is sent as (``web_search`` goes as ``webSearch``); None when
    ``name`` is not a parameter."""
    from ._core.params import PARAMS

    spec = PARAMS.get(name)
    return spec[0] if spec is not None else None


def parameter_kind(name: str) -> type | tuple[str, ...]:
    """How a parameter is typed in text: ``float``, ``int`` or ``str``, or the tuple of the
    values it takes when it is one of a few (``reasoning_effort``). Read from the SDK's
    ``ChatParams``, so a flag built from it follows the SDK."""
    from ._core.params import chat_param_hints

    hint = chat_param_hints()[name]
    if typing.get_origin(hint) is typing.Literal:
        return tuple(str(v) for v in typing.get_args(hint))
    if hint in (float, int, str):
        return typing.cast(type, hint)
    raise TypeError(f"{name} ({hint}) is not a parameter a single flag can give")


def parameter_hints() -> dict[str, Any]:
    """Every parameter of :func:`parameter_names` with its type (``ChatParams``' annotations
    as types: ``float``, ``str | list[str]``, ``Literal[...]``...)."""
    from ._core.params import chat_param_hints

    return dict(chat_param_hints())


def output_format(schema: Any) -> OutputFormat[Any]:
    """What ``chat.completions.parse(response_format=schema)`` sends and how it decodes:
    ``.response_format`` (the request field, strict where the schema allows), ``.name``,
    ``.schema`` and ``.parse_text(text)`` (``OutputValidationError`` when the text does not
    fit). ``schema`` is a Pydantic model, msgspec Struct, dataclass, TypedDict or a JSON schema
    dict; anything else is an ``InvalidParameterError``."""
    from ._core.structured import output_format as made

    return made(schema)


def closest_ids(wrong: str, ids: Iterable[str], *, most: int = 3) -> list[str]:
    """The catalog ids a mistyped model id most likely meant, best first (see
    :func:`nanogpt._core.fuzzy.closest_ids`)."""
    from ._core.fuzzy import closest_ids as closest

    return closest(wrong, ids, most=most)


def tool_call_slot(call: Any, position: int) -> int:
    """Which tool call a streamed tool-call delta (a ``ToolCall`` at ``position`` in its
    chunk's list) continues, as the SDK's own stream assembles them."""
    from ._core.stream import tool_call_slot as slot

    return slot(call, position)


def models_from_catalog(items: list[Any]) -> list[Model]:
    """Typed models from catalog entries (``Model.raw`` of each, as a cache keeps them); an
    entry that is not an object is skipped."""
    from ._core.client import models_from_dicts

    return models_from_dicts(items)


def post_without_key(client: NanoGPT, path: str, body: Any, *,
                     answers: Collection[int] = (),
                     timeout: float | None = None) -> tuple[int, Any]:
    """POST ``body`` as JSON to ``path`` under the API root (``https://nano-gpt.com/api``)
    with no key, even when ``client`` has one: the answer's status and its body parsed as
    JSON (None when it is not JSON), for a 2xx or a status in ``answers``; any other error
    status raises as in every call (``APIStatusError`` and its advice). Retried as any POST
    is: only where the request was not processed (408, 429, 503, or it never left). ``timeout``
    (seconds, for the whole call) replaces the client's, for answers that are never slow."""
    import msgspec

    from ._core.errors import APIStatusError

    def parsed(status: int, headers: Any, raw: bytes) -> tuple[int, Any]:
        try:
            return status, msgspec.json.decode(raw)
        except msgspec.DecodeError:
            return status, None

    req = client._core.request("POST", path, body=body, api_root=True, auth="none",
                               timeout=timeout)
    try:
        return client._call(req, parsed)
    except APIStatusError as e:
        if e.status_code not in answers:
            raise
        return e.status_code, e.body
