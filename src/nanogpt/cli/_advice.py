"""Every error the command line shows: ONE ordered table from exception to (line, exit code).

Each command lets its errors go; ``main`` (and a conversation, which goes on after one)
turns them into a single line through :func:`one_line`. The table owns the wording: a row
says what went wrong in the user's terms and the one step that fixes *that* error. So the
advice fits the error: a port in use gets another port, a full disk gets "free some space",
a missing folder gets "check the path", and only a permission problem with the config or
cache folder gets the NANOGPT_CONFIG_DIR advice. Rows are tried in order, most specific
first; the last one catches everything.

Exit codes: 2 for a usage mistake (a bad flag or value, nothing sent), 1 for the rest, and
click's own codes for its errors.
"""

from __future__ import annotations

import contextlib
import errno
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

import nanogpt as sdk

from . import _sampling, _settings

__all__ = ["CannotListen", "known_models", "one_line", "show_traceback", "start_debug_log"]


class CannotListen(Exception):
    """The emulator could not listen on ``host:port`` (the socket's ``OSError`` is
    ``error``): told apart from the other ``OSError``s because its advice is about flags."""

    def __init__(self, host: str, port: int, error: OSError) -> None:
        super().__init__(f"cannot listen on {host}:{port}: {error.strerror or error}")
        self.host = host
        self.port = port
        self.error = error


@dataclass(frozen=True)
class Row:
    """Errors of type ``kind`` for which ``when`` holds are told by ``say`` and exit with
    ``code`` (``None``: the exception's own ``exit_code``, for click's errors)."""

    kind: type[BaseException]
    say: Callable[[Any], str]
    code: int | None = 1
    when: Callable[[Any], bool] = lambda e: True


# the flags (or things) an InvalidParameterError can name, besides the sampling ones:
# never a Python argument name the command line has no way to pass
_OTHER_FLAGS = {"model": "--model", "base_url": "--base-url", "api_key": "the API key",
                "input": "TEXT", "file": "FILE", "query": "QUERY", "prompt": "PROMPT",
                "size": "--size", "image": "--image", "mask": "--mask",
                "from_date": "--from", "to_date": "--to"}
_CONFIG_DIR_ADVICE = "check the permissions, or set NANOGPT_CONFIG_DIR / NANOGPT_CACHE_DIR"


def _flag(param: str) -> str:
    """The flag that gave a parameter (``top_p`` -> ``--top-p``), or the parameter itself."""
    base = param.split("[")[0].split(".")[0]
    if base in _sampling.SAMPLING:
        return _sampling.flag_name(base)
    return _OTHER_FLAGS.get(base, param)


def _usage(e: click.UsageError) -> str:
    assert e.ctx is not None
    return f"{e.format_message()} (see '{e.ctx.command_path} --help')"


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _cannot_listen(e: CannotListen) -> str:
    where = f"cannot listen on {_address(e.host, e.port)}"
    number = e.error.errno
    if number == errno.EADDRINUSE:
        return (f"{where}: the port is in use (another emulator?); pick another with "
                f"--port N, or --port 0 for a free one")
    if number == errno.EADDRNOTAVAIL:
        return (f"{where}: {e.host} is not an address of this machine; use --host 127.0.0.1 "
                f"(the default)")
    if number in (errno.EACCES, errno.EPERM):
        return (f"{where}: ports below 1024 need privileges; use one above 1024, or --port 0 "
                f"for a free one")
    import socket

    if isinstance(e.error, socket.gaierror):
        return f"{where}: {e.host} is not a known host name; use --host 127.0.0.1"
    return f"{where}: {e.error.strerror or e.error}"


def _rate_limited(e: sdk.RateLimitError) -> str:
    wait = f"; the server asks to wait {e.retry_after:.0f} s" if e.retry_after else ""
    daily = " (daily limits reset at midnight UTC)" if "daily" in str(e.code or "") else ""
    return f"rate limited (429){wait}{daily}: wait and try again"


def _errno_is(*numbers: int) -> Callable[[OSError], bool]:
    return lambda e: e.errno in numbers


def _path(e: OSError) -> str:
    return f"{e.filename}: " if getattr(e, "filename", None) else ""


def _in_our_folders(e: OSError) -> bool:
    """The failing path is (in) the config or cache folder, which the user can move."""
    if not getattr(e, "filename", None):
        return False
    path = Path(str(e.filename)).absolute()
    folders = (_settings.config_dir().absolute(), _settings.cache_dir().absolute())
    return any(path == d or d in path.parents for d in folders)


def _unexpected(e: BaseException) -> str:
    text = repr(e)
    if len(text) > 300:
        text = text[:300] + "..."
    return f"unexpected error: {text}; run with -v for details"


_PERMISSION = (errno.EACCES, errno.EPERM, errno.EROFS)

