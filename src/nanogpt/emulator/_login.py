"""The browser login (device flow) of ``integrations/cli-login.mdx``: its handlers and state.

``POST /api/cli-login/start`` hands out a device code and a user code; ``POST
/api/cli-login/poll`` answers 202 ``authorization_pending`` until the code is approved, then
200 with a fresh ``sk-nano-...`` key once, 409 ``consumed`` after that, 410 ``expired`` when
the code ran out, 404 ``invalid_code`` for a code it never handed out.

Nobody signs in to the emulator, so approving is done by the test (``emu.logins``):
``pending()`` lists the user codes waiting, ``approve(code)`` (returns the key the next poll
gets), ``expire(code)``, ``consume(code)`` (as if another poll had already taken the key).
A person trying the flow by hand (``nanogpt emulate``, then ``nanogpt --base-url ... login``)
opens the page it prints, ``GET /cli-login/verify?code=...``, and presses Approve there.
``interval`` (seconds, 2 as NanoGPT says; tests set less) and ``expires_in`` (600) are
what a start answer says. A start body that is not a JSON object (broken JSON, an array) is
a 400 ``invalid_json``, as on the other endpoints; no body at all starts a login.
"""

from __future__ import annotations

import html
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from aiohttp import web

from ._errors import json_error
from ._exchange import RequestKeys as K

if TYPE_CHECKING:
    from ._routes import Site

__all__ = ["LoginStore", "approve_page", "poll", "start", "verify_page"]

MAX_CLIENT_NAME = 64
_CODE_LETTERS = "BCDFGHJKLMNPQRSTVWXZ23456789"  # no vowels, no look-alikes


@dataclass
class _Login:
    device_code: str
    user_code: str
    client_name: str
    expires_at: float
    key: str | None = None  # set when approved
    delivered: bool = False
    expired: bool = False


class LoginStore:
    """The logins started on one emulator, shared by its handlers and the test thread."""

    def __init__(self) -> None:
        self.interval: float = 2
        self.expires_in: float = 600
        self._lock = threading.Lock()
        self._by_device: dict[str, _Login] = {}
        self._by_user: dict[str, _Login] = {}

    # what tests use ---------------------------------------------------------------------------

    def pending(self) -> list[str]:
        """The user codes started and neither approved nor expired, oldest first."""
        with self._lock:
            return [u for u, login in self._by_user.items()
                    if login.key is None and not self._is_expired(login)]

    def approve(self, user_code: str) -> str:
        """Approve a code as its user would; the key the next poll receives."""
        with self._lock:
            login = self._find(user_code)
            if login.key is None:
                login.key = "sk-nano-" + secrets.token_hex(16)
            return login.key

    def expire(self, user_code: str) -> None:
        with self._lock:
            self._find(user_code).expired = True

    def consume(self, user_code: str) -> None:
        """As if another poll had already taken the key: the next poll gets 409."""
        with self._lock:
            login = self._find(user_code)
            login.key = login.key or "sk-nano-" + secrets.token_hex(16)
            login.delivered = True

    def _find(self, user_code: str) -> _Login:
        login = self._by_user.get(user_code)
        if login is None:
            raise KeyError(f"no login with the user code {user_code!r}")
        return login

    @staticmethod
    def _is_expired(login: _Login) -> bool:
        return login.expired or time.monotonic() >= login.expires_at

    # what the handlers use ----------------------------------------------------------------------

    def begin(self, client_name: str) -> _Login:
        with self._lock:
            user_code = "".join(secrets.choice(_CODE_LETTERS) for _ in range(8))
            user_code = f"{user_code[:4]}-{user_code[4:]}"
            login = _Login(device_code=secrets.token_urlsafe(32), user_code=user_code,
                           client_name=client_name,
                           expires_at=time.monotonic() + self.expires_in)
            self._by_device[login.device_code] = login
            self._by_user[user_code] = login
            return login

    def answer(self, device_code: str) -> tuple[int, dict[str, Any]]:
        """The status and body of a poll for ``device_code``."""
        with self._lock:
            login = self._by_device.get(device_code)
            if login is None:
                return 404, {"error": "invalid_code"}
            if login.delivered:
                return 409, {"status": "consumed"}
            if self._is_expired(login):
                return 410, {"status": "expired"}
            if login.key is None:
                return 202, {"status": "authorization_pending"}
            login.delivered = True
            return 200, {"status": "approved", "key": login.key}


async def start(site: Site, request: web.Request) -> web.Response:
    """``POST /api/cli-login/start``: a new login; ``client_name`` is optional, and so is the
    body; a body that is there but not a JSON object is a 400, no login started."""
    body = request[K.json]
    if body is not None and not isinstance(body, dict):
        return json_error(request[K.rid], 400, "Request body must be a JSON object",
                          code="invalid_json")
    name = body.get("client_name", "") if body is not None else ""
    if not isinstance(name, str) or len(name) > MAX_CLIENT_NAME:
        return json_error(request[K.rid], 400, f"client_name must be a string of at most "
                          f"{MAX_CLIENT_NAME} characters", code="invalid_client_name")
    store: LoginStore = site.logins
    login = store.begin(name)
    page = f"{request.url.origin()}/cli-login/verify"
    return web.json_response(
        {"device_code": login.device_code, "user_code": login.user_code,
         "verification_uri": page, "verification_uri_complete": f"{page}?code={login.user_code}",
         "expires_in": store.expires_in, "interval": store.interval},
        headers={"X-Request-ID": request[K.rid]})


async def poll(site: Site, request: web.Request) -> web.Response:
    """``POST /api/cli-login/poll`` with ``{"device_code": ...}``."""
    body = request[K.json]
    code = body.get("device_code") if isinstance(body, dict) else None
    if not isinstance(code, str):
        return json_error(request[K.rid], 400, "device_code is required",
                          code="invalid_request")
    status, answer = site.logins.answer(code)
    return web.json_response(answer, status=status, headers={"X-Request-ID": request[K.rid]})


_PAGE = """<!doctype html><title>NanoGPT emulator login</title>
<h1>Approve {code}?</h1><p>A command line asks for an API key of this emulator.</p>
<form method="post"><input type="hidden" name="code" value="{code}">
<button>Approve</button></form>"""


async def verify_page(site: Site, request: web.Request) -> web.Response:
    """``GET /cli-login/verify?code=...``: the page with the Approve button."""
    code = html.escape(request.query.get("code", ""), quote=True)
    return web.Response(text=_PAGE.format(code=code), content_type="text/html")


async def approve_page(site: Site, request: web.Request) -> web.Response:
    """``POST /cli-login/verify`` (the form): approves the code."""
    raw = request[K.json]
    form = parse_qs(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else "")
    code = (form.get("code") or [""])[0]
    try:
        site.logins.approve(code)
    except KeyError:
        return web.Response(status=404, text="<p>No login has this code.</p>",
                            content_type="text/html")
    return web.Response(text="<p>Approved: you can go back to the terminal.</p>",
                        content_type="text/html")
