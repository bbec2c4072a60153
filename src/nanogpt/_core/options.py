"""Every client setting, its default and its check, written once: :class:`ClientOptions`.

The public constructors (``NanoGPT(...)``, ``AsyncNanoGPT(...)``) list the settings as typed
keyword arguments, so that IDEs and type checkers show them; their defaults are read from this
class (``DEFAULTS``), and tests/core/test_options.py checks that the signature and the fields
agree, name for name and default for default. Adding a setting is adding a field here (with
its check in ``__post_init__``) and the keyword argument in ``ClientBase.__init__``.

The API key is not a setting here: it is resolved (from the environment too) and wrapped in a
:class:`~nanogpt.types.Secret` before anything else runs, and kept beside the options. The base
URLs are checked against the environment when a client is made (``resolve_base_urls``).

An options object is frozen and checked when made: ``dataclasses.replace(options, **changes)``
checks again, which is what ``client.with_options(...)`` does (:func:`changed_options`). No I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from .compression import DEFAULT_THRESHOLD, compress_threshold
from .config import DEFAULT_TIMEOUT, Timeout, redact_url
from .errors import InvalidParameterError
from .params import check_headers
from .plan import RetryPolicy, retry_statuses
from .proxies import parse_proxy
from .redact import mask_credentials

__all__ = ["DEFAULTS", "ClientOptions", "changed_options"]

_RETRY = RetryPolicy()  # the retry defaults live with the policy they configure


@dataclass(frozen=True, repr=False)
class ClientOptions:
    """The settings of a client (everything but its key), checked and normalised.

    ``timeout`` is a :class:`~nanogpt.Timeout` once made (``None`` means the default one);
    ``compress_requests`` the body size in bytes from which chat requests go gzip-compressed,
    or ``None`` (``True`` becomes the default size, ``False`` ``None``; see ``_core.compression``);
    ``retry_statuses`` a frozenset (``None``: the default statuses); ``default_headers`` a
    checked dict with lower-case names and masked credentials.
    """

    base_url: str | None = None
    fallback_base_urls: list[str] | tuple[str, ...] | None = None
    timeout: Timeout | float | None = DEFAULT_TIMEOUT
    max_retries: int = _RETRY.max_retries
    max_concurrency: int | None = 50
    default_headers: Mapping[str, str] | None = None
    allow_insecure_http: bool = False
    retry_base_delay: float = _RETRY.base_delay
    retry_max_delay: float = _RETRY.max_delay
    max_retry_after: float = _RETRY.max_retry_after
    failover_cooldown: float = 30.0
    models_cache_ttl: float = 600.0
    max_response_bytes: int = 64 * 1024 * 1024
    retry_statuses: Iterable[int] | None = None
    batch_base_url: str | None = None
    proxy: str | None = None
    trust_env: bool = True
    compress_requests: int | None = DEFAULT_THRESHOLD

    def __post_init__(self) -> None:
        _count("max_retries", self.max_retries, 0, "must be an integer >= 0")
        if self.max_concurrency is not None:
            _count("max_concurrency", self.max_concurrency, 1, "must be an integer >= 1, or None")
        _count("max_response_bytes", self.max_response_bytes, 1, "must be a positive integer")
        for name in ("retry_base_delay", "retry_max_delay", "max_retry_after",
                     "failover_cooldown", "models_cache_ttl"):
            _seconds(name, getattr(self, name))
        self._set("compress_requests", compress_threshold(self.compress_requests))
        for name in ("allow_insecure_http", "trust_env"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidParameterError(name, "must be True or False")
        if self.proxy is not None:
            parse_proxy(self.proxy, "proxy")  # a bad proxy URL fails here, before any send
        timeout = self.timeout if self.timeout is not None else DEFAULT_TIMEOUT
        self._set("timeout", Timeout.coerce(timeout))
        self._set("retry_statuses", retry_statuses(self.retry_statuses))
        if self.default_headers is not None:
            headers = check_headers(self.default_headers, "default_headers")
            mask_credentials(headers)  # once: every request copies these
            self._set("default_headers", headers)

    def __repr__(self) -> str:
        """Every setting, URLs without a password or token they may (wrongly) carry."""
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str) and (f.name.endswith("url") or f.name == "proxy"):
                value = redact_url(value)
            elif f.name == "fallback_base_urls" and isinstance(value, (list, tuple)):
                value = [redact_url(u) if isinstance(u, str) else u for u in value]
            shown.append(f"{f.name}={value!r}")
        return f"ClientOptions({', '.join(shown)})"

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)  # normalising a frozen instance as it is made

    @property
    def timeouts(self) -> Timeout:
        """``timeout`` as the :class:`~nanogpt.Timeout` it always is once made."""
        assert isinstance(self.timeout, Timeout)
        return self.timeout

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_retries=self.max_retries, base_delay=self.retry_base_delay,
                           max_delay=self.retry_max_delay, max_retry_after=self.max_retry_after,
                           statuses=frozenset(self.retry_statuses or ()))

    @classmethod
    def from_arguments(cls, arguments: Mapping[str, Any]) -> ClientOptions:
        """The options from a constructor's arguments (its ``locals()``): one field per
        keyword argument, so the constructor need not write each name a second time."""
        return cls(**{f.name: arguments[f.name] for f in fields(cls)})


def _count(name: str, value: Any, minimum: int, rule: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidParameterError(name, rule)


def _seconds(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value < 0:
        raise InvalidParameterError(name, "must be a number of seconds >= 0")


DEFAULTS = ClientOptions()

# what a copy made by with_options shares with its client, and so cannot change
_SHARED_WITH_COPIES = frozenset({"max_concurrency"})


def changed_options(options: ClientOptions, changes: Mapping[str, Any]) -> ClientOptions:
    """``options`` with ``changes`` (``client.with_options``), checked as the constructor
    checks them; an unknown name is a ``TypeError``, as for the constructor."""
    known = {f.name for f in fields(ClientOptions)}
    for name in changes:
        if name not in known:
            raise TypeError(f"with_options() got an unexpected keyword argument {name!r}")
        if name in _SHARED_WITH_COPIES:
            raise InvalidParameterError(name, "is shared by a client and its copies (the "
                                              "concurrency slots): make a new client for "
                                              "another limit")
    return replace(options, **changes)