TABLE: tuple[Row, ...] = (
    Row(click.UsageError, _usage, None, lambda e: e.ctx is not None),
    Row(click.ClickException, lambda e: e.format_message(), None),
    Row(CannotListen, _cannot_listen),
    Row(sdk.MissingAPIKeyError, lambda e: (
        "no API key: run 'nanogpt login' or set NANOGPT_API_KEY (get a key at "
        "https://nano-gpt.com/api); or try it offline with 'nanogpt --offline chat ...'")),
    Row(sdk.InvalidParameterError, lambda e: (
        f"FILE: {e.detail.split(':')[0]}: put it online and pass its https:// URL instead"), 2,
        when=lambda e: e.param == "file" and "file_url=" in e.detail),  # too big to upload
    Row(sdk.InvalidParameterError, lambda e: f"{_flag(e.param)}: {e.detail}", 2),
    Row(sdk.AuthenticationError, lambda e: (
        "the API key was refused (401): check it with 'nanogpt login', or the "
        "NANOGPT_API_KEY variable")),
    Row(sdk.InsufficientBalanceError, lambda e: (
        "insufficient balance (402): top up at https://nano-gpt.com, then check with "
        "'nanogpt balance'")),
    Row(sdk.RateLimitError, _rate_limited),
    Row(sdk.NotFoundError, lambda e: f"{e.message}: see 'nanogpt models --search ...' for ids",
        when=lambda e: e.code == "model_not_found"),
    Row(sdk.StreamError, lambda e: f"the answer was cut off: {e} (what arrived is shown above)"),
    Row(sdk.APIResponseValidationError, lambda e: (
        f"the API sent a response this client cannot read ({e}); try again, and report it "
        f"if it persists")),
    Row(sdk.APIConnectionError, lambda e: f"{e} (the request reached the server)",
        when=lambda e: e.answer_cut),
    Row(sdk.APITimeoutError, lambda e: f"timed out: {e}; the service may be busy, try again"),
    Row(sdk.APIConnectionError, lambda e: (
        f"could not reach the API: {e}; check your network or --base-url")),
    Row(sdk.APIStatusError, lambda e: f"the API answered {e}"),
    Row(OSError, lambda e: f"{_path(e)}no space left on the device; free some space, or write "
                           f"somewhere else", when=_errno_is(errno.ENOSPC, errno.EDQUOT)),
    Row(OSError, lambda e: f"{_path(e)}{e.strerror}; {_CONFIG_DIR_ADVICE}",
        when=lambda e: e.errno in _PERMISSION and _in_our_folders(e)),
    Row(OSError, lambda e: f"{_path(e)}{e.strerror}; fix that path, or set NANOGPT_CONFIG_DIR / "
                           f"NANOGPT_CACHE_DIR to folders that can be made",
        when=_in_our_folders),
    Row(OSError, lambda e: f"{_path(e)}is a folder; give a file", when=_errno_is(errno.EISDIR)),
    Row(OSError, lambda e: f"{_path(e)}the path does not exist (or a part of it is not a "
                           f"folder); check it", when=_errno_is(errno.ENOENT, errno.ENOTDIR)),
    Row(OSError, lambda e: f"{_path(e)}{e.strerror}; check its permissions, or choose "
                           f"another path", when=_errno_is(*_PERMISSION)),
    Row(OSError, lambda e: f"{_path(e)}{e.strerror or e}"),
    Row(BaseException, _unexpected),
)


@contextlib.contextmanager
def known_models(kind: str, ids: Callable[[], Iterable[str]]) -> Iterator[None]:
    """A model id the service refuses (a 400 or 404 naming the ``model`` parameter) becomes a
    ``--model`` usage error listing the ids of ``kind`` models (``ids()``, a free call): the
    ``models`` command lists chat models only, so "see 'nanogpt models'" would not fit."""
    try:
        yield
    except sdk.APIStatusError as e:
        if e.status_code not in (400, 404) or e.param != "model":
            raise
        try:
            offered = list(ids())
        except sdk.NanoGPTError:
            offered = []
        listed = ", ".join(offered[:_LISTED_IDS]) + (" ..." if len(offered) > _LISTED_IDS
                                                      else "")
        hint = f"; {kind} models: {listed}" if offered else ""
        raise click.BadParameter(f"{e.message}{hint}", param_hint="'--model'") from None


_LISTED_IDS = 8


def explain(e: BaseException) -> tuple[str, int]:
    """The first row of ``TABLE`` that fits ``e``: its line and exit code."""
    for row in TABLE:
        if isinstance(e, row.kind) and row.when(e):
            code = row.code if row.code is not None else getattr(e, "exit_code", 1)
            return row.say(e), code
    raise AssertionError("the last row fits every exception")  # pragma: no cover


def one_line(e: BaseException) -> tuple[str, int]:
    """What went wrong and how to fix it, in one line; and the exit code.

    The line can carry a server's words (``error.message``) or a bad value the user gave:
    it goes through ``_safe.visible``, so no control sequence reaches the terminal and a
    line break in a message cannot make it two lines. A server can also make its words
    megabytes long: the middle of a long line is left out, so that the advice at its end
    still shows."""
    from ._safe import visible

    line, code = explain(e)
    line = visible(line, name=True)
    if len(line) > _LONGEST_LINE:
        cut = len(line) - _LONGEST_LINE
        line = f"{line[:_LONGEST_LINE - 500]} [... {cut} characters ...] {line[-500:]}"
    return line, code


_LONGEST_LINE = 2000


def show_traceback() -> None:
    """The traceback of the exception being handled, on stderr (``-v``). Its last line
    quotes the error, and so the server's words: made visible like everything else from
    the server (line breaks kept), even when stderr is a file someone will ``cat``."""
    import traceback

    from ._safe import visible

    sys.stderr.write(visible(traceback.format_exc()))
    sys.stderr.flush()


def start_debug_log() -> None:
    """Debug logs on stderr (``-v``), each record made visible: a log line can quote what a
    server sent (a failure, a URL from a redirect)."""
    import logging

    from ._safe import visible

    class VisibleFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return visible(super().format(record))

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(VisibleFormatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.DEBUG, handlers=[handler])
