"""The live batch runner: rows from a JSONL file, sent concurrently, never paid for twice.

How a run goes:

1. One pass over the input checks for duplicate ids (an error naming both lines, before
   anything is sent) and counts the rows.
2. The output file is rebuilt as the run streams the input again: a row the ledger holds as
   finished with the same digest is written from the ledger and never sent; a malformed line
   becomes an error row; every other row (new, edited, or failed before with
   ``retry_failed``) is sent, at most ``concurrency`` at a time and ``max_rps`` a second,
   while the budget allows.
3. A finished row is committed to the ledger (a worker thread groups the commits) before its
   output line is written, before it counts, and before its concurrency slot is freed, so
   that a crash re-sends at most ``concurrency`` rows: those sent but not yet committed.
4. Rows not sent because the run stopped (the budget, an interruption, or a 401/402 that
   would fail every later row too) get an error row of type ``not_run``, not recorded: a
   rerun sends them.

Stopping: ``request_stop()`` (the first Ctrl-C) stops dispatching and lets the rows in flight
finish; a second request cancels them (they are not recorded; a rerun sends them again).

The engine is asyncio over :class:`~nanogpt.AsyncNanoGPT`; a sync :class:`~nanogpt.NanoGPT`
works too (its calls run in a thread pool of ``concurrency`` threads).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import signal
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import APIStatusError, InvalidParameterError, MissingAPIKeyError, NanoGPTError
from ._ledger import Finished, Ledger, ledger_path
from ._output import OutputWriter, error_line, response_line
from ._rows import BatchRow, RowError, read_rows, scan_ids

if TYPE_CHECKING:
    from .. import AsyncNanoGPT, NanoGPT
    from ..types import ChatCompletion, Model

__all__ = ["BatchInputError", "BatchSummary", "arun", "run", "worst_case_cost"]

_ACCOUNT_ERRORS = {401: "the key was refused (401)", 402: "the balance ran out (402)"}
_YIELD_EVERY = 500  # rows scanned between two yields to the loop (progress, commits)


class BatchInputError(InvalidParameterError):
    """The input or the output path cannot start a run (duplicate ids, a foreign output
    file); raised before anything is sent. ``param`` says which of the two is at fault."""

    def __init__(self, message: str, *, param: str = "input") -> None:
        super().__init__(param, message)


@dataclass
class BatchSummary:
    """What a run did. Counts are rows; ``cost`` is what NanoGPT reported
    (``x_nanogpt_pricing``) for the rows answered in this run."""

    input: str
    output: str
    ledger: str
    rows: int = 0  # non-blank input lines, so output rows
    sent: int = 0  # requests sent in this run
    succeeded: int = 0  # answered in this run
    failed: int = 0  # ended in an error in this run
    kept: int = 0  # finished in an earlier run, unchanged: written from the ledger, not sent
    kept_failed: int = 0  # of ``kept``, rows that had ended in an error
    new: int = 0  # rows never seen before, sent
    changed: int = 0  # rows finished before whose request changed, sent again
    retried: int = 0  # rows failed before, sent again (``retry_failed``)
    malformed: int = 0  # lines that are not rows, written as error rows
    not_run: int = 0  # rows not sent (budget or interruption), written as ``not_run`` rows
    cancelled: int = 0  # rows cancelled in flight (second interruption), not recorded
    stopped: str | None = None  # "budget", "interrupted" or "account" (401/402): stopped early
    stop_reason: str | None = None
    cost: float = 0.0  # USD reported for the rows answered in this run
    job_cost: float = 0.0  # USD reported for every run of this job (this output), this one too
    cost_unreported: int = 0  # answered rows whose answer carried no price
    tokens: int = 0  # total tokens of the rows answered in this run
    budget: float | None = None
    elapsed: float = 0.0
    started: float = field(default_factory=time.monotonic, repr=False)

    @property
    def done(self) -> int:
        """Rows with their final output row written."""
        return (self.succeeded + self.failed + self.kept + self.malformed)

    @property
    def complete(self) -> bool:
        return self.stopped is None and self.not_run == 0 and self.cancelled == 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("started")
        data["done"] = self.done
        data["complete"] = self.complete
        data["cost"] = round(self.cost, 10)
        data["job_cost"] = round(self.job_cost, 10)
        data["elapsed"] = round(self.elapsed, 3)
        return data


ProgressCallback = Callable[[BatchSummary], None]


def run(input: str | Path, output: str | Path, *, client: NanoGPT | AsyncNanoGPT | None = None,
        model: str | None = None, params: Mapping[str, Any] | None = None,
        concurrency: int = 50, max_rps: float | None = None, budget: float | None = None,
        retry_failed: bool = False, on_progress: ProgressCallback | None = None,
        handle_sigint: bool = True) -> BatchSummary:
    """Run a batch to the end and return its summary (see :func:`arun`). With
    ``handle_sigint`` (and on the main thread), Ctrl-C stops dispatching and a second one
    cancels the rows in flight; the ledger keeps the run resumable either way.

    Pass a :class:`~nanogpt.NanoGPT` (or nothing); an :class:`~nanogpt.AsyncNanoGPT`
    belongs with :func:`arun` in your own event loop, since this call runs a loop of its own
    and the async client's connections are tied to the loop they were opened in."""
    return asyncio.run(arun(input, output, client=client, model=model, params=params,
                            concurrency=concurrency, max_rps=max_rps, budget=budget,
                            retry_failed=retry_failed, on_progress=on_progress,
                            handle_sigint=handle_sigint))


