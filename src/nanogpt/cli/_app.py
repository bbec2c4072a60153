"""What every command shares: the client (real or offline), its settings, the catalog cache.

The App is the click context's object: every command that needs the client, the config or
the verbosity gets it passed (``@click.pass_obj``); nothing travels in a module global.
Errors are told by ``_advice``."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from . import _settings

if TYPE_CHECKING:
    from .. import Model, NanoGPT
    from .._contract import Secret
    from ..emulator import Emulator

OFFLINE_KEY = "sk-nano-offline"


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
        from .. import InvalidParameterError
        from .._contract import check_base_url

        for value, source, advice in self._base_url_sources():
            if value is None or value == "":
                continue
            try:
                return check_base_url(value, allow_insecure_http=_settings.allow_insecure_http(),
                                      insecure_advice=_settings.INSECURE_ADVICE,
                                      key_advice=_settings.KEY_ADVICE)
            except InvalidParameterError as e:
                fix = f"; {advice}" if advice else ""
                raise click.ClickException(f"{source}: {e.detail}{fix}") from None
        return None

    def _base_url_sources(self) -> list[tuple[Any, str, str]]:
        """Where a base URL can come from, first wins: (value, name, how to fix it)."""
        return [
            # the error itself says what to fix; where the URL came from is plain
            (self.base_url_option, "--base-url", ""),
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
        client = NanoGPT(key, base_url=base_url,
                         allow_insecure_http=_settings.allow_insecure_http())
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
        from .._contract import models_from_catalog

        client = self.client()
        if self.offline:  # the emulator's port changes every run: nothing worth caching
            return client.models.list(catalog, refresh=refresh)  # type: ignore[arg-type]
        base = client.base_url
        if not refresh:
            cached = _settings.cached_catalog(base, catalog)
            if cached is not None:
                return models_from_catalog(cached)
        models = client.models.list(catalog, refresh=True)  # type: ignore[arg-type]
        _settings.store_catalog(base, catalog, [m.raw for m in models])
        return models

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._emulator is not None:
            self._emulator.stop()
