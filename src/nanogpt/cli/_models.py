"""``nanogpt models``: the catalog as a table (terminal) or aligned text / JSON (pipe).

On a terminal, ids and names are shown through ``_safe.visible`` (a zero-width character
cannot make a look-alike pass for a real id); piped text is byte-exact.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from . import _fuzzy
from ._render import Unpadded, console, stdout_is_terminal
from ._safe import visible, visible_json

if TYPE_CHECKING:
    from .. import Model
    from ._app import App

_CAPS = {"vision": "vision", "reasoning": "reasoning", "tools": "tool_calling"}


def capability_names(m: Model) -> str:
    return ",".join(short for short, attr in _CAPS.items() if getattr(m.capabilities, attr))


def catalog_name(*, subscription: bool, paid: bool) -> str:
    """Which catalog the flags ask for. Both at once is refused (exit 2) rather than guessed:
    each is one list the service keeps, so "both" could mean their union (close to what no
    flag shows) or their overlap, and two tables one after the other would be read as one."""
    if subscription and paid:
        raise click.UsageError("--subscription and --paid each pick one list; pass one of "
                               "them, or neither for every model")
    return "subscription" if subscription else "paid" if paid else "all"


def run_models(app: App, *, search: str | None, sort: str, capabilities: tuple[str, ...],
               catalog: str, as_json: bool, refresh: bool) -> None:
    models = app.catalog(catalog, refresh=refresh)
    if search:
        models = _fuzzy.search(search, models)
    for cap in capabilities:
        models = [m for m in models if getattr(m.capabilities, _CAPS[cap])]
    if sort == "price":
        models.sort(key=lambda m: ((m.pricing.prompt or 0) + (m.pricing.completion or 0), m.id))
    elif sort == "context":
        models.sort(key=lambda m: (-(m.context_length or 0), m.id))
    elif not search:  # a search keeps its best-match order
        models.sort(key=lambda m: m.id)
    if as_json:
        click.echo(visible_json(json.dumps([m.raw for m in models], indent=2,
                                           ensure_ascii=False)))
        return
    if not models:
        click.echo("no models match", err=True)
        return
    rows = [(m.id, m.name or "", f"{m.context_length:,}" if m.context_length else "-",
             _money(m.pricing.prompt), _money(m.pricing.completion), capability_names(m))
            for m in models]
    head = ("id", "name", "context", "$/M in", "$/M out", "capabilities")
    if stdout_is_terminal():
        from rich.table import Table

        table = Table(box=None, header_style="bold", pad_edge=False)
        for i, h in enumerate(head):
            table.add_column(h, justify="right" if 2 <= i <= 4 else "left",
                             no_wrap=i == 0)
        for r in rows:  # id and name come from the server: shown, never obeyed
            table.add_row(visible(r[0], name=True), visible(r[1], name=True), *r[2:])
        console().print(Unpadded(table))
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    for r in [head, *rows]:
        cells = [c.rjust(w) if 2 <= i <= 4 else c.ljust(w)
                 for i, (c, w) in enumerate(zip(r, widths, strict=False))]
        sys.stdout.write("  ".join(cells).rstrip() + "\n")


def _money(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"
