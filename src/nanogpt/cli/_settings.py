"""Where the command line keeps things: the config file, the stored key, caches, history.

* config: ``$NANOGPT_CONFIG_DIR`` or the platform's config directory (``~/.config/nanogpt`` on
  Linux), file ``config.json``: defaults for the model, sampling and the base URL.
* key: the system keyring when the ``keyring`` package is installed and works, else the file
  ``key`` beside the config, created with 0600 permissions. ``NANOGPT_API_KEY`` always wins.
* cache: ``$NANOGPT_CACHE_DIR`` or the platform's cache directory: the model catalog (1 hour).

Every file here is created 0600 in a 0700 directory, written atomically and never through a
symlink, and refused when another user could have changed it (see ``_files``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .._contract import check_parameter, parameter_kind
from . import _files, _sampling

APP = "nanogpt"
KEYRING_SERVICE = "nanogpt"
KEYRING_USER = "api_key"
CATALOG_TTL = 3600.0

# settable defaults: name -> how its text is read (a type, or the values it takes). The
# sampling ones come from the one table of sampling flags.
SETTINGS: dict[str, type | tuple[str, ...]] = {
    "model": str, "base_url": str, "system": str,
    **{name: parameter_kind(name) for name in _sampling.SAMPLING},
}
SAMPLING = list(_sampling.SAMPLING)
# plain http:// to another machine sends the key unencrypted: allowed only when this is set
ENV_ALLOW_INSECURE_HTTP = "NANOGPT_ALLOW_INSECURE_HTTP"
INSECURE_ADVICE = f"set {ENV_ALLOW_INSECURE_HTTP}=1"
KEY_ADVICE = "store the key with 'nanogpt login' or NANOGPT_API_KEY instead"


def allow_insecure_http() -> bool:
    """Whether the user allowed plain http:// to a host that is not this machine."""
    return os.environ.get(ENV_ALLOW_INSECURE_HTTP, "").strip().lower() in ("1", "true", "yes")


def check_setting_name(name: str) -> str:
    """The setting's name (``top-p`` is ``top_p``), or exit 2 with the list of names."""
    name = name.replace("-", "_")
    if name not in SETTINGS:
        raise click.BadParameter(f"unknown setting {name!r}; one of: {', '.join(SETTINGS)}")
    return name


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
    """The settings in ``config.json`` ({} when there is none). A file another user could
    have written, or one that is not a JSON object, is refused, never silently ignored."""
    path = config_path()
    try:
        text = _files.read_private(path)
    except OSError as e:
        raise click.ClickException(f"cannot read {path}: {e.strerror or e}; check its "
                                   f"permissions, or set NANOGPT_CONFIG_DIR") from e
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except ValueError as e:
        raise click.ClickException(f"cannot read {path}: {e}; fix or delete it") from e
    if not isinstance(data, dict):
        kind = {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(data), "a number")
        raise click.ClickException(f"{path} holds {kind}, not an object of settings like "
                                   f'{{"model": "..."}}; fix it, or delete it to start over')
    return data


def save_config(data: dict[str, Any]) -> None:
    """Replace ``config.json`` atomically (callers hold ``config_lock``)."""
    _files.write_private(config_path(),
                         json.dumps(data, indent=2, sort_keys=True) + "\n")


def update_config(change: Callable[[dict[str, Any]], None]) -> None:
    """Read, change and write the config under the lock: parallel runs lose no update."""
    with _files.locked(config_dir()):
        data = load_config()
        change(data)
        save_config(data)


def parse_setting(name: str, value: str) -> Any:
    """A config value from text, typed and checked like the matching chat parameter."""
    from .. import InvalidParameterError

    name = check_setting_name(name)
    require_utf8(value, name)
    typed = _typed(name, value)
    try:
        if name in _sampling.SAMPLING:
            check_parameter(name, typed)
        if name == "base_url":
            from .._contract import check_base_url

            typed = check_base_url(typed, allow_insecure_http=allow_insecure_http(),
                                   insecure_advice=INSECURE_ADVICE, key_advice=KEY_ADVICE)
    except InvalidParameterError as e:
        raise click.BadParameter(str(e)) from None
    return typed


def _typed(name: str, value: str) -> Any:
    kind = SETTINGS[name]
    if not value.strip():  # an empty model would quietly become the default one
        raise click.BadParameter(f"{name} cannot be empty; 'nanogpt config unset {name}' "
                                 f"removes it")
    if kind is float or kind is int:
        try:
            return kind(value)
        except ValueError:
            a = "an integer" if kind is int else "a number"
            raise click.BadParameter(f"{name} must be {a}, got {value!r}") from None
    return value


def require_utf8(value: str, what: str) -> str:
    """``value`` if it is real text. Bytes that are not UTF-8 in ``sys.argv`` arrive as lone
    surrogates, which no request can carry: refused here rather than on every later call."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raw = repr(value.encode("utf-8", "surrogateescape"))[1:]  # the bytes given: 'caf\xe9'
        raise click.BadParameter(f"{what} is not valid UTF-8 text ({raw}); type it again "
                                 f"in UTF-8 (check the terminal's encoding)") from None
    return value


def as_text(value: str) -> str:
    """Free text from the command line with bytes that are not UTF-8 as U+FFFD, the way
    piped input is read."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def check_loaded(data: dict[str, Any]) -> None:
    """Text settings read from the file are checked before use, naming the file.
    (Sampling values are checked with the chat parameters, base_url where it is used.)"""
    for name in ("model", "system", "reasoning_effort"):
        value = data.get(name)
        if value is None:
            continue
        ok = isinstance(value, str)
        if ok:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                ok = False
        if not ok:
            raise click.ClickException(
                f"{config_path()}: {name} must be text in UTF-8, got {value!r}; fix it with "
                f"'nanogpt config set {name} VALUE' or 'nanogpt config unset {name}'")


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
        return _checked_variable(env)
    kr = _keyring()
    if kr is not None:
        try:
            value = kr.get_password(KEYRING_SERVICE, KEYRING_USER)
        except Exception:
            value = None
        if value:
            return str(value)
    try:
        text = _files.read_private(key_path(), secret=True)
    except OSError:
        return None
    return (text or "").strip() or None


def _checked_variable(key: str) -> str:
    """``NANOGPT_API_KEY``'s key, refused as the clients would refuse it, but naming the
    variable: the user may not remember setting it."""
    from .. import InvalidParameterError
    from .._contract import resolve_api_key

    try:
        resolve_api_key(key)
    except InvalidParameterError as e:
        raise click.ClickException(f"NANOGPT_API_KEY: {e.detail}; fix the variable, or unset "
                                   f"it to use the key 'nanogpt login' stored") from None
    return key


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
    _files.write_private(path, key + "\n")
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
    """The cached catalog, if fresh. It picks the default model, so a cache another user
    could have written is refused like the config."""
    path = _catalog_file(base_url, catalog)
    try:
        text = _files.read_private(path)
        if text is None or time.time() - path.stat().st_mtime > CATALOG_TTL:
            return None
        data = json.loads(text)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, list) else None


def store_catalog(base_url: str, catalog: str, models: list[dict[str, Any]]) -> None:
    with contextlib.suppress(OSError):  # a cache that cannot be written is only slower
        _files.write_private(_catalog_file(base_url, catalog), json.dumps(models))


def history_path() -> Path:
    return config_dir() / "history"
