"""Which request headers carry a credential, and masking their values. No I/O.

The rule, by header name (case-insensitive): ``authorization``, ``proxy-authorization``,
``cookie``, ``x-api-key``, ``api-key`` and any name containing ``auth``, ``token``,
``secret``, ``key``, ``cookie``, ``session``, ``passw``, ``credential`` or ``signature``.
It errs on the side of masking: a masked header is still sent as is; only its repr, in an
error, a log line or a traceback, shows ``'***'``.
"""

from __future__ import annotations

import functools

from ._config import MaskedStr

__all__ = ["is_credential_header", "mask_credentials"]

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
