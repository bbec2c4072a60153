"""Which request headers carry a credential, and masking their values. No I/O.

The rule, by header name (case-insensitive): ``authorization``, ``proxy-authorization``,
``cookie``, ``x-api-key``, ``api-key`` and any name containing ``auth``, ``token``,
``secret``, ``key``, ``cookie``, ``session``, ``passw``, ``credential`` or ``signature``.
It errs on the side of masking: a masked header is still sent as is; only its repr, in an
error, a log line or a traceback, shows ``'***'``.

A server may also echo a request's headers back in its error message (a debugging proxy's
error page does). The values of credential headers sent are remembered (:func:`remember`, the
most recent few hundred, each word of 8 characters or more: ``Bearer <key>`` gives the key),
and :func:`scrub` masks them in any text a server sent before it becomes an error's message
(:func:`scrub_bytes`, :func:`scrub_headers`: in its whole body and its headers too).
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Mapping

from .config import MaskedStr

__all__ = ["is_credential_header", "mask_credentials", "remember", "scrub", "scrub_bytes",
           "scrub_headers"]

_WORDS = ("auth", "token", "secret", "key", "cookie", "session", "passw", "credential",
          "signature")


@functools.lru_cache(maxsize=512)
def is_credential_header(name: str) -> bool:
    """True for a header whose value may be a credential (see the module docstring)."""
    lowered = name.lower()
    return any(word in lowered for word in _WORDS)


def mask_credentials(headers: dict[str, str]) -> None:
    """Wrap, in place, every credential header value in :class:`MaskedStr`: an HTTP library
    that puts the request headers in an error's repr then shows ``'***'``."""
    for name, value in headers.items():
        if type(value) is str and is_credential_header(name):
            headers[name] = MaskedStr(value)


_MIN_SECRET = 8  # a shorter word is too likely an ordinary one (and too weak to be a key)
_MAX_KNOWN = 256
_WORD = re.compile(r"[^\s;,=]+")
_known: dict[str, None] = {}  # the secrets, oldest first
_known_values: dict[str, None] = {}  # whole header values already split (the hot path)
_lock = threading.Lock()


def remember(headers: Mapping[str, str]) -> None:
    """Note the credential values in ``headers`` for :func:`scrub` (a dict lookup per
    credential header when its value was seen before)."""
    for name, value in headers.items():
        if value in _known_values or not is_credential_header(name):
            continue
        with _lock:
            _forget_oldest(_known_values, str(value))
            for word in _WORD.findall(value):
                if len(word) >= _MIN_SECRET:
                    _forget_oldest(_known, word)


def _forget_oldest(known: dict[str, None], item: str) -> None:
    known[item] = None
    if len(known) > _MAX_KNOWN:
        del known[next(iter(known))]


def scrub(text: str) -> str:
    """``text`` (from a server) with every remembered credential masked as ``***``."""
    for secret in tuple(_known):
        if secret in text:
            text = text.replace(secret, "***")
    return text


def scrub_bytes(raw: bytes) -> bytes:
    """A server's body with every remembered credential masked (the same bytes when none is
    in it): masked before it is parsed, so no part of what is parsed holds one."""
    if not _known:
        return raw
    text = raw.decode("utf-8", "replace")
    scrubbed = scrub(text)
    return raw if scrubbed == text else scrubbed.encode()


def scrub_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    """A server's headers with :func:`scrub` applied to every value (names in lower case,
    as a case-insensitive mapping would find them)."""
    if not _known:
        return headers
    return {name.lower(): scrub(value) for name, value in headers.items()}