async def arun(input: str | Path, output: str | Path, *,
               client: NanoGPT | AsyncNanoGPT | None = None, model: str | None = None,
               params: Mapping[str, Any] | None = None, concurrency: int = 50,
               max_rps: float | None = None, budget: float | None = None,
               retry_failed: bool = False, on_progress: ProgressCallback | None = None,
               handle_sigint: bool = False) -> BatchSummary:
    """Send every row of ``input`` that has no finished answer yet and write one output row
    per input row to ``output``; the ledger ``output.ledger`` makes a rerun resume.

    ``client``: an :class:`~nanogpt.AsyncNanoGPT` or :class:`~nanogpt.NanoGPT` (default: an
    ``AsyncNanoGPT`` from the environment, closed at the end). ``model`` and ``params`` fill
    what rows do not set. ``budget`` (USD) caps the whole job, every run of it included: no
    row is sent when what the job has spent plus the worst case of the rows in flight and of
    that row could pass it.
    """
    _check_options(concurrency, max_rps, budget)
    runner = _Runner(Path(input), Path(output), client=client, model=model,
                     params=dict(params or {}), concurrency=concurrency, max_rps=max_rps,
                     budget=budget, retry_failed=retry_failed, on_progress=on_progress)
    with _sigint_stops(runner) if handle_sigint else contextlib.nullcontext():
        return await runner.run()


def _check_options(concurrency: int, max_rps: float | None, budget: float | None) -> None:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidParameterError("concurrency", "must be an integer >= 1")
    if max_rps is not None and not (isinstance(max_rps, (int, float)) and max_rps > 0):
        raise InvalidParameterError("max_rps", "must be a number > 0")
    if budget is not None and not (isinstance(budget, (int, float))
                                   and math.isfinite(budget) and budget >= 0):
        raise InvalidParameterError("budget", "must be a number of USD >= 0")


