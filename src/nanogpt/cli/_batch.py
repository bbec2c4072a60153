"""``nanogpt batch``: run a JSONL file of prompts live (see ``nanogpt.batch``), or hand it to
NanoGPT's Batch API with ``--remote`` (``_batches``).

The live run goes through an :class:`~nanogpt.AsyncNanoGPT` made with the same key and base
URL as every other command. The progress bar (rich, on stderr) shows only on a terminal and
never with ``--json``; the summary goes to stdout.

Exit codes: 0 every row answered; 1 some rows are error rows (or a 401/402 stopped the run);
2 the input or an option is wrong (nothing sent); 3 the budget stopped it (rows not run);
130 interrupted (Ctrl-C). Every case is resumable by running the same command again.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import _settings
from ._app import App
from ._render import plural

if TYPE_CHECKING:
    from ..batch import BatchSummary

__all__ = ["run_batch"]


def run_batch(app: App, in_path: Path, out_path: Path, *, model: str | None,
              max_tokens: int | None, concurrency: int, max_rps: float | None,
              budget: float | None, retry_failed: bool, as_json: bool, remote: bool,
              detach: bool) -> int:
    """Run the command; returns the exit code."""
    if remote:
        from ._batches import run_remote

        _refuse_live_only_options(budget=budget, max_rps=max_rps, retry_failed=retry_failed)
        with _ledger_errors_explained():  # the submit lock
            return run_remote(app, in_path, out_path, model=model, detach=detach,
                              as_json=as_json, max_tokens=max_tokens)
    if detach:
        raise click.UsageError("--detach goes with --remote (a live run runs here)")
    import asyncio

    from .. import AsyncNanoGPT
    from ..batch import arun

    key, base_url = app.credentials()
    model = model or _default_model(app)
    params = {"max_tokens": max_tokens} if max_tokens is not None else None

    async def main(progress: _Progress) -> BatchSummary:
        async with AsyncNanoGPT(key, base_url=base_url, max_concurrency=concurrency,
                                allow_insecure_http=_settings.allow_insecure_http()) as client:
            return await arun(in_path, out_path, client=client,
                              model=model, params=params,
                              concurrency=concurrency, max_rps=max_rps, budget=budget,
                              retry_failed=retry_failed, on_progress=progress.update,
                              handle_sigint=True)

    with (_ledger_errors_explained(),
          _Progress(enabled=not as_json and sys.stderr.isatty()) as progress):
        summary = asyncio.run(main(progress))
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        click.echo(describe(summary, model_given=model is not None))
    return exit_code(summary)


@contextlib.contextmanager
def _ledger_errors_explained() -> Iterator[None]:
    """A ledger (or submit lock) held by another run, or a file at the ledger's place that is
    not one: one line with what to do, not an "unexpected error"."""
    from ..batch._ledger import LedgerBusyError, LedgerUnreadableError

    try:
        yield
    except LedgerBusyError as e:
        advice = "wait for it to end, or choose another output"
        raise click.ClickException(f"{e}; {advice}") from None
    except LedgerUnreadableError as e:  # its message says what to do
        raise click.ClickException(str(e)) from None


def _refuse_live_only_options(*, budget: float | None, max_rps: float | None,
                              retry_failed: bool) -> None:
    """Options a remote batch cannot honour are refused, not ignored: a ``--budget`` that
    silently capped nothing would let the batch spend past it."""
    given = [flag for flag, value in (("--budget", budget is not None),
                                      ("--max-rps", max_rps is not None),
                                      ("--retry-failed", retry_failed)) if value]
    if given:
        one = len(given) == 1
        raise click.UsageError(
            f"{', '.join(given)} only work{'s' if one else ''} for a live run; drop "
            f"{'it' if one else 'them'} with --remote (which shows its worst-case cost before "
            "uploading)")


def _default_model(app: App) -> str | None:
    value = app.config.get("model")
    return value if isinstance(value, str) else None


def exit_code(summary: BatchSummary) -> int:
    if summary.stopped == "interrupted" or summary.cancelled:
        return 130
    if summary.stopped == "budget":
        return 3
    failed = summary.failed + summary.kept_failed + summary.malformed
    return 1 if failed else 0


def describe(summary: BatchSummary, *, model_given: bool = True) -> str:
    """The summary for people: what was sent, kept, failed, what it cost, what is left.

    ``model_given``: whether rows that name no model had one from -m or the config; when
    not, such rows are refused, and the line says how to give one (they are valid JSON: to
    call them "malformed" would send the user looking for a syntax error)."""
    s = summary
    lines = [f"{plural(s.rows, 'row')} -> {s.output} in {s.elapsed:.1f}s"]
    lines.append(f"  sent {s.sent} (new {s.new}, changed {s.changed}, retried {s.retried}): "
                 f"{s.succeeded} answered, {s.failed} failed")
    if s.kept:
        lines.append(f"  kept {plural(s.kept, 'finished row')} from earlier runs (not sent again"
                     + (f"; {s.kept_failed} of them errors: --retry-failed reruns them)"
                        if s.kept_failed else ")"))
    if s.malformed:
        lines.append(f"  not valid rows, refused before sending: {plural(s.malformed, 'line')} "
                     f"(each error row says why)")
        if not model_given:
            lines.append("  rows that name no model need one: pass -m MODEL, or set a "
                         "default with 'nanogpt config set model ID'")
    cost = f"  cost ${s.cost:.6f} (reported by NanoGPT), {plural(s.tokens, 'token')}"
    if s.cost_unreported:
        cost += f"; {plural(s.cost_unreported, 'answer')} carried no price"
    if s.budget is not None or s.job_cost != s.cost:
        cost += f"; whole job ${s.job_cost:.6f}"
    if s.budget is not None:
        cost += f" of a ${s.budget:g} budget"
    lines.append(cost)
    if s.stopped:
        lines.append(f"  stopped: {s.stop_reason}")
    if s.not_run or s.cancelled:
        lines.append(f"  {plural(s.not_run + s.cancelled, 'row')} not run: run the same "
                     "command again to resume")
    return "\n".join(lines)


class _Progress:
    """A rich progress bar on stderr: rows done of all, failed, tokens, cost, ETA."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("batch"), BarColumn(), MofNCompleteColumn(),
                TextColumn("failed {task.fields[failed]}"),
                TextColumn("{task.fields[tokens]} tok"), TextColumn("${task.fields[cost]}"),
                TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            self._bar.start()
            self._task = self._bar.add_task("batch", total=None, failed=0, tokens=0,
                                            cost="0")
        return self

    def update(self, summary: BatchSummary) -> None:
        if self._bar is None:
            return
        self._bar.update(self._task, total=summary.rows,
                         completed=summary.done + summary.not_run,
                         failed=summary.failed + summary.malformed, tokens=summary.tokens,
                         cost=f"{summary.cost:.4f}")

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
