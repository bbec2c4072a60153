"""NanoGPT's browser login (device flow), its pure half: request bodies, the decoding of each
answer, the next wait, whether to open a browser. No I/O here; ``_login`` sends and waits.

The flow (``integrations/cli-login.mdx`` of NanoGPT's docs; the facts with their source are
in docs/nanogpt-api.md): ``POST /api/cli-login/start`` with a client name answers a
``device_code`` (a secret: it fetches the key, so it is never shown), a ``user_code`` the user
sees on the approval page, the page (``verification_uri_complete``), ``expires_in`` and the
polling ``interval``; then ``POST /api/cli-login/poll`` with the device code answers 202
(pending), 200 with the key, 410 (expired), 409 (the key was already handed out) or 404 (an
unknown code). The key is wrapped in a ``Secret`` the moment it is read, and checked as
any key a client takes.

Where the docs are silent, as RFC 8628 (the device flow of OAuth) does: an ``interval`` in a
poll answer replaces the current one, a ``slow_down`` status adds five seconds to it, and a
start answer without an interval means five seconds. An interval that is not a positive
number (zero, negative, NaN) is taken as missing: polling without a pause would hammer the
server. ``expires_in`` is capped at a day, so a hostile start answer cannot make the wait (or
the minutes shown) absurd. A refusal (``access_denied``/``denied``, or 401/403 on the poll)
ends the wait at once with advice to log in again.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import click

from .._contract import Secret, resolve_api_key

__all__ = ["CLIENT_NAME", "Approved", "Consumed", "Expired", "Pending", "PollAnswer", "Start",
           "decode_poll", "decode_start", "next_wait", "poll_body", "should_open_browser",
           "start_body"]

START_PATH = "/cli-login/start"  # under the API root (https://nano-gpt.com/api)
POLL_PATH = "/cli-login/poll"
# the key is listed as "CLI (nanogpt-python)" on https://nano-gpt.com/api; logging in again
# with the same name reuses that key (the docs say so)
CLIENT_NAME = "nanogpt-python"
MAX_CLIENT_NAME = 64
DEFAULT_INTERVAL = 5.0  # RFC 8628's default, when a start answer names none
SLOW_DOWN_STEP = 5.0  # RFC 8628: a slow_down answer adds this to the interval
MAX_INTERVAL = 60.0  # a server asking for more is still polled once a minute
DEFAULT_EXPIRES_IN = 600.0
MAX_EXPIRES_IN = 86400.0  # a day: longer is a server's mistake, not a real code's life
DENIED_STATES = ("access_denied", "denied")
# start and poll answer at once (no long polling): a server silent longer is stuck, and the
# person at the terminal should not wait the client's ten minutes to learn it
REQUEST_TIMEOUT = 30.0
RETRY_ADVICE = ("run 'nanogpt login' again, or paste a key from https://nano-gpt.com/api "
                "with 'nanogpt login --with-key'")


def start_body(client_name: str = CLIENT_NAME) -> dict[str, Any]:
    if not client_name or len(client_name) > MAX_CLIENT_NAME:
        raise click.BadParameter(f"must be 1 to {MAX_CLIENT_NAME} characters",
                                 param_hint="client name")
    return {"client_name": client_name}


@dataclass(frozen=True)
class Start:
    """The start answer. ``device_code`` fetches the key: a Secret, never shown."""

    device_code: Secret
    user_code: str
    page: str  # verification_uri_complete (else verification_uri): where the user approves
    expires_in: float
    interval: float


def _number(value: Any, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return default
    return float(value)


def _interval(value: Any, default: float) -> float:
    """A wait between polls: a positive number, else ``default`` (no pause is no interval)."""
    wait = _number(value, default)
    return min(wait if wait > 0 else default, MAX_INTERVAL)


def _text(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    return value if isinstance(value, str) and value else None


def decode_start(body: Any) -> Start:
    """The 2xx answer of ``/cli-login/start``; a ClickException when it lacks what the flow
    needs (the device code, the user code, a page)."""
    if not isinstance(body, dict):
        raise click.ClickException("the login start answer is not a JSON object; "
                                   + RETRY_ADVICE)
    code = _text(body, "device_code")
    user_code = _text(body, "user_code")
    page = _text(body, "verification_uri_complete") or _text(body, "verification_uri")
    if code is None or user_code is None or page is None:
        raise click.ClickException("the login start answer lacks device_code, user_code or "
                                   "verification_uri; " + RETRY_ADVICE)
    return Start(device_code=Secret(code), user_code=user_code, page=page,
                 expires_in=min(max(_number(body.get("expires_in"), DEFAULT_EXPIRES_IN), 0.0),
                                MAX_EXPIRES_IN),
                 interval=_interval(body.get("interval"), DEFAULT_INTERVAL))


def poll_body(start: Start) -> dict[str, Any]:
    return {"device_code": start.device_code.reveal()}


@dataclass(frozen=True)
class Pending:
    """Not approved yet: wait ``interval`` seconds and poll again."""

    interval: float


@dataclass(frozen=True)
class Approved:
    key: Secret


@dataclass(frozen=True)
class Expired:
    """410: the code ran out before it was approved (or the server forgot it)."""


@dataclass(frozen=True)
class Consumed:
    """409: the key was already handed out, to an earlier poll."""


PollAnswer = Pending | Approved | Expired | Consumed


def decode_poll(status: int, body: Any, interval: float) -> PollAnswer:
    """One answer of ``/cli-login/poll`` (any status), ``interval`` being the current wait.

    A status the flow does not name is a ClickException; so is a 200 without a key (the key
    is never quoted)."""
    fields: Mapping[str, Any] = body if isinstance(body, dict) else {}
    state = fields.get("status")
    if status == 200 and state in ("approved", None):
        # checked as a client checks a key (line breaks, spaces), never quoted
        key = resolve_api_key(fields.get("key")) if isinstance(fields.get("key"), str) else None
        if key is not None:
            return Approved(key)
        raise click.ClickException("the login was approved but the answer holds no key; "
                                   + RETRY_ADVICE)
    if status == 410 or state == "expired":
        return Expired()
    if status == 409 or state == "consumed":
        return Consumed()
    if status in (401, 403) or state in DENIED_STATES:
        raise click.ClickException(f"the login was refused (HTTP {status}); nothing stored: "
                                   + RETRY_ADVICE)
    if status == 404:
        raise click.ClickException("the server does not know this login code (404 "
                                   "invalid_code); " + RETRY_ADVICE)
    if status in (200, 202) or state in ("authorization_pending", "slow_down"):
        wait = _interval(fields.get("interval"), interval)
        if state == "slow_down":
            wait = min(wait + SLOW_DOWN_STEP, MAX_INTERVAL)
        return Pending(wait)
    raise click.ClickException(f"unexpected answer to the login poll (HTTP {status}); "
                               + RETRY_ADVICE)


def next_wait(interval: float, remaining: float) -> float | None:
    """Seconds to wait before the next poll, ``remaining`` being what is left of the code's
    life; None: it has run out, stop. The last wait ends at the expiry, so that the poll after
    it still has a chance (an approval in the last seconds)."""
    if remaining <= 0:
        return None
    return min(interval, remaining)


def should_open_browser(environ: Mapping[str, str], platform: str) -> bool:
    """Whether a browser could show a page to the person at this terminal: not in CI, not
    over SSH (the browser would open on the far machine), not without a display on X11 or
    Wayland systems, not when ``NANOGPT_NO_BROWSER`` is set. The page is printed anyway."""
    if environ.get("NANOGPT_NO_BROWSER") or environ.get("CI"):
        return False
    if any(environ.get(v) for v in ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY")):
        return False
    if platform.startswith(("win", "darwin", "cygwin")):
        return True
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def safe_to_open(page: str) -> bool:
    """Only a web page is handed to the browser: https, or http on a loopback host (the
    emulator). A ``file:`` or ``javascript:`` URL from a server is printed, never opened."""
    parts = urlsplit(page)
    if parts.scheme == "https" and parts.hostname:
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False
