"""``nanogpt login``: the browser login (device flow) and the pasted key, and storing the key.

What each answer of the flow means is decided in ``_device_login`` (no I/O); this module
sends, waits, talks to the person and stores. Everything it prints goes to stderr. The key
and the device code are Secrets from the moment they are read, and are never printed.
"""

from __future__ import annotations

import os
import sys
import time
import webbrowser
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from . import _device_login as flow
from . import _settings
from ._safe import visible

if TYPE_CHECKING:
    from .. import NanoGPT
    from .._contract import Secret
    from ._app import App

__all__ = ["browser_login", "pasted_key", "store"]


def pasted_key(app: App, *, verify: bool) -> Secret:
    """The key asked for on a terminal, or read from piped standard input; checked against
    the API unless ``verify`` is False (or offline)."""
    from .._contract import resolve_api_key

    if sys.stdin.isatty():
        raw = click.prompt("NanoGPT API key (from https://nano-gpt.com/api)", hide_input=True)
    else:
        raw = sys.stdin.readline()
    secret = resolve_api_key(raw)
    del raw
    if secret is None:
        raise click.ClickException("no key given")
    if verify and not app.offline:
        with app.client(api_key=secret) as checker:
            checker.balance()  # a wrong key raises AuthenticationError
    return secret


def store(secret: Secret) -> None:
    where = _settings.store_key(secret.reveal())
    click.echo(f"key stored in {where}", err=True)
    if os.environ.get("NANOGPT_API_KEY"):
        click.echo("note: NANOGPT_API_KEY is set and takes precedence", err=True)


def browser_login(app: App, *, open_browser: bool,
                  sleep: Callable[[float], None] = time.sleep,
                  clock: Callable[[], float] = time.monotonic) -> Secret:
    """The device flow: start, show the code and the page (open it when a browser can show
    it), poll until approved. Ctrl-C while waiting ends it with one line, nothing stored."""
    # a client without a key: the flow needs none, and must not send a stored one
    with app.client(api_key="") as client:
        start = _start(client)
        _tell(start, open_browser=open_browser)
        try:
            return _wait_for_approval(client, start, sleep, clock)
        except KeyboardInterrupt:
            click.echo("nanogpt: login cancelled; nothing stored", err=True)
            raise click.exceptions.Exit(130) from None


def _start(client: NanoGPT) -> flow.Start:
    from .. import NotFoundError
    from .._contract import post_without_key

    try:
        _, body = post_without_key(client, flow.START_PATH, flow.start_body(),
                                   timeout=flow.REQUEST_TIMEOUT)
    except NotFoundError:
        raise click.ClickException(
            f"{client.base_url} offers no browser login (404 on /api{flow.START_PATH}); "
            "paste a key from https://nano-gpt.com/api with 'nanogpt login --with-key'"
        ) from None
    return flow.decode_start(body)


def _tell(start: flow.Start, *, open_browser: bool) -> None:
    page = visible(start.page, name=True)
    code = visible(start.user_code, name=True)
    click.echo(f"To log in, open this page and approve the code {code}:\n\n  {page}\n",
               err=True)
    if open_browser and flow.safe_to_open(start.page) \
            and flow.should_open_browser(os.environ, sys.platform) \
            and _open(start.page):
        click.echo("(opened in your browser)", err=True)
    minutes = max(1, round(start.expires_in / 60))
    click.echo(f"Waiting for approval (the code expires in {minutes} min; Ctrl-C cancels)...",
               err=True)


def _open(page: str) -> bool:
    try:
        return webbrowser.open(page)
    except Exception:  # a broken browser setup: the page is printed anyway
        return False


def _wait_for_approval(client: NanoGPT, start: flow.Start, sleep: Callable[[float], None],
                       clock: Callable[[], float]) -> Secret:
    from .._contract import post_without_key

    expires_at = clock() + start.expires_in
    interval = start.interval
    while True:
        status, body = post_without_key(client, flow.POLL_PATH, flow.poll_body(start),
                                        answers=(401, 403, 404, 409, 410),
                                        timeout=flow.REQUEST_TIMEOUT)
        answer = flow.decode_poll(status, body, interval)
        del body  # it may hold the key in the clear
        if isinstance(answer, flow.Approved):
            return answer.key
        if isinstance(answer, flow.Expired):
            raise click.ClickException("the login code expired before it was approved; "
                                       "nothing stored: " + flow.RETRY_ADVICE)
        if isinstance(answer, flow.Consumed):
            raise click.ClickException("this login's key was already handed out (409); "
                                       "nothing stored: " + flow.RETRY_ADVICE)
        interval = answer.interval
        wait = flow.next_wait(interval, expires_at - clock())
        if wait is None:
            raise click.ClickException("the login code expired before it was approved; "
                                       "nothing stored: " + flow.RETRY_ADVICE)
        sleep(wait)
