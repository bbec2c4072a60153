"""``nanogpt usage`` (what the key spent, as a table by day or model and a bar chart of spend
per day) and ``nanogpt quota`` (the subscription's limits, what remains, when each resets).

Both print a rich table on a terminal and aligned plain text to a pipe; the chart is plain
characters (blocks when the output takes UTF-8, ``#`` otherwise) sized to the terminal's width,
with no colour needed. ``--json`` prints the service's answer as it came.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

import click

from ._render import Unpadded, console, dollars, stdout_is_terminal
from ._safe import visible, visible_json

if TYPE_CHECKING:
    from ..types import Quota, SubscriptionUsage, UsageReport, UsageRow
    from ._app import App

__all__ = ["bar_chart", "quota_command", "relative", "usage_command"]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
NO_SUBSCRIPTION = ("this key has no active subscription (state: {state}): its requests are "
                   "paid from the balance; see 'nanogpt balance' and 'nanogpt usage', or "
                   "subscribe at https://nano-gpt.com/subscription")
MIN_BAR, MAX_BAR = 10, 60  # the bar chart's bar width, in characters
_EIGHTHS = " ▏▎▍▌▋▊▉"


# nanogpt usage --------------------------------------------------------------------------------

@click.command("usage", context_settings=CONTEXT,
               short_help="What this key spent, by day or model, with a chart.")
@click.option("--from", "from_", metavar="DATE",
              help="First UTC day (YYYY-MM-DD; default: 30 days before --to).")
@click.option("--to", metavar="DATE", help="Last UTC day, included (default: today, UTC).")
@click.option("--by", type=click.Choice(["day", "model"]), default="day", show_default=True,
              help="One table row per UTC day, or per model.")
@click.option("--json", "as_json", is_flag=True, help="Print the service's answer as JSON.")
@click.pass_obj
def usage_command(app: App, from_: str | None, to: str | None, by: str,
                  as_json: bool) -> None:
    """What this API key spent: requests, tokens and cost, by day or model.

    Without dates: the last 30 UTC days. Below the table, a bar chart of the spend per day.

    \b
    Examples:
      nanogpt usage
      nanogpt usage --from 2026-05-01 --to 2026-05-31 --by model
      nanogpt usage --json
    """
    from .. import InvalidParameterError

    try:
        report = app.client().usage(from_, to, group_by="day,model")
    except InvalidParameterError as e:
        flag = {"from_": "--from", "to": "--to"}.get(e.param, e.param)
        raise click.BadParameter(e.detail, param_hint=f"'{flag}'") from None
    if as_json:
        click.echo(visible_json(report.to_json()))
        return
    rows = report.by_day if by == "day" else sorted(report.by_model, key=lambda r: -r.cost)
    show_usage_table(rows, report, by)
    chart = bar_chart(report, width=shutil.get_terminal_size().columns)
    if chart:
        sys.stdout.write("\nspend per day (UTC)\n" + "\n".join(chart) + "\n")


def show_usage_table(rows: Sequence[UsageRow], report: UsageReport, by: str) -> None:
    head = ("day" if by == "day" else "model", "requests", "input tokens", "output tokens",
            "cost")
    cells = [(_row_name(r, by), f"{r.requests:,}", f"{r.input_tokens:,}",
              f"{r.output_tokens:,}", dollars(r.cost)) for r in rows]
    t = report.totals
    total = ("total", f"{t.requests:,}", f"{t.input_tokens:,}", f"{t.output_tokens:,}",
             dollars(t.cost))
    span = f"{report.from_} to {report.to} (UTC)" if report.from_ and report.to else ""
    if not rows:
        click.echo(f"no usage {span}".rstrip())
        return
    lines = _aligned([head, *cells, total], right=range(1, 5))
    if _styled(lines):
        from rich.table import Table

        table = Table(box=None, header_style="bold", pad_edge=False, title=span or None,
                      title_justify="left", show_footer=True)
        for i, h in enumerate(head):
            table.add_column(h, footer=total[i], justify="left" if i == 0 else "right",
                             no_wrap=True)
        for c in cells:
            table.add_row(*c)
        console().print(Unpadded(table))
        return
    if span:
        sys.stdout.write(span + "\n")
    sys.stdout.write("".join(line + "\n" for line in lines))


def _aligned(rows: Sequence[Sequence[str]], right: range) -> list[str]:
    """The rows as plain lines, each column as wide as its widest cell (the columns in
    ``right`` aligned right), two spaces apart."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.rjust(w) if i in right else c.ljust(w)
                      for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()
            for row in rows]


def _styled(lines: Sequence[str]) -> bool:
    """Whether to draw the table with rich: on a terminal wide enough for every line. On a
    narrower one rich would cut values to fit (a cost shown as '$0…', a limit as '1,000,…')
    or drop a column; the plain lines keep every value, and the terminal wraps them."""
    if not stdout_is_terminal():
        return False
    return max(map(len, lines)) <= shutil.get_terminal_size().columns


