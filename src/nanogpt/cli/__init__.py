"""The ``nanogpt`` command line.

Startup matters (``nanogpt --help`` must stay close to a bare interpreter), so this module
imports only click; the client, rich and the emulator load when a command needs them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import click

from . import _settings
from ._advice import one_line, show_traceback
from ._app import App
from ._sampling import sampling_options

__all__ = ["cli", "main"]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _Cli(click.Group):
    """The top-level group; the commands in ``_LAZY`` (the ``batches`` group, ...) are
    imported only when asked for or listed, so that other commands do not load them."""

    _LAZY = {"batches": ("nanogpt.cli._batches", "batches_group"),
             "embed": ("nanogpt.cli._embed", "embed_command"),
             "usage": ("nanogpt.cli._account", "usage_command"),
             "quota": ("nanogpt.cli._account", "quota_command"),
             "speak": ("nanogpt.cli._audio", "speak"),
             "transcribe": ("nanogpt.cli._audio", "transcribe")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        names.update(self._LAZY)
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in self._LAZY:
            return found
        import importlib

        module_name, attr = self._LAZY[cmd_name]
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command


@click.group(cls=_Cli, context_settings=CONTEXT)
@click.option("--base-url", metavar="URL",
              help="API base URL (default: NANOGPT_BASE_URL, the config, or nano-gpt.com).")
@click.option("--offline", is_flag=True,
              help="Talk to the built-in emulator on a free loopback port: no key, no network.")
@click.option("-v", "--verbose", count=True, help="Debug logs on stderr (the key is masked).")
@click.version_option(package_name="nanogpt", prog_name="nanogpt")
@click.pass_context
def cli(ctx: click.Context, base_url: str | None, offline: bool, verbose: int) -> None:
    """NanoGPT from the terminal: chat, models, balance, embeddings, images, speech and
    transcription, web search, usage and quotas, batches.

    \b
    Examples:
      nanogpt --offline chat 'Hello'     # the built-in emulator: no key, no cost
      nanogpt login                      # approve in the browser; the key is stored
      nanogpt chat 'Explain TCP slow start in two sentences'
      nanogpt models -q deepseek --sort price
    """
    if offline and base_url:
        raise click.UsageError("--offline talks to the built-in emulator; drop --base-url")
    if base_url is not None and not base_url.strip():
        # --base-url "$URL" with URL unset: never silently the real (paid) service instead
        raise click.BadParameter("is empty; give a URL like https://nano-gpt.com/api/v1, or "
                                 "leave the option out", param_hint="'--base-url'")
    if verbose:
        from ._advice import start_debug_log

        start_debug_log()
    app = App(base_url=base_url, offline=offline, verbose=verbose)
    ctx.obj = app
    ctx.call_on_close(app.close)


@cli.command(context_settings=CONTEXT)
@click.argument("prompt", nargs=-1)
@click.option("-m", "--model", help="Model id (default: the config's, else a cheap one).")
@click.option("-s", "--system", help="System prompt.")
@sampling_options
@click.option("--no-stream", is_flag=True, help="Wait for the whole answer.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole response as JSON.")
@click.option("--hide-reasoning", is_flag=True, help="Do not show the model's reasoning.")
@click.pass_obj
def chat(app: App, /, prompt: tuple[str, ...], **opts: Any) -> None:
    """Ask a question, or start a conversation.

    With a PROMPT, one answer; with none on a terminal, a conversation (/help in it lists its
    commands). The prompt comes from the arguments, or from standard input when it is piped;
    with both, the piped text is added below the prompt as context.

    \b
    Examples:
      nanogpt chat 'Explain TCP slow start in two sentences'
      git diff | nanogpt chat 'Write a commit message for this change'
      nanogpt chat -m deepseek/deepseek-v3.2 --temperature 0.2 'Hi'
      nanogpt chat                       # a conversation; Ctrl-D leaves
    """
    from ._chat import run_chat

    run_chat(app, " ".join(prompt), opts)


@cli.group(context_settings=CONTEXT, invoke_without_command=True)
@click.option("-q", "--search", metavar="TEXT", help="Only models whose id or name match.")
@click.option("--sort", type=click.Choice(["name", "price", "context"]), default="name",
              show_default=True)
@click.option("--capability", type=click.Choice(["vision", "reasoning", "tools"]),
              multiple=True, help="Only models that have it (repeatable).")
@click.option("--subscription", is_flag=True,
              help="Only models included in the subscription.")
@click.option("--paid", is_flag=True, help="Only pay-per-use models.")
@click.option("--json", "as_json", is_flag=True, help="Print the models as JSON.")
@click.option("--refresh", is_flag=True, help="Fetch the catalog again (it is cached 1 hour).")
@click.pass_context
def models(ctx: click.Context, search: str | None, sort: str, capability: tuple[str, ...],
           subscription: bool, paid: bool, as_json: bool, refresh: bool) -> None:
    """List models, their prices and capabilities.

    Shows each model's context length, prices (USD per million tokens) and capabilities.
    'nanogpt models providers ID' shows who can serve a model; the options here apply to
    the list, not to it.

    \b
    Examples:
      nanogpt models -q deepseek
      nanogpt models --sort price --capability vision
      nanogpt models --subscription
      nanogpt models --json
      nanogpt models providers deepseek/deepseek-v3.2
    """
    if ctx.invoked_subcommand is not None:
        if ctx.params != _LIST_DEFAULTS:
            raise click.UsageError(f"the list's options do not apply to "
                                   f"'models {ctx.invoked_subcommand}'; put its own options "
                                   f"after it")
        return
    app: App = ctx.obj
    from ._models import catalog_name, run_models

    run_models(app, search=search, sort=sort, capabilities=capability,
               catalog=catalog_name(subscription=subscription, paid=paid), as_json=as_json,
               refresh=refresh)


_LIST_DEFAULTS = {"search": None, "sort": "name", "capability": (), "subscription": False,
                  "paid": False, "as_json": False, "refresh": False}


@models.command("providers", context_settings=CONTEXT)
@click.argument("model_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the service's answer as JSON.")
@click.pass_obj
def models_providers(app: App, model_id: str, as_json: bool) -> None:
    """Who can serve a model, at what price.

    Lists the providers chat's provider= can choose for a model. Prices are USD per million
    tokens, the provider-selection markup included. Choosing a provider (chat's provider=,
    the X-Provider header) bills pay-as-you-go at that price, even on a subscription. Models
    that do not support provider selection say so.

    \b
    Examples:
      nanogpt models providers deepseek/deepseek-v3.2
      nanogpt models providers moonshotai/kimi-k2-thinking --json
    """
    from ._route import run_providers

    run_providers(app, model_id, as_json=as_json)


@cli.command(context_settings=CONTEXT)
@click.argument("query", nargs=-1, required=True)
@click.option("--provider", type=click.Choice(["linkup", "tavily", "exa", "kagi", "perplexity",
                                               "valyu", "brave", "sofya", "firecrawl"]),
              help="Search provider (default: linkup).")
@click.option("--deep", is_flag=True, help="Deep search (Linkup's costs $0.06, not $0.006).")
@click.option("--answer", is_flag=True, help="An answer with its sources (Linkup only).")
@click.option("-n", "--max-results", type=click.IntRange(1, 20), help="At most N results.")
@click.option("--domain", multiple=True, metavar="DOMAIN",
              help="Only results from this domain (repeatable).")
@click.option("--exclude-domain", multiple=True, metavar="DOMAIN",
              help="No results from this domain (repeatable).")
@click.option("--from", "since", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Only results from this date on.")
@click.option("--to", "until", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Only results up to this date.")
@click.option("--json", "as_json", is_flag=True, help="Print the service's answer as JSON.")
@click.pass_obj
def search(app: App, query: tuple[str, ...], provider: str | None, deep: bool, answer: bool,
           max_results: int | None, domain: tuple[str, ...], exclude_domain: tuple[str, ...],
           since: Any, until: Any, as_json: bool) -> None:
    """Search the web (billed per search).

    Prints the results (or, with --answer, an answer and its sources); what the search cost
    goes to standard error.

    \b
    Examples:
      nanogpt search 'rust async runtimes'
      nanogpt search --answer --deep 'what changed in Python 3.14'
      nanogpt search -n 3 --domain docs.python.org asyncio timeouts --json
    """
    from ._route import run_search

    run_search(app, " ".join(query), provider=provider, depth="deep" if deep else None,
               answer=answer, max_results=max_results, domains=domain, exclude=exclude_domain,
               since=since, until=until, as_json=as_json)


@cli.command(context_settings=CONTEXT)
@click.argument("prompt", nargs=-1)
@click.option("-o", "--output", metavar="FILE",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Where to save the image (required; replaced if it exists). With -n 2 or "
                   "more: FILE-1.png, FILE-2.png, ...")
@click.option("-m", "--model", help="Image model (default: the service's; see --list-models).")
@click.option("--size", help="A size the model supports, e.g. 1024x1024.")
@click.option("-n", type=click.IntRange(min=1), help="How many images (default 1).")
@click.option("-i", "--image", "images", multiple=True, metavar="FILE",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Edit this image instead (repeatable: several images for one result).")
@click.option("--mask", metavar="FILE", type=click.Path(exists=True, dir_okay=False,
                                                        path_type=Path),
              help="With --image: a mask of what to change (inpainting models).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the answer as JSON (the files saved instead of the image data).")
@click.option("--list-models", is_flag=True,
              help="List the image models, their sizes and prices, and exit.")
@click.pass_obj
def image(app: App, /, prompt: tuple[str, ...], **opts: Any) -> None:
    """Generate (or edit) an image and save it.

    Prints where each image went and what the call cost. The prompt comes from the
    arguments, or from standard input when it is piped. With --image, the images given are
    edited as the prompt says.

    \b
    Examples:
      nanogpt image 'A lighthouse at dawn, watercolor' -o lighthouse.png
      nanogpt image 'Three app icon ideas' -n 3 --size 1024x1024 -o icon.png
      nanogpt image 'Make the sky purple' -i photo.png -m gpt-image-1 -o purple.png
      nanogpt image --list-models
    """
    from ._images import run_image

    run_image(app, prompt, **opts)


@cli.command(context_settings=CONTEXT)
@click.pass_obj
def balance(app: App) -> None:
    """Show your account balance."""
    b = app.client().balance()
    nano = f" · {b.nano_balance} XNO" if b.nano_balance is not None else ""
    click.echo(f"${b} USD{nano}")


@cli.command(context_settings=CONTEXT)
@click.argument("input_path", metavar="IN.jsonl",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", "output_path", required=True, metavar="OUT.jsonl",
              type=click.Path(dir_okay=False, path_type=Path),
              help="One row per input row; OUT.jsonl.ledger beside it makes a rerun resume.")
@click.option("-m", "--model", help="Model for rows that name none (default: the config's).")
@click.option("--max-tokens", type=click.IntRange(min=1),
              help="Output cap for rows that set none (bounds the --budget worst case).")
@click.option("--concurrency", type=click.IntRange(min=1), default=50, show_default=True,
              help="Requests in flight at most.")
@click.option("--max-rps", type=click.FloatRange(min=0, min_open=True),
              help="Requests sent per second at most.")
@click.option("--budget", metavar="USD", type=click.FloatRange(min=0),
              help="Stop sending before the spent cost plus the worst case of the rows in "
                   "flight could pass this.")
@click.option("--retry-failed", is_flag=True, help="Run again the rows that ended in an error.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--remote", is_flag=True,
              help="Use NanoGPT's Batch API (half price, runs on NanoGPT's side).")
@click.option("--detach", is_flag=True,
              help="With --remote: start the batch and return (nanogpt batches ... later).")
@click.pass_obj
def batch(app: App, /, input_path: Path, output_path: Path, **opts: Any) -> None:
    """Run a JSONL file of requests (resumable).

    Sends every row of IN.jsonl and writes one answer or error row per input row. Rows:
    {"id", "messages" | "prompt", ...params} or the Batch API form {"custom_id", "method",
    "url", "body"}. Crash-safe: run the same command again after a crash, Ctrl-C or a budget
    stop, and only rows without a recorded answer are sent. Exit code 0: all answered; 1: some
    error rows; 2: bad input, nothing sent; 3: budget stop; 130: interrupted.

    \b
    Examples:
      nanogpt batch prompts.jsonl -o answers.jsonl --budget 5
      nanogpt batch prompts.jsonl -o answers.jsonl --retry-failed
      nanogpt batch prompts.jsonl -o answers.jsonl --remote   # half price, on NanoGPT's side
    """
    from ._batch import run_batch

    code = run_batch(app, input_path, output_path, **opts)
    if code:
        raise click.exceptions.Exit(code)


def _not_empty(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """An empty value (an unset shell variable) is refused, not read as "every address"."""
    if not value.strip():
        raise click.BadParameter("cannot be empty (127.0.0.1 listens on this machine only)")
    return value


@cli.command(context_settings=CONTEXT)
@click.option("--host", default="127.0.0.1", show_default=True, callback=_not_empty,
              help="The address to listen on; another than loopback exposes it to the network.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="0 picks a free port.")
@click.option("--quirks", is_flag=True,
              help="Stream with the quirks seen in the wild (keep-alive comments, retry:, id: "
                   "and event: lines, usage on a chunk with no choices) instead of the "
                   "documented format.")
def emulate(host: str, port: int, quirks: bool) -> None:
    """Run a NanoGPT emulator on this machine.

    It runs in the foreground until Ctrl-C, accepts any API key, charges nothing, and prints
    commands that talk to it.

    \b
    Examples:
      nanogpt emulate                    # http://127.0.0.1:8080/api/v1
      nanogpt emulate --port 0 --quirks  # a free port; streams as real servers do
    """
    import threading

    from ..emulator import Emulator
    from ..emulator.__main__ import try_it
    from ._advice import CannotListen

    try:
        emu = Emulator(host, port, quirks=quirks).start()
    except OSError as e:
        raise CannotListen(host, port, e) from e
    with emu:
        if emu.exposure_warning:
            click.echo(emu.exposure_warning, err=True)
        click.echo(f"NanoGPT emulator listening; base URL: {emu.base_url}")
        for line in try_it(emu.base_url):
            click.echo(line, err=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


@cli.group(context_settings=CONTEXT)
def config() -> None:
    """Show or change the defaults for chat.

    The defaults: model, sampling parameters, system prompt, base URL. A flag given to chat
    wins over its default.

    \b
    Examples:
      nanogpt config set model deepseek/deepseek-v3.2
      nanogpt config set temperature 0.3
      nanogpt config list
      nanogpt config unset temperature
    """


@config.command("list")
def config_list() -> None:
    """Show every setting that is set."""
    data = _settings.load_config()
    if not data:
        click.echo(f"(nothing set; file: {_settings.config_path()})", err=True)
    for k in sorted(data):
        click.echo(f"{k} = {data[k]}")


@config.command("get", epilog="Settings: " + ", ".join(_settings.SETTINGS) + ".")
@click.argument("name")
def config_get(name: str) -> None:
    """Print one setting."""
    name = _settings.check_setting_name(name)
    value = _settings.load_config().get(name)
    if value is None:
        raise click.ClickException(f"{name} is not set (nanogpt config set {name} VALUE)")
    click.echo(value)


# a VALUE may start with "-" (frequency_penalty -0.5): not an option, but the value
@config.command("set", context_settings={"ignore_unknown_options": True},
                epilog="Settings: " + ", ".join(_settings.SETTINGS) + ".")
@click.argument("name")
@click.argument("value")
def config_set(name: str, value: str) -> None:
    """Set a default (checked like its chat flag).

    NAME is one of the settings listed below; a value is checked as its chat flag checks
    it (a number in range, one of the values it takes, an https:// base URL). To remove a
    setting: nanogpt config unset NAME.
    """
    typed = _settings.parse_setting(name, value)
    _settings.update_config(lambda data: data.__setitem__(name.replace("-", "_"), typed))


@config.command("unset", epilog="Settings: " + ", ".join(_settings.SETTINGS) + ".")
@click.argument("name")
def config_unset(name: str) -> None:
    """Remove a setting."""
    name = _settings.check_setting_name(name)
    _settings.update_config(lambda data: data.pop(name, None))


@config.command("path")
def config_path() -> None:
    """Print where the config file lives."""
    click.echo(_settings.config_path())


@cli.command(context_settings=CONTEXT)
@click.option("--with-key", is_flag=True,
              help="Paste a key (or pipe one in) instead of approving in the browser.")
@click.option("--web", is_flag=True,
              help="Log in through the browser even when standard input is not a terminal.")
@click.option("--no-browser", is_flag=True,
              help="Print the login page; do not open a browser.")
@click.option("--no-verify", is_flag=True, help="Store a pasted key without checking it.")
@click.pass_obj
def login(app: App, with_key: bool, web: bool, no_browser: bool, no_verify: bool) -> None:
    """Log in, and store your API key.

    On a terminal, it shows a code and a page of nano-gpt.com where you approve this
    computer (the page opens in your browser when one is available, not over SSH); the key
    NanoGPT then hands out is stored. With --with-key, or when a key is piped in, it takes a
    key from https://nano-gpt.com/api instead, and checks it against the API first unless
    --no-verify is given. The key goes to the system keyring if there is one, else to a file
    only you can read.

    \b
    Examples:
      nanogpt login                      # approve in the browser
      nanogpt login --no-browser         # print the page, e.g. over SSH
      nanogpt login --with-key           # paste a key instead
      pass show nanogpt | nanogpt login  # from a password manager
    """
    from ._login import browser_login, pasted_key, store

    if with_key and web:
        raise click.UsageError("--with-key and --web are two ways to log in: pick one")
    if web or (not with_key and sys.stdin.isatty()):
        secret = browser_login(app, open_browser=not no_browser)
    else:
        secret = pasted_key(app, verify=not no_verify)
    store(secret)


@cli.command(context_settings=CONTEXT)
def logout() -> None:
    """Forget the stored key."""
    click.echo("key removed" if _settings.forget_key() else "no stored key", err=True)
    if os.environ.get("NANOGPT_API_KEY", "").strip():
        click.echo("note: NANOGPT_API_KEY is still set, and commands use it; unset it too "
                   "(unset NANOGPT_API_KEY) to log out", err=True)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; errors become one line on stderr (``-v`` adds the traceback)."""
    args = sys.argv[1:] if argv is None else argv
    ctx: click.Context | None = None
    try:
        # click's own main() turns a closed pipe into exit 1: invoke directly instead
        ctx = cli.make_context("nanogpt", list(args))
        with ctx:
            cli.invoke(ctx)
    except click.exceptions.NoArgsIsHelpError as e:  # bare `nanogpt` or `nanogpt config`
        click.echo(e.ctx.get_help() if e.ctx else cli.get_help(click.Context(cli)))
        return 0
    except click.exceptions.Exit as e:
        return e.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("nanogpt: interrupted", err=True)
        return 130
    except BrokenPipeError:
        # the reader went away (nanogpt chat ... | head): not an error. As the Python docs
        # advise, point stdout at devnull so that the flush at exit stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:
        app = ctx.obj if ctx is not None else None
        if isinstance(app, App) and app.verbose:
            show_traceback()
        line, code = one_line(global_flag_hint(e))
        click.echo(f"nanogpt: {line}", err=True)
        return code
    return 0


def global_flag_hint(e: Exception) -> Exception:
    """``nanogpt chat --offline``: click says "No such option"; a global option given after
    the command gets a usage error that shows where it goes instead."""
    if not isinstance(e, click.NoSuchOption) or e.ctx is None or e.ctx.parent is None:
        return e
    given = e.option_name.split("=", 1)[0]
    known = {name for param in cli.params for name in param.opts + param.secondary_opts}
    flag = given if given in known else _close_global_flag(e, given, known)
    if flag is None:
        return e
    command = e.ctx.command_path.split(" ", 1)[1]
    example = f"'nanogpt {flag}{_value_of(flag)} {command} ...'"
    if flag == given:
        said = f"{flag} is a global option: put it before the command, as in {example}"
    else:
        said = (f"no such option {given}; did you mean the global option {flag}? It goes "
                f"before the command, as in {example}")
    return click.UsageError(said, e.ctx.find_root())


def _close_global_flag(e: click.NoSuchOption, given: str, known: set[str]) -> str | None:
    """The global option a typo after the command was meant as (``chat --offlin``), when
    click found no option of the command itself that it could be."""
    if e.possibilities:
        return None
    import difflib

    close = difflib.get_close_matches(given, [k for k in known if k.startswith("--")], n=1)
    return close[0] if close else None


def _value_of(flag: str) -> str:
    """`` URL`` for a global option that takes a value, else nothing."""
    option = next(p for p in cli.params if flag in p.opts + p.secondary_opts)
    takes_value = isinstance(option, click.Option) and not option.is_flag \
        and not option.count
    return f" {option.metavar or 'VALUE'}" if takes_value else ""
