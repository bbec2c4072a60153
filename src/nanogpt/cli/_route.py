"""``nanogpt models providers ID`` (who can serve a model, at what price) and ``nanogpt search
QUERY`` (NanoGPT's web search): text, or the answer's JSON with ``--json``.

Server text (titles, URLs, snippets, provider ids) goes through ``_safe.visible`` on a terminal
and in pipes alike: a search result is text from anywhere on the web. The cost of a search
goes to standard error, so that standard output holds only the results.
"""

from __future__ import annotations

import datetime
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from ._safe import visible, visible_json

if TYPE_CHECKING:
    from ..types import ModelProviders, WebSearch
    from ._app import App

PAYGO_NOTE = "a chosen provider is billed pay-as-you-go at its price, even on a subscription"


def run_providers(app: App, model: str, *, as_json: bool) -> None:
    from .. import InvalidParameterError

    try:
        found = app.client().models.providers(model)
    except InvalidParameterError as e:  # named as the command line names it: ID, not --model
        if e.param != "model":
            raise
        raise click.BadParameter(e.detail, param_hint="'ID'") from None
    if as_json:
        click.echo(visible_json(json.dumps(found.raw, indent=2, ensure_ascii=False)))
        return
    click.echo(_providers_text(found), nl=False)
    if found.supports_provider_selection:
        click.echo(f"note: {PAYGO_NOTE}", err=True)


def _providers_text(found: ModelProviders) -> str:
    name = visible(found.canonical_id or "", name=True)
    if not found.supports_provider_selection:
        return f"{name}: no provider selection (NanoGPT picks the provider)\n"
    rows = [("provider", "available", "$/M in", "$/M out", "distillation")]
    for p in found.providers:
        price = p.pricing
        rows.append((visible(p.provider, name=True), "yes" if p.available else "no",
                     _money(price.prompt_per_million if price else None),
                     _money(price.completion_per_million if price else None),
                     visible(p.distillation_policy.status or "-", name=True)
                     if p.distillation_policy else "-"))
    default = found.default_price
    head = (f"{name}: default price {_money(default.prompt_per_million)} in, "
            f"{_money(default.completion_per_million)} out per million tokens\n"
            if default else f"{name}\n")
    return head + _aligned(rows)


def _aligned(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                   + "\n" for r in rows)


def _money(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


def run_search(app: App, query: str, *, provider: str | None, depth: str | None,
               answer: bool, max_results: int | None, domains: tuple[str, ...],
               exclude: tuple[str, ...], since: datetime.datetime | None,
               until: datetime.datetime | None, as_json: bool) -> None:
    found = app.client().web.search(
        query, provider=provider, depth=depth,  # type: ignore[arg-type]
        output_type="sourcedAnswer" if answer else None, max_results=max_results,
        include_domains=list(domains) or None, exclude_domains=list(exclude) or None,
        from_date=since.date() if since else None, to_date=until.date() if until else None)
    if as_json:
        click.echo(visible_json(json.dumps(found.raw, indent=2, ensure_ascii=False)))
    else:
        sys.stdout.write(_search_text(found))
    meta = found.metadata
    cost = f"${meta.cost:g}" if meta.cost is not None else "cost not reported"
    click.echo(f"{cost} · {meta.provider or '?'} {meta.depth or ''}".rstrip(), err=True)


def _search_text(found: WebSearch) -> str:
    out: list[str] = []
    if found.answer is not None:
        out.append(visible(found.answer) + "\n")
        out += [f"[{i}] {visible(s.name or '', name=True)} {visible(s.url or '', name=True)}"
                for i, s in enumerate(found.sources, 1)]
    elif isinstance(found.data, list):
        if not found.results:
            click.echo("no results", err=True)
        for r in found.results:
            out.append(visible(r.title or r.url or "", name=True))
            out.append("  " + visible(r.image_url if r.type == "image" and r.image_url
                                      else r.url or "", name=True))
            if r.content:
                out.append("  " + visible(r.content, name=True))
    else:  # another shape (a provider's own object): shown as JSON
        out.append(visible_json(json.dumps(found.data, indent=2, ensure_ascii=False)))
    return "".join(line + "\n" for line in out)
