"""``nanogpt batch --remote`` and ``nanogpt batches list|status|wait|cancel|download``.

``run_remote`` checks the input against the Batch API's rules (nothing is sent when a row
breaks one: every problem is listed with its line), shows the worst-case cost at batch prices
and the saving against a live run, uploads, creates the batch, records it beside the output
(``OUT.jsonl.batch.json``), then follows it and downloads the results into OUT in the live
run's format. ``--detach`` (or Ctrl-C while following) leaves the batch running; the
``batches`` commands pick it up later by batch id or by the output path.

Following polls every ``NANOGPT_BATCH_POLL`` seconds (default 10; ``wait --poll``); the
progress display (rich, on stderr) shows only on a terminal, status changes are plain lines
otherwise, and ``--json`` prints one JSON object on stdout at the end.

Exit codes: 0 every row answered; 1 some rows are error rows, or the batch failed, expired or
was cancelled; 2 bad input (rows that break the Batch API's rules) or a wrong option, nothing
sent, as for a live run; 130 stopped following (Ctrl-C): the batch goes on.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ._render import plural
from ._safe import visible

if TYPE_CHECKING:
    from .. import NanoGPT
    from ..batch._remote import DownloadSummary, RemotePlan
    from ..types import Batch
    from ._app import App

__all__ = ["batches_group", "run_remote"]

CONTEXT = {"help_option_names": ["-h", "--help"]}
DEFAULT_POLL = 10.0


def _poll_interval(explicit: float | None = None) -> float:
    if explicit is not None:
        return explicit
    try:
        return max(0.0, float(os.environ.get("NANOGPT_BATCH_POLL", DEFAULT_POLL)))
    except ValueError:
        raise click.ClickException("NANOGPT_BATCH_POLL must be a number of seconds") from None


def _note(text: str) -> None:
    click.echo(text, err=True)


def _usd(v: float | None) -> str:
    return "unknown" if v is None else f"${v:.6f}"


# batch --remote -------------------------------------------------------------------------------

def run_remote(app: App, in_path: Path, out_path: Path, *, model: str | None, detach: bool,
               as_json: bool, max_tokens: int | None = None) -> int:
    """``nanogpt batch IN -o OUT --remote``; returns the exit code."""
    from ..batch._remote import RemoteInputError, already_submitted, prepare, submit

    client = app.client()
    existing = already_submitted(client, out_path)
    if existing is not None:
        raise click.ClickException(
            f"batch {existing} was already submitted for {out_path} (recorded in "
            f"{out_path}.batch.json): follow it with 'nanogpt batches wait {out_path}', "
            "or remove the record to submit again")
    params = {"max_tokens": max_tokens} if max_tokens is not None else None
    try:
        plan = prepare(in_path, model=model, params=params, catalog=_catalog(app))
    except RemoteInputError as e:
        for problem in e.problems:  # a row's id is the file's text: shown, never obeyed
            _note(f"  {visible(problem)}")
        if e.more:
            _note(f"  ... and {e.more} more")
        total = len(e.problems) + e.more
        refused = click.ClickException(
            f"the rows break the Batch API's rules ({total} problem{'s' if total > 1 else ''}, "
            "listed above); nothing was sent")
        refused.exit_code = 2  # bad input, nothing sent: the same code as a live run's
        raise refused from None
    if not as_json:
        _show_estimate(plan)
    batch = submit(client, plan, in_path, out_path)
    if not as_json:
        _note(f"batch {batch.id} created ({batch.status}); recorded in {out_path}.batch.json")
    if detach:
        if as_json:
            click.echo(json.dumps({"batch_id": batch.id, "status": batch.status,
                                   "output": str(out_path), "estimate": plan.estimate()},
                                  indent=2))
        else:
            _note(f"detached: 'nanogpt batches wait {batch.id} -o {out_path}' picks it up")
        return 0
    return _follow_and_download(client, batch.id, out_path, as_json=as_json,
                                poll=_poll_interval(), estimate=plan.estimate())


def _catalog(app: App) -> list[Any] | None:
    """The catalog for prices; a batch is not refused because the catalog is unreachable."""
    from .. import NanoGPTError

    try:
        return app.catalog()
    except NanoGPTError as e:
        _note(f"note: no catalog ({e}); the cost is not estimated")
        return None


def _show_estimate(plan: RemotePlan) -> None:
    for note in plan.notes:
        _note(f"note: {note}")
    _note(f"{plural(plan.rows, 'row')}, model {visible(plan.model, name=True)}: worst case "
          f"{_usd(plan.worst_case_batch)} as a batch (live: {_usd(plan.worst_case_live)}, "
          f"saving up to {_usd(plan.saving)})")


# following ------------------------------------------------------------------------------------

def _follow(client: NanoGPT, batch_id: str, *, poll: float, quiet: bool) -> Batch:
    """Poll until the batch ends; a progress bar on a terminal, status lines otherwise."""
    if not quiet and sys.stderr.isatty():
        return _follow_bar(client, batch_id, poll)
    last = None
    while True:
        batch = client.batches.retrieve(batch_id)
        if not quiet and batch.status != last:
            counts = batch.request_counts
            _note(f"batch {batch.id}: {batch.status} "
                  f"({counts.completed + counts.failed}/{counts.total} rows)")
            last = batch.status
        if batch.done:
            return batch
        time.sleep(poll)


def _follow_bar(client: NanoGPT, batch_id: str, poll: float) -> Batch:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from ._render import err_console

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn())
    with Progress(*columns, console=err_console(), transient=False) as bar:
        task = bar.add_task(batch_id, total=None, failed=0)
        while True:
            batch = client.batches.retrieve(batch_id)
            c = batch.request_counts
            bar.update(task, description=f"{batch.id} {batch.status}", total=c.total or None,
                       completed=c.completed + c.failed, failed=c.failed)
            if batch.done:
                return batch
            time.sleep(poll)


def _follow_and_download(client: NanoGPT, batch_id: str, out_path: Path | None, *,
                         as_json: bool, poll: float,
                         estimate: dict[str, Any] | None = None) -> int:
    try:
        batch = _follow(client, batch_id, poll=poll, quiet=as_json)
    except KeyboardInterrupt:
        _note(f"\nstopped following; batch {batch_id} goes on: 'nanogpt batches wait "
              f"{batch_id}' picks it up")
        return 130
    summary = None
    if out_path is not None and batch.input_file_id:
        summary = _download(client, batch.id, out_path)
    _report(batch, out_path, summary, as_json=as_json, estimate=estimate)
    return 0 if batch.status == "completed" and (summary is None or not summary.failed) else 1


def _download(client: NanoGPT, batch_id: str, out_path: Path) -> DownloadSummary:
    from ..batch._remote import download

    return download(client, batch_id, out_path)


def _report(batch: Batch, out_path: Path | None, summary: DownloadSummary | None, *,
            as_json: bool, estimate: dict[str, Any] | None = None) -> None:
    if as_json:
        data: dict[str, Any] = {"batch_id": batch.id, "status": batch.status,
                                "request_counts": batch.raw.get("request_counts"),
                                "errors": batch.error_messages,
                                "output": str(out_path) if out_path else None}
        if summary is not None:
            data.update(summary.to_dict())
        if estimate is not None:
            data["estimate"] = estimate
        click.echo(json.dumps(data, indent=2))
        return
    for message in batch.error_messages:
        _note(f"  {visible(message)}")
    line = f"batch {batch.id} {batch.status}"
    if summary is not None:
        line += (f": {summary.answered} answered, {summary.failed} failed, "
                 f"${summary.cost:.6f} -> {out_path}")
    click.echo(line)


# nanogpt batches ... --------------------------------------------------------------------------

def _resolve(target: str) -> tuple[str, Path | None]:
    """A batch id, or an output path (or its record) that names one: (batch id, output)."""
    from ..batch._remote import read_record

    if Path(target).exists() or Path(target + ".batch.json").exists():
        try:
            record = read_record(target)
        except ValueError as e:
            raise click.ClickException(str(e)) from None
        if record is None or not record.get("batch_id"):
            raise click.ClickException(f"no batch is recorded for {target}")
        out = record.get("output")
        return str(record["batch_id"]), Path(out) if isinstance(out, str) else None
    return target, None


class _BatchesGroup(click.Group):
    """A 404 from any ``batches`` command means an id this key cannot see (a typo, another
    account, or a batch of an earlier ``--offline`` emulator): the error says where ids are."""

    def invoke(self, ctx: click.Context) -> Any:
        from .. import NotFoundError
        from ._advice import one_line

        try:
            return super().invoke(ctx)
        except NotFoundError as e:
            raise click.ClickException(
                f"{one_line(e)[0]}; 'nanogpt batches list' shows the batches this key can "
                "see") from None


@click.group("batches", cls=_BatchesGroup, context_settings=CONTEXT)
def batches_group() -> None:
    """Server-side batches (NanoGPT's Batch API).

    List, follow, cancel and download the batches 'nanogpt batch --remote' started.

    ID is a batch id, or the output path given to 'nanogpt batch --remote' (its batch is
    recorded beside it, in OUT.batch.json).
    """


@batches_group.command("list", context_settings=CONTEXT)
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--after", metavar="ID", help="Start after this batch id (the next page).")
@click.option("--json", "as_json", is_flag=True, help="Print the page as JSON.")
@click.pass_obj
def list_command(app: App, limit: int, after: str | None, as_json: bool) -> None:
    """List your batches, newest first."""
    page = app.client().batches.list(limit=limit, after=after)
    if as_json:
        click.echo(json.dumps(page.raw, indent=2))
        return
    if not page.data:
        _note("no batches" + (f" after {visible(after)}" if after else "")
              + "; 'nanogpt batch IN.jsonl -o OUT.jsonl --remote' starts one")
    for b in page.data:
        c = b.request_counts
        click.echo(f"{visible(b.id)}  {b.status:<11} {c.completed + c.failed}/{c.total} rows"
                   f"  {c.failed} failed")
    if page.has_more and page.last_id:
        _note(f"more: nanogpt batches list --after {page.last_id}")


@batches_group.command("status", context_settings=CONTEXT)
@click.argument("target", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the batch as JSON.")
@click.pass_obj
def status_command(app: App, target: str, as_json: bool) -> None:
    """Show one batch."""
    batch_id, _ = _resolve(target)
    batch = app.client().batches.retrieve(batch_id)
    if as_json:
        click.echo(json.dumps(batch.raw, indent=2))
        return
    c = batch.request_counts
    click.echo(f"{visible(batch.id)}  {batch.status}  {c.completed} completed, "
               f"{c.failed} failed of {c.total}")
    for message in batch.error_messages:
        click.echo(f"  {visible(message)}")


@batches_group.command("wait", context_settings=CONTEXT)
@click.argument("target", metavar="ID")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Download the results here at the end (default: the recorded output).")
@click.option("--poll", type=click.FloatRange(0), help="Seconds between polls (default 10, "
              "or NANOGPT_BATCH_POLL).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary at the end.")
@click.pass_obj
def wait_command(app: App, target: str, output: Path | None, poll: float | None,
                 as_json: bool) -> None:
    """Follow a batch until it ends, then download.

    Follows a batch until it ends, then downloads its results."""
    batch_id, recorded = _resolve(target)
    code = _follow_and_download(app.client(), batch_id, output or recorded, as_json=as_json,
                                poll=_poll_interval(poll))
    sys.exit(code)


@batches_group.command("cancel", context_settings=CONTEXT)
@click.argument("target", metavar="ID")
@click.pass_obj
def cancel_command(app: App, target: str) -> None:
    """Ask NanoGPT to cancel a batch.

    Best effort: a finished batch cannot be cancelled."""
    batch_id, _ = _resolve(target)
    batch = app.client().batches.cancel(batch_id)
    click.echo(f"batch {visible(batch.id)}: {batch.status}")


@batches_group.command("download", context_settings=CONTEXT)
@click.argument("target", metavar="ID")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the results (default: the recorded output).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.pass_obj
def download_command(app: App, target: str, output: Path | None, as_json: bool) -> None:
    """Write a finished batch's results.

    One row per input row, as a live run writes them."""
    from .. import InvalidParameterError

    batch_id, recorded = _resolve(target)
    out = output or recorded
    if out is None:
        raise click.UsageError("give -o OUT (no output is recorded for this batch)")
    client = app.client()
    try:
        summary = _download(client, batch_id, out)
    except InvalidParameterError as e:
        raise click.ClickException(str(e).removeprefix("batch: ")) from None
    _report(client.batches.retrieve(batch_id), out, summary, as_json=as_json)
    sys.exit(0 if not summary.failed else 1)
