"""The signature ``inspect.signature`` and ``help()`` show for ``chat.completions.create``,
made from the one parameter table (``params.ChatParams``) when the namespaces are imported.

``create`` takes the chat parameters as ``**params`` (typed for type checkers by
``Unpack[ChatParams]`` in its overloads); :func:`chat_signature` gives it a ``__signature__``
that lists each of them as a keyword with its type and ``None`` as default (left out: not
sent), so that an IDE, ``help()`` and ``inspect`` see the same list the body is checked
against, without a second copy of it. Annotations are evaluated where that is possible (the
text is kept where a name exists for type checkers only). No I/O.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from . import config, params

__all__ = ["chat_signature"]

F = TypeVar("F", bound=Callable[..., Any])


def chat_signature(func: F) -> F:
    """``func`` (a ``create`` taking ``**params``) with a ``__signature__`` in which
    ``**params`` is replaced by every parameter of ``ChatParams``."""
    sig = inspect.signature(func)
    names = {**vars(typing), **func.__globals__, "Timeout": config.Timeout}  # read-only
    fixed = [p.replace(annotation=_evaluated(p.annotation, names))
             for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    vars(func)["__signature__"] = sig.replace(
        parameters=[*fixed, *_chat_parameters()],
        return_annotation=_evaluated(sig.return_annotation, names))
    return func


@functools.cache
def _chat_parameters() -> tuple[inspect.Parameter, ...]:
    """Each chat parameter as a keyword with its type, ``None`` by default (made once: the
    sync and the async ``create`` share them)."""
    hints = params.chat_param_hints()
    return tuple(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                   annotation=hints[name] | None)
                 for name in params.PARAMS)


class _Annotated:
    """One annotation's text, in the shape ``typing.get_type_hints`` reads."""

    def __init__(self, text: str) -> None:
        self.__annotations__ = {"value": text}


def _evaluated(annotation: Any, names: dict[str, Any]) -> Any:
    """The type an annotation's text names (as ``typing.get_type_hints`` evaluates it), or
    the text itself when it names something imported for type checkers only."""
    if not isinstance(annotation, str):
        return annotation
    try:
        return typing.get_type_hints(_Annotated(annotation), globalns=names)["value"]
    except Exception:  # a name imported for type checkers only: the text says it
        return annotation
