"""Where the command line keeps things: the config file, the stored key, caches, history.

* config: ``$NANOGPT_CONFIG_DIR`` or the platform's config directory (``~/.config/nanogpt`` on
  Linux), file ``config.json``: defaults for the model, sampling and the base URL.
* key: the system keyring when the ``keyring`` package is installed and works, else the file
  ``key`` beside the config, created with 0600 permissions. ``NANOGPT_API_KEY`` always wins.
* cache: ``$NANOGPT_CACHE_DIR`` or the platform's cache directory: the model catalog (1 hour).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

APP = "nanogpt"
KEYRING_SERVICE = "nanogpt"
KEYRING_USER = "api_key"
CATALOG_TTL = 3600.0

# settable defaults: name -> type ("str", "float", "int")
SETTINGS: dict[str, str] = {
    "model": "str", "base_url": "str", "system": "str", "temperature": "float",
    "top_p": "float", "top_k": "int", "min_p": "float", "repetition_penalty": "float",
    "frequency_penalty": "float", "presence_penalty": "float", "max_tokens": "int",
    "reasoning_effort": "str",
}
SAMPLING = [k for k in SETTINGS if k not in ("model", "base_url", "system")]


def config_dir() -> Path:
    env = os.environ.get("NANOGPT_CONFIG_DIR")
    return Path(env) if env else Path(click.get_app_dir(APP))


def cache_dir() -> Path:
    env = os.environ.get("NANOGPT_CACHE_DIR")
    if env:
        return Path(env)
    if sys.platform == "win32":  # pragma: no cover
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / APP / "Cache"
    if sys.platform == "darwin":  # pragma: no cover
        return Path.home() / "Library" / "Caches" / APP
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / APP


def config_path() -> Path:
    return config_dir() / "config.json"


def load_config() -> dict[str, Any]:
    try:
        data = json.loads(config_path().read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise click.ClickException(f"cannot read {config_path()}: {e}; fix or delete it") from e
    return data if isinstance(data, dict) else {}


def save_config(data: dict[str, Any]) -> None:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def parse_setting(name: str, value: str) -> Any:
    """A config value from text, typed and checked like the matching chat parameter."""
    from .._params import PARAMS

    name = name.replace("-", "_")
    kind = SETTINGS.get(name)
    if kind is None:
        raise click.BadParameter(f"unknown setting {name!r}; one of: {', '.join(SETTINGS)}")
    typed: Any = value
    try:
        if kind == "float":
            typed = float(value)
        elif kind == "int":
            typed = int(value)
    except ValueError:
        raise click.BadParameter(f"{name} must be a{'n integer' if kind == 'int' else ' number'}"
                                 f", got {value!r}") from None
    if name in PARAMS:
        from .._errors import InvalidParameterError

        try:
            PARAMS[name][1](name, typed)
        except InvalidParameterError as e:
            raise click.BadParameter(str(e)) from None
    if name == "base_url":
        from .._config import check_base_url
        from .._errors import InvalidParameterError

        try:
            typed = check_base_url(typed, allow_insecure_http=False)
        except InvalidParameterError as e:
            raise click.BadParameter(str(e)) from None
    return typed


# the key --------------------------------------------------------------------------------------

def _keyring() -> Any:
    try:
        import keyring  # type: ignore[import-not-found]
        from keyring.backends import fail  # type: ignore[import-not-found]
    except Exception:
        return None
    try:
        if isinstance(keyring.get_keyring(), fail.Keyring):
            return None
    except Exception:
        return None
    return keyring


def key_path() -> Path:
    return config_dir() / "key"


def stored_key() -> str | None:
    """The key from ``NANOGPT_API_KEY``, the keyring, or the key file, in that order."""
    env = os.environ.get("NANOGPT_API_KEY")
    if env and env.strip():
        return env
    kr = _keyring()
    if kr is not None:
        try:
            value = kr.get_password(KEYRING_SERVICE, KEYRING_USER)
        except Exception:
            value = None
        if value:
            return str(value)
    try:
        return key_path().read_text().strip() or None
    except OSError:
        return None


def store_key(key: str) -> str:
    """Store the key; returns where it went."""
    kr = _keyring()
    if kr is not None:
        try:
            kr.set_password(KEYRING_SERVICE, KEYRING_USER, key)
            return "the system keyring"
        except Exception:
            pass
    path = key_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, key.encode() + b"\n")
    finally:
        os.close(fd)
    return str(path)


def forget_key() -> bool:
    removed = False
    kr = _keyring()
    if kr is not None:
        try:
            kr.delete_password(KEYRING_SERVICE, KEYRING_USER)
            removed = True
        except Exception:
            pass
    try:
        key_path().unlink()
        removed = True
    except FileNotFoundError:
        pass
    return removed


# the catalog cache ------------------------------------------------------------------------

def _catalog_file(base_url: str, catalog: str) -> Path:
    import hashlib

    digest = hashlib.sha256(base_url.encode()).hexdigest()[:12]
    return cache_dir() / f"models-{catalog}-{digest}.json"


def cached_catalog(base_url: str, catalog: str) -> list[dict[str, Any]] | None:
    path = _catalog_file(base_url, catalog)
    try:
        if time.time() - path.stat().st_mtime > CATALOG_TTL:
            return None
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, list) else None


def store_catalog(base_url: str, catalog: str, models: list[dict[str, Any]]) -> None:
    path = _catalog_file(base_url, catalog)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(models))
        tmp.replace(path)
    except OSError:
        pass  # a cache that cannot be written is only slower


def history_path() -> Path:
    return config_dir() / "history"