def _row_name(row: UsageRow, by: str) -> str:
    if by == "day":
        return str(row.date) if row.date else "?"
    return visible(row.model or "?", name=True)  # the server's words: shown, never obeyed


def bar_chart(report: UsageReport, *, width: int, unicode: bool | None = None) -> list[str]:
    """One line per UTC day from the first day with spend to the last day of the range:
    the day, a bar as long as its share of the dearest day, the amount. ``width`` is the
    terminal's; bars are plain characters (``#`` where the output cannot take blocks)."""
    spend = {r.date: r.cost for r in report.by_day if r.date is not None}
    if not any(spend.values()):
        return []
    first = min(d for d, c in spend.items() if c)
    last = max(report.to or first, max(spend))
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    amounts = [dollars(spend.get(d, Decimal(0))) for d in days]
    room = width - len("2026-05-01  ") - max(len(a) for a in amounts) - 1
    bar_width = max(MIN_BAR, min(MAX_BAR, room))
    top = max(spend.values())
    if unicode is None:
        unicode = (sys.stdout.encoding or "").lower().replace("-", "") in ("utf8", "utf_8")
    return [f"{d}  {_bar(spend.get(d, Decimal(0)) / top, bar_width, unicode)} {a}"
            for d, a in zip(days, amounts, strict=True)]


def _bar(share: Decimal, width: int, unicode: bool) -> str:
    """A bar of ``share`` (0 to 1) of ``width`` characters, padded to ``width``: whole
    blocks and one partial block in eighths, or ``#`` characters."""
    eighths = int(share * width * 8)
    if not unicode:
        return ("#" * round(share * width)).ljust(width)
    whole, part = divmod(eighths, 8)
    return ("█" * whole + (_EIGHTHS[part] if part else "")).ljust(width)


# nanogpt quota --------------------------------------------------------------------------------

@click.command("quota", context_settings=CONTEXT,
               short_help="Subscription quotas: used, remaining, reset times.")
@click.option("--json", "as_json", is_flag=True, help="Print the service's answer as JSON.")
@click.pass_obj
def quota_command(app: App, as_json: bool) -> None:
    """Your subscription's quotas: used, remaining, and when each resets.

    Reset times are shown in local time and from now ("in 3 h").

    \b
    Examples:
      nanogpt quota
      nanogpt quota --json
    """
    usage = app.client().subscription.usage()
    if as_json:
        click.echo(visible_json(usage.to_json()))
        return
    if not usage.subscribed:
        raise click.ClickException(NO_SUBSCRIPTION.format(
            state=visible(usage.state or "unknown", name=True)))
    show_quotas(usage, dt.datetime.now(dt.timezone.utc))


def show_quotas(usage: SubscriptionUsage, now: dt.datetime) -> None:
    head = ("quota", "used", "limit", "remaining", "resets")
    cells = [_quota_cells(q, now) for q in usage.quotas.values()]
    notes = [f"subscription: {visible(usage.state or 'active', name=True)}"]
    if usage.period_end is not None:
        notes.append(f"period ends {_local(usage.period_end)}")
    if usage.recommended_mode is not None:
        notes.append(f"billing advice: {visible(usage.recommended_mode, name=True)}")
    lines = _aligned([head, *cells], right=range(1, 4))
    if _styled(lines):
        from rich.table import Table

        table = Table(box=None, header_style="bold", pad_edge=False)
        for i, h in enumerate(head):
            table.add_column(h, justify="right" if 1 <= i <= 3 else "left", no_wrap=True)
        for c in cells:
            table.add_row(*c)
        console().print(Unpadded(table))
    else:
        sys.stdout.write("".join(line + "\n" for line in lines))
    sys.stdout.write(" · ".join(notes) + "\n")


def _quota_cells(q: Quota, now: dt.datetime) -> tuple[str, str, str, str, str]:
    name = visible(re.sub(r"(?<=[a-z])(?=[A-Z])", " ", q.name).lower(), name=True)
    limit = f"{q.limit:,}" if q.limit is not None else "-"
    if q.unknown:  # the service could not look it up: never shown as a full allowance
        used = remaining = "unknown"
    else:
        pct = f" ({q.percent_used:.0%})" if q.percent_used is not None else ""
        used, remaining = f"{q.used:,}{pct}", f"{q.remaining:,}"
    resets = f"{_local(q.reset_at)} ({relative(q.reset_at, now)})" if q.reset_at else "-"
    return name, used, limit, remaining, resets


def _local(moment: dt.datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()


def relative(moment: dt.datetime, now: dt.datetime) -> str:
    """``in 3 h``, ``in 45 min``, ``in 2 d``, ``now``, or ``3 h ago``: how far ``moment`` is
    from ``now``, in its largest whole unit."""
    seconds = (moment - now).total_seconds()
    size = abs(seconds)
    if size < 60:
        return "now"
    unit, length = next((u, n) for u, n in (("d", 86400), ("h", 3600), ("min", 60))
                        if size >= n)
    amount = f"{int(size // length)} {unit}"
    return f"in {amount}" if seconds > 0 else f"{amount} ago"