@contextlib.contextmanager
def _sigint_stops(runner: _Runner) -> Any:
    """Ctrl-C asks the runner to stop (twice: to cancel) instead of raising
    KeyboardInterrupt in the middle of a commit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, runner.request_stop)
    except (NotImplementedError, RuntimeError):  # no signal handlers on this loop
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def worst_case_cost(body: Mapping[str, Any], model: Model | None) -> float | None:
    """The most a request could cost, in USD: the catalog prices times an estimate of the
    prompt tokens (on the generous side: a token for every 2 bytes of the body's JSON)
    and the output cap (``max_tokens``, else the model's output or context limit) for each
    of the ``n`` answers asked for.
    ``None`` when it cannot be bounded (no price, no cap)."""
    if model is None or model.pricing.prompt is None or model.pricing.completion is None:
        return None
    # both caps given: the server may honour either, so the larger one bounds the answer
    caps = [c for c in (body.get("max_completion_tokens"), body.get("max_tokens"))
            if isinstance(c, int) and not isinstance(c, bool) and c > 0]
    cap = max(caps) if caps else model.max_output_tokens or model.context_length
    if not cap:
        return None
    prompt = _prompt_estimate(body)
    return (prompt * model.pricing.prompt + cap * _choices(body) * model.pricing.completion) / 1e6


def _prompt_estimate(body: Mapping[str, Any]) -> int:
    """Prompt tokens, on the generous side: a token for every 2 bytes of the JSON of all the
    body sends to the model (tool definitions and response schemas are prompt tokens too;
    the output cap and model name are counted as well, which only adds a little)."""
    return len(json.dumps(body, ensure_ascii=False).encode()) // 2 + 16


def _choices(body: Mapping[str, Any]) -> int:
    """How many answers a request asks for (``n``): each may use the whole output cap."""
    n = body.get("n")
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 1 else 1


class _Runner:
    def __init__(self, in_path: Path, out_path: Path, *,
                 client: NanoGPT | AsyncNanoGPT | None, model: str | None,
                 params: dict[str, Any], concurrency: int, max_rps: float | None,
                 budget: float | None, retry_failed: bool,
                 on_progress: ProgressCallback | None) -> None:
        self.in_path = in_path
        self.out_path = out_path
        self.model = model
        self.params = params
        self.concurrency = concurrency
        self.max_rps = max_rps
        self.budget = budget
        self.retry_failed = retry_failed
        self.on_progress = on_progress
        self.summary = BatchSummary(str(in_path), str(out_path), str(ledger_path(out_path)),
                                    budget=budget)
        self._client_arg = client
        self._stop_requests = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending: list[tuple[Finished, float]] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._settled = asyncio.Event()  # set whenever a row in flight settles
        self._stopping = asyncio.Event()  # set when the run stops sending
        self._idle.set()
        self._slots = asyncio.Semaphore(concurrency)
        self._reserved = 0.0  # worst case of the rows in flight
        self._spent = 0.0  # cost of the rows answered (worst case when unreported)
        self._next_send = 0.0
        self._catalog: dict[str, Model] = {}
        self._send: Callable[[dict[str, Any]], Any] | None = None
        self._models: Callable[[], Any] | None = None
        self._closing = False
        self._out: OutputWriter | None = None
        self._ledger: Ledger | None = None

    # stopping -------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """First call: send no more rows. Second: cancel the rows in flight too."""
        self._stop_requests += 1
        self._settled.set()  # a row waiting for the budget gives up
        if self.summary.stopped is None:
            self._stop("interrupted", "interrupted: rows in flight finish, no more are sent")
        if self._stop_requests >= 2:
            for task in list(self._tasks):
                task.cancel()

    def _stopped(self) -> bool:
        return self.summary.stopped is not None

    def _stop(self, kind: str, reason: str) -> None:
        self._stopping.set()
        if self.summary.stopped is None:
            self.summary.stopped = kind
            self.summary.stop_reason = reason

    # the run --------------------------------------------------------------------------------

    async def run(self) -> BatchSummary:
        duplicates, self.summary.rows = await asyncio.to_thread(scan_ids, self.in_path)
        if duplicates:
            raise BatchInputError(_duplicates_message(duplicates))
        self._refuse_foreign_output()
        close_client = await self._open_client()
        try:
            if self.budget is not None:
                await self._load_catalog()
            self._ledger = Ledger(ledger_path(self.out_path))
            self._spent = self.summary.job_cost = self._ledger.spent()
            try:
                self._out = OutputWriter(self.out_path, mode="w")
                try:
                    await self._run_rows()
                finally:
                    self._out.close()
            finally:
                self._ledger.close()
        finally:
            await close_client()
        self.summary.elapsed = time.monotonic() - self.summary.started
        self._report()
        return self.summary

    def _refuse_foreign_output(self) -> None:
        """An output file without a ledger was not written by a batch run, and the input is
        never the output: never overwrite someone's data."""
        out = self.out_path
        if not out.parent.is_dir():
            raise BatchInputError(f"{out}: the folder {out.parent} does not exist; create it "
                                  "or choose another output", param="output")
        if out.exists() and out.samefile(self.in_path):
            raise BatchInputError(f"{out} is the input file too: writing the output would "
                                  "erase the rows being read; choose another output",
                                  param="output")
        if out.exists() and out.stat().st_size > 0 and not ledger_path(out).exists():
            raise BatchInputError(f"{out} exists and has no ledger beside it, so it was not "
                                  "written by a batch run; remove it or choose another output",
                                  param="output")

    async def _run_rows(self) -> None:
        writer = asyncio.create_task(self._commit_loop())
        work = asyncio.create_task(self._dispatch_and_settle())
        try:
            # a commit that fails (disk full...) must end the run, not leave it waiting
            await asyncio.wait({work, writer}, return_when=asyncio.FIRST_COMPLETED)
            if writer.done():
                work.cancel()
                writer.result()
            await work
        finally:
            work.cancel()
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            self._wake.set()
            self._closing = True
            if not writer.done():
                await writer

    async def _dispatch_and_settle(self) -> None:
        await self._dispatch_rows()
        await self._idle.wait()

    async def _dispatch_rows(self) -> None:
        assert self._ledger is not None and self._out is not None
        scanned = 0
        # the input may change between the duplicate check and this pass: a row whose id was
        # already read here is an error row, never a second answer under one id
        lines_of: dict[str, int] = {}
        for item in read_rows(self.in_path, model=self.model, params=self.params):
            scanned += 1
            if scanned % _YIELD_EVERY == 0:
                self._report()
                await asyncio.sleep(0)
            if isinstance(item, BatchRow) and lines_of.setdefault(item.id, item.line) != item.line:
                item = RowError(item.line, item.id, f"line {item.line}: id {item.id!r} is also on "
                                f"line {lines_of[item.id]} (the input changed during the run)")
            if isinstance(item, RowError):
                self._write_malformed(item)
                continue
            prior = self._ledger.lookup(item.id)
            if prior is not None and prior.digest == item.digest and (
                    prior.ok or not self.retry_failed):
                self._out.write_line(prior.output)
                self.summary.kept += 1
                self.summary.kept_failed += not prior.ok
                continue
            await self._dispatch(item, prior)

    async def _dispatch(self, row: BatchRow, prior: Finished | None) -> None:
        """Send ``row`` when a slot, the rate and the budget allow; once the run has
        stopped, write it as not run instead."""
        if await self._take_slot():
            worst = None if self._stopped() else await self._reserve(row)
            if worst is not None:
                await self._pace()
                if not self._stopped():
                    self._start(row, prior, worst)
                    return
                self._reserved -= worst
            self._slots.release()
        self._write_not_run(row)

    async def _take_slot(self) -> bool:
        """Wait for a free concurrency slot; False (and no slot) once the run stops, which
        may happen while waiting (Ctrl-C with every slot busy)."""
        if self._stopped():
            return False
        if not self._slots.locked():
            await self._slots.acquire()
            return True
        acquire = asyncio.ensure_future(self._slots.acquire())
        stop = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({acquire, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not acquire.done():
            acquire.cancel()
            return False
        if self._stopped():
            self._slots.release()
            return False
        return True

    def _start(self, row: BatchRow, prior: Finished | None, worst: float) -> None:
        if prior is None:
            self.summary.new += 1
        elif prior.digest != row.digest:
            self.summary.changed += 1
        else:
            self.summary.retried += 1
        self.summary.sent += 1
        self._idle.clear()
        task = asyncio.create_task(self._send_row(row, worst))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reserve(self, row: BatchRow) -> float | None:
        """Reserve the row's worst-case cost; ``None`` (and the run stops) when the budget
        cannot take it or the cost cannot be bounded. While rows are in flight, a row that
        does not fit waits for them: their real cost usually frees part of their reserve."""
        if self.budget is None:
            return 0.0
        name = row.body["model"]
        model = self._catalog.get(name) or self._catalog.get(name.split(":")[0])
        worst = worst_case_cost(row.body, model)
        if worst is None:
            self._stop("budget", f"cannot bound the cost of row {row.id!r} (line {row.line}): "
                                 f"no catalog price or output cap for model {name!r}")
            return None
        while self._spent + self._reserved + worst > self.budget:
            if self._in_flight == 0 or self._stopped():
                self._stop("budget", f"budget ${self.budget:g}: spent ${self._spent:.6f}; "
                                     f"row {row.id!r} (line {row.line}) could cost "
                                     f"${worst:.6f}")
                return None
            self._settled.clear()
            await self._settled.wait()
        self._reserved += worst
        return worst

    async def _pace(self) -> None:
        if self.max_rps is None:
            return
        now = time.monotonic()
        at = max(now, self._next_send)
        self._next_send = at + 1.0 / self.max_rps
        if at > now:
            await asyncio.sleep(at - now)

    async def _send_row(self, row: BatchRow, worst: float) -> None:
        """Send one row and queue its result for commit; the slot is freed by the commit."""
        assert self._send is not None
        try:
            try:
                completion = await self._send(row.body)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure is this row's error row
                finished = _failed(row, exc)
            else:
                finished = _answered(row, completion)
        except asyncio.CancelledError:
            self.summary.cancelled += 1
            self._reserved -= worst
            self._slots.release()
            self._settled.set()
            self._out_write_cancelled(row)
            self._check_idle()
            raise
        self._pending.append((finished, worst))
        self._wake.set()

    # committing -----------------------------------------------------------------------------

    async def _commit_loop(self) -> None:
        """Commit finished rows in groups, then write them out and count them."""
        assert self._ledger is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if batch:
                await asyncio.shield(asyncio.to_thread(
                    self._ledger.record, [f for f, _ in batch]))
                for finished, worst in batch:
                    self._count(finished, worst)
                self._report()
            if self._closing and not self._pending:
                return

    def _count(self, finished: Finished, worst: float) -> None:
        assert self._out is not None
        self._out.write_line(finished.output)
        s = self.summary
        if finished.ok:
            s.succeeded += 1
            if finished.cost is None:
                s.cost_unreported += 1
        else:
            s.failed += 1
            self._stop_on_account_error(finished)
        s.cost += finished.cost or 0.0
        s.job_cost += finished.cost or 0.0
        s.tokens += finished.tokens or 0
        self._spent += _charged_at_most(finished, worst)
        self._reserved -= worst
        self._slots.release()
        self._settled.set()
        self._check_idle()

    def _stop_on_account_error(self, finished: Finished) -> None:
        """A bad key (401) or an empty balance (402) fails every row after it: stop sending
        instead of turning the rest of the input into error rows."""
        what = _ACCOUNT_ERRORS.get(finished.status or 0)
        if what is not None:
            self._stop("account", f"{what} on row {finished.id!r}: no more rows are sent; "
                                  "fix it, then rerun with --retry-failed")

    @property
    def _in_flight(self) -> int:
        """Rows sent and not yet settled (committed or cancelled)."""
        s = self.summary
        return s.sent - s.succeeded - s.failed - s.cancelled

    def _check_idle(self) -> None:
        if self._in_flight == 0:
            self._reserved = 0.0  # no float residue survives an idle moment
            self._idle.set()

    # writing rows that are not sent ---------------------------------------------------------

    def _write_malformed(self, item: RowError) -> None:
        assert self._out is not None
        self._out.write_line(error_line(item.id, "invalid_row", item.message, None,
                                        line=item.line))
        self.summary.malformed += 1

    def _write_not_run(self, row: BatchRow) -> None:
        assert self._out is not None
        self._out.write_line(error_line(row.id, "not_run", self.summary.stop_reason or
                                        "not run", None))
        self.summary.not_run += 1

    def _out_write_cancelled(self, row: BatchRow) -> None:
        if self._out is not None and not self._out._file.closed:
            self._out.write_line(error_line(row.id, "not_run", "cancelled in flight", None))

    def _report(self) -> None:
        if self.on_progress is not None:
            self.summary.elapsed = time.monotonic() - self.summary.started
            self.on_progress(self.summary)

    # the client -----------------------------------------------------------------------------

    async def _open_client(self) -> Callable[[], Any]:
        """Pick how a row is sent; returns what closes what this run opened."""
        from .. import AsyncNanoGPT

        client = self._client_arg
        if client is None:
            client = AsyncNanoGPT(max_concurrency=self.concurrency)
            owned: AsyncNanoGPT | None = client
        else:
            owned = None
        if isinstance(client, AsyncNanoGPT):
            async_client = client

            async def send_async(body: dict[str, Any]) -> ChatCompletion:
                model, messages, params, extra = _split_body(body)
                completion: ChatCompletion = await async_client.chat.completions.create(
                    model=model, messages=messages, extra_body=extra or None, **params)
                return completion

            self._send = send_async
            self._models = async_client.models.list

            async def close_async() -> None:
                if owned is not None:
                    await owned.close()

            return close_async
        return self._use_sync_client(client)

    def _use_sync_client(self, client: NanoGPT) -> Callable[[], Any]:
        pool = ThreadPoolExecutor(max_workers=self.concurrency,
                                  thread_name_prefix="nanogpt-batch")

        async def send_sync(body: dict[str, Any]) -> ChatCompletion:
            model, messages, params, extra = _split_body(body)
            call = functools.partial(client.chat.completions.create, model=model,
                                     messages=messages, extra_body=extra or None, **params)
            completion: ChatCompletion = await asyncio.get_running_loop().run_in_executor(
                pool, call)
            return completion

        async def models_sync() -> list[Model]:
            return await asyncio.to_thread(client.models.list)

        self._send = send_sync
        self._models = models_sync

        async def close_sync() -> None:
            pool.shutdown(wait=False, cancel_futures=True)

        return close_sync

    async def _load_catalog(self) -> None:
        assert self._models is not None
        models = await self._models()
        self._catalog = {m.id: m for m in models}


def _charged_at_most(finished: Finished, worst: float) -> float:
    """What a settled row counts against the budget: its reported cost; else its worst case
    when it may have been charged (an answer without a price, or a failure with no HTTP
    status: the connection broke or timed out after the request may have reached the model);
    else nothing (an error status: the request was refused; or it was never sent)."""
    if finished.cost is not None:
        return finished.cost
    return worst if finished.ok or (finished.status is None and finished.sent) else 0.0


def _split_body(body: dict[str, Any]) -> tuple[str, Any, dict[str, Any], dict[str, Any]]:
    """A row's body as create() takes it: parameters the SDK knows are checked by it,
    the others go through ``extra_body`` untouched."""
    from .._contract import wire_name

    params: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in body.items():
        if key in ("model", "messages", "stream"):
            continue
        if wire_name(key) == key:
            params[key] = value
        else:
            extra[key] = value
    return body["model"], body["messages"], params, extra


def _answered(row: BatchRow, completion: ChatCompletion) -> Finished:
    usage = completion.usage
    cost = completion.cost
    finished = Finished(row.id, row.digest, True, response_line(row.id, completion.raw),
                        float(cost) if cost is not None else None,
                        usage.total_tokens if usage is not None else None)
    return finished


def _failed(row: BatchRow, exc: Exception) -> Finished:
    status = exc.status_code if isinstance(exc, APIStatusError) else None
    kind = type(exc).__name__ if isinstance(exc, NanoGPTError) else "ClientError"
    sent = not isinstance(exc, (InvalidParameterError, MissingAPIKeyError))
    return Finished(row.id, row.digest, False, error_line(row.id, kind, str(exc), status),
                    status=status, sent=sent)


def _duplicates_message(duplicates: list[tuple[str, int, int]]) -> str:
    shown = "; ".join(f"id {i!r} on lines {a} and {b}" for i, a, b in duplicates[:10])
    more = f" (and {len(duplicates) - 10} more)" if len(duplicates) > 10 else ""
    return f"duplicate ids, nothing was sent: {shown}{more}"
