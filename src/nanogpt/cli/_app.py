"""What every command shares: the client (real or offline), the catalog cache, error advice."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from . import _settings

if TYPE_CHECKING:
    from .. import Model, NanoGPT
    from .._core.config import Secret
    from ..emulator import Emulator

OFFLINE_KEY = "sk-nano-offline"
_INSECURE_HINT = ", or pass allow_insecure_http=True if you really mean it"


class App:
    def __init__(self, *, base_url: str | None, offline: bool, verbose: int) -> None:
        self.base_url_option = base_url
        self.offline = offline
        self.verbose = verbose
        self._client: NanoGPT | None = None
        self._emulator: Emulator | None = None
        self._config: dict[str, Any] | None = None

    @property
    def config(self) -> dict[str, Any]:
        if self._config is None:
            config = _settings.load_config()
            _settings.check_loaded(config)
            self._config = config
        return self._config

    def base_url(self) -> str | None:
        """The base URL, checked here so that a bad one is blamed on where it came from."""
        if self._emulator is not None:
            return self._emulator.base_url
        from .._core.config import check_base_url
        from .._core.errors import InvalidParameterError

        for value, source, advice in self._base_url_sources():
            if value is None or value == "":
                continue
            try:
                return check_base_url(value, allow_insecure_http=False)
            except InvalidParameterError as e:
                detail = str(e).split(": ", 1)[-1].replace(_INSECURE_HINT, "")
                raise click.ClickException(f"{source}: {detail}; {advice}") from None
        return None

    def _base_url_sources(self) -> list[tuple[Any, str, str]]:
        """Where a base URL can come from, first wins: (value, name, how to fix it)."""
        return [
            (self.base_url_option, "--base-url", "pass an https:// URL"),
            (os.environ.get("NANOGPT_BASE_URL"), "NANOGPT_BASE_URL",
             "fix or unset the environment variable"),
            (self.config.get("base_url"), f"base_url in {_settings.config_path()}",
             "fix it with 'nanogpt config set base_url URL' or 'nanogpt config unset "
             "base_url'"),
        ]

    def client(self, api_key: Secret | str | None = None) -> NanoGPT:
        if self._client is not None and api_key is None:
            return self._client
        from .. import NanoGPT

        key, base_url = self.credentials(api_key)
        client = NanoGPT(key, base_url=base_url)
        if api_key is None:
            self._client = client
        return client

    def credentials(self, api_key: Secret | str | None = None
                    ) -> tuple[Secret | str | None, str | None]:
        """The key and base URL every client of this command uses (``--offline``: the
        emulator's, started here); ``api_key`` overrides the stored key."""
        if self.offline:
            if self._emulator is None:
                from ..emulator import Emulator

                self._emulator = Emulator().start()
            return OFFLINE_KEY, self.base_url()
        key = api_key if api_key is not None else _settings.stored_key()
        return key, self.base_url()

    def catalog(self, catalog: str = "all", *, refresh: bool = False) -> list[Model]:
        """The model catalog, cached on disk for an hour."""
        from .._core.client import models_from_dicts

        client = self.client()
        if self.offline:  # the emulator's port changes every run: nothing worth caching
            return client.models.list(catalog, refresh=refresh)  # type: ignore[arg-type]
        base = client.base_url
        if not refresh:
            cached = _settings.cached_catalog(base, catalog)
            if cached is not None:
                return models_from_dicts(cached)
        models = client.models.list(catalog, refresh=True)  # type: ignore[arg-type]
        _settings.store_catalog(base, catalog, [m.raw for m in models])
        return models

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._emulator is not None:
            self._emulator.stop()


def _flag(param: str) -> str:
    base = param.split("[")[0].split(".")[0]
    flags = {"temperature", "top_p", "top_k", "min_p", "repetition_penalty",
             "frequency_penalty", "presence_penalty", "max_tokens", "reasoning_effort",
             "model", "base_url"}
    return "--" + base.replace("_", "-") if base in flags else param


def show_traceback() -> None:
    """The traceback of the exception being handled, on stderr (``-v``). Its last line
    quotes the error, and so the server's words: made visible like everything else from
    the server (line breaks kept), even when stderr is a file someone will ``cat``."""
    import sys
    import traceback

    from ._safe import visible

    sys.stderr.write(visible(traceback.format_exc()))
    sys.stderr.flush()


def start_debug_log() -> None:
    """Debug logs on stderr (``-v``), each record made visible: a log line can quote what a
    server sent (a failure, a URL from a redirect)."""
    import logging
    import sys

    from ._safe import visible

    class VisibleFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return visible(super().format(record))

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(VisibleFormatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.DEBUG, handlers=[handler])


def one_line(e: BaseException) -> tuple[str, int]:
    """What went wrong and how to fix it, in one line; and the exit code.

    The line can carry a server's words (``error.message``) or a bad value the user gave:
    it goes through ``_safe.visible``, so no control sequence reaches the terminal and a
    line break in a message cannot make it two lines. A server can also make its words
    megabytes long: the middle of a long line is left out, so that the advice at its end
    still shows."""
    from ._safe import visible

    line, code = _explain(e)
    line = visible(line, name=True)
    if len(line) > _LONGEST_LINE:
        cut = len(line) - _LONGEST_LINE
        line = f"{line[:_LONGEST_LINE - 500]} [... {cut} characters ...] {line[-500:]}"
    return line, code


_LONGEST_LINE = 2000


def _explain(e: BaseException) -> tuple[str, int]:
    from .. import (
        APIConnectionError,
        APIResponseValidationError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        InsufficientBalanceError,
        InvalidParameterError,
        MissingAPIKeyError,
        NotFoundError,
        RateLimitError,
        StreamError,
    )

    if isinstance(e, click.UsageError) and e.ctx is not None:
        return f"{e.format_message()} (see '{e.ctx.command_path} --help')", e.exit_code
    if isinstance(e, click.ClickException):
        return e.format_message(), e.exit_code
    if isinstance(e, MissingAPIKeyError):
        return ("no API key: run 'nanogpt login' or set NANOGPT_API_KEY (get a key at "
                "https://nano-gpt.com/api); or try it offline with 'nanogpt --offline chat ...'",
                1)
    if isinstance(e, InvalidParameterError):
        detail = str(e).split(": ", 1)[-1].replace(_INSECURE_HINT, "")
        return f"{_flag(e.param)}: {detail}", 2
    if isinstance(e, AuthenticationError):
        return ("the API key was refused (401): check it with 'nanogpt login', or the "
                "NANOGPT_API_KEY variable", 1)
    if isinstance(e, InsufficientBalanceError):
        return ("insufficient balance (402): top up at https://nano-gpt.com, then check with "
                "'nanogpt balance'", 1)
    if isinstance(e, RateLimitError):
        wait = f"; the server asks to wait {e.retry_after:.0f} s" if e.retry_after else ""
        daily = " (daily limits reset at midnight UTC)" if "daily" in str(e.code or "") else ""
        return f"rate limited (429){wait}{daily}: wait and try again", 1
    if isinstance(e, NotFoundError) and e.code == "model_not_found":
        return f"{e.message}: see 'nanogpt models --search ...' for ids", 1
    if isinstance(e, StreamError):
        return f"the answer was cut off: {e} (what arrived is shown above)", 1
    if isinstance(e, APIResponseValidationError):
        return (f"the API sent a response this client cannot read ({e}); try again, and "
                f"report it if it persists", 1)
    if isinstance(e, APIConnectionError) and e.answer_cut:
        return f"{e} (the request reached the server)", 1
    if isinstance(e, APITimeoutError):
        return f"timed out: {e}; the service may be busy, try again", 1
    if isinstance(e, APIConnectionError):
        return f"could not reach the API: {e}; check your network or --base-url", 1
    if isinstance(e, APIStatusError):
        return f"the API answered {e}", 1
    if isinstance(e, OSError):
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        return (f"{e.strerror or e}{where}; check the permissions, or set NANOGPT_CONFIG_DIR / "
                f"NANOGPT_CACHE_DIR", 1)
    text = repr(e)
    if len(text) > 300:
        text = text[:300] + "..."
    return f"unexpected error: {text}; run with -v for details", 1
