"""``nanogpt chat``: one answer (argument or pipe), or a conversation on a terminal."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from .._contract import closest_ids
from . import _settings
from ._render import Answer, show_stats, show_stream, show_text, stats_line, total_tokens
from ._safe import visible_json
from ._sampling import from_options

if TYPE_CHECKING:
    from .. import Model, NanoGPT
    from ._app import App


def sampling_params(app: App, opts: dict[str, Any]) -> dict[str, Any]:
    """Config defaults, overridden by flags; checked before anything is sent."""
    from .. import InvalidParameterError
    from .._contract import check_parameter

    params = {k: app.config[k] for k in _settings.SAMPLING if app.config.get(k) is not None}
    for name, value in params.items():
        try:
            check_parameter(name, value)
        except InvalidParameterError as e:
            raise click.ClickException(
                f"{_settings.config_path()}: {e}; fix it with 'nanogpt config set {name} "
                f"VALUE' or 'nanogpt config unset {name}'") from None
    flags = from_options(opts)
    for name, value in flags.items():
        check_parameter(name, value)  # InvalidParameterError names the flag
    params.update(flags)
    return params


# catalog categories that are not chat models; the service's own chat categories ("flagship",
# "mini", "reasoning", ...) and models with no category all qualify
_NOT_CHAT = frozenset({"image", "images", "video", "audio", "speech", "tts", "stt",
                       "transcription", "embedding", "embeddings"})


def cheapest(models: list[Model]) -> str:
    """A sensible cheap default: the lowest-priced chat model with a usable context."""
    priced = [m for m in models
              if m.pricing.prompt is not None and m.pricing.completion is not None
              and (m.context_length or 0) >= 16000
              and (m.category or "").lower() not in _NOT_CHAT]
    if not priced:
        raise click.ClickException("no model to default to: pass -m MODEL, or set one with "
                                   "'nanogpt config set model MODEL'")
    return min(priced, key=lambda m: (m.pricing.prompt + m.pricing.completion,  # type: ignore
                                      m.id)).id


def resolve_model(app: App, option: str | None) -> str:
    if option:
        return option
    configured = app.config.get("model")
    if configured:
        return str(configured)
    return cheapest(app.catalog())


def with_suggestions(app: App, error: BaseException, model: str) -> BaseException:
    """The error to show for a failed call: when the API does not know ``model`` (a 404
    ``model_not_found``, never charged), one that also names the catalog ids closest to it;
    any other error as it is. The catalog is the cached one (its listing is free), and a
    failure to get it leaves the plain error: a suggestion is a help, not a second fault."""
    from .. import NotFoundError

    if not isinstance(error, NotFoundError) or error.code != "model_not_found":
        return error
    try:
        near = closest_ids(model, [m.id for m in app.catalog()])
    except Exception:
        near = []
    where = _from_config(app, model)
    if not near and not where:
        return error
    guess = f"; did you mean {' or '.join(near)}?" if near else ""
    return click.ClickException(f"{error.message}{guess} ('nanogpt models --search ...' lists "
                                f"the ids){where}")


def _from_config(app: App, model: str) -> str:
    """When ``model`` is the config's default, the words that say so: a user who typed no
    model would otherwise not know where the unknown id came from."""
    try:
        configured = app.config.get("model")
    except Exception:
        return ""
    if configured != model:
        return ""
    return (f"; it is the default model in {_settings.config_path()}: change it with "
            f"'nanogpt config set model ID'")


@contextlib.contextmanager
def suggesting_models(app: App, model: str) -> Iterator[None]:
    """Runs a call to ``model``; an unknown model comes out :func:`with_suggestions`."""
    try:
        yield
    except Exception as e:
        better = with_suggestions(app, e, model)
        if better is e:
            raise
        raise better from None


def read_piped() -> str | None:
    """Piped standard input as text (bytes that are not UTF-8 become U+FFFD)."""
    stdin = sys.stdin
    if stdin is None or stdin.closed or stdin.isatty():
        return None
    try:
        data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode()
    except (OSError, ValueError):
        return None
    return data.decode("utf-8", "replace")


def run_chat(app: App, prompt: str, opts: dict[str, Any]) -> None:
    if opts.get("model") is not None and not opts["model"].strip():
        # -m "$MODEL" with MODEL unset: not a quiet switch to the default model
        raise click.BadParameter("is empty; give a model id, or leave the option out for "
                                 "the default", param_hint="'-m' / '--model'")
    if opts.get("model"):
        _settings.require_utf8(opts["model"], "-m/--model")
    if opts.get("system"):
        opts["system"] = _settings.as_text(opts["system"])
    prompt = _settings.as_text(prompt)
    params = sampling_params(app, opts)
    piped = read_piped()
    if piped and piped.strip():
        prompt = f"{prompt}\n\n{piped}" if prompt.strip() else piped
    system = opts.get("system") or app.config.get("system")
    client = app.client()
    if not client.has_api_key:  # say so before anything else is fetched
        from .. import MissingAPIKeyError

        raise MissingAPIKeyError()
    if not prompt.strip():
        if sys.stdin is not None and sys.stdin.isatty():
            from ._interactive import Session

            Session(app, resolve_model(app, opts.get("model")), system, params,
                    hide_reasoning=bool(opts.get("hide_reasoning"))).run()
            return
        raise click.UsageError("no prompt: pass one (nanogpt chat 'Hello') or pipe text in")
    model = resolve_model(app, opts.get("model"))
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": prompt}]
    with suggesting_models(app, model):
        _answer(app, client, model, messages, params, opts)


def _answer(app: App, client: NanoGPT, model: str, messages: list[dict[str, str]],
            params: dict[str, Any], opts: dict[str, Any]) -> None:
    """One answer, shown as the flags ask: JSON, whole, or streamed as it arrives."""
    started = time.monotonic()
    if opts.get("as_json"):
        r = client.chat.completions.create(model=model, messages=messages, **params)
        click.echo(visible_json(json.dumps(r.raw, indent=2, ensure_ascii=False)))
        return
    if opts.get("no_stream"):
        r = client.chat.completions.create(model=model, messages=messages, **params)
        reasoning = r.choices[0].message.reasoning if r.choices else None
        show_text(r.text, reasoning, hide_reasoning=bool(opts.get("hide_reasoning")))
        show_stats(stats_line(model, total_tokens(r.usage), r.cost,
                              time.monotonic() - started), always=app.verbose > 0)
        return
    stream = client.chat.completions.create(model=model, messages=messages, stream=True,
                                            stream_options={"include_usage": True}, **params)
    answer = Answer()
    with stream:
        show_stream(stream, hide_reasoning=bool(opts.get("hide_reasoning")), answer=answer)
    show_stats(stats_line(model, total_tokens(stream.usage), stream.cost,
                          time.monotonic() - started), always=app.verbose > 0)
