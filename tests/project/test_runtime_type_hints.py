"""``typing.get_type_hints`` resolves the annotations of every public method of the clients,
their namespaces and what they return, at run time: tools that read signatures (pydantic,
typer, LangChain's tool schemas, IDEs' runtime inspectors) must not meet a ``NameError`` for a
name imported only under ``TYPE_CHECKING``. The exceptions are the names whose import would
load what a chat-only program must not (``aiohttp`` for the async streams, the account
capability for ``usage``'s dates, the providers module for ``models.providers``): they stay
for type checkers only (``nanogpt.types`` has them)."""

from __future__ import annotations

import inspect
import typing

from test_public_types import _CONSTRUCTED_BY_USERS, _is_public, _public_classes

# names kept lazy on purpose (see the module docstring)
_LAZY = {"DateLike", "ModelProviders", "Stream", "AsyncStream", "ParsedStream",
         "AsyncParsedStream"}


def _unresolved() -> list[str]:
    failures = []
    for cls in dict.fromkeys(_public_classes()):
        for name, member in vars(cls).items():
            if not _is_public(name) or (name == "__init__"
                                        and cls.__name__ not in _CONSTRUCTED_BY_USERS):
                continue
            function = getattr(member, "fget", None) or getattr(member, "__func__", member)
            if not inspect.isfunction(function):
                continue
            try:
                typing.get_type_hints(function)
            except NameError as e:
                if e.name not in _LAZY:
                    failures.append(f"{cls.__qualname__}.{name}: {e}")
    return failures


def test_public_signatures_resolve_at_run_time() -> None:
    assert _unresolved() == []
