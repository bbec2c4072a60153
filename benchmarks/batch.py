"""Benchmarks of live batch runs (``nanogpt.batch``) against the emulator on loopback.

    python3 benchmarks/batch.py            # the full figures (a few minutes)
    python3 benchmarks/batch.py --quick    # tiny counts: a smoke test, its figures mean nothing

Measures, each run in a child process of its own (so that CPU and peak RSS are the run's):

- throughput: rows/s at concurrency 50 against an emulator model that answers in 200 ms
  (an ``X-Emulator-Fault`` delay), next to the ceiling of 50 / 0.2 s = 250 rows/s;
- client CPU per row, with the same requests sent by a bare ``AsyncNanoGPT`` loop (no
  ledger, no output) for comparison: the batch machinery's share is the difference;
- peak RSS of a 100,000-row run (answers without delay);
- the time to resume that finished 100,000-row job (it sends nothing).

The emulator runs in its own process too. Prints a table and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MODEL = "openai/gpt-5-mini"
KEY = "sk-nano-bench"
DELAY = 0.2
CONCURRENCY = 50
CEILING = CONCURRENCY / DELAY


# the child: one measured run ---------------------------------------------------------------


def child(args: argparse.Namespace) -> int:
    from nanogpt import AsyncNanoGPT

    headers = {"X-Emulator-Fault": json.dumps({"delay": args.delay})} if args.delay else None

    async def main() -> dict[str, Any]:
        async with AsyncNanoGPT(KEY, base_url=args.base_url, max_concurrency=args.concurrency,
                                default_headers=headers) as client:
            cpu, wall = time.process_time(), time.perf_counter()
            if args.mode == "sdk":
                sent = await bare_loop(client, Path(args.input), args.concurrency)
                result: dict[str, Any] = {"sent": sent}
            else:
                from nanogpt.batch import arun

                summary = await arun(args.input, args.output, client=client, model=MODEL,
                                     concurrency=args.concurrency)
                result = summary.to_dict()
            result["cpu_s"] = time.process_time() - cpu
            result["wall_s"] = time.perf_counter() - wall
            return result

    print(json.dumps(asyncio.run(main())))
    return 0


async def bare_loop(client: Any, path: Path, concurrency: int) -> int:
    """The same requests with nothing around them: the SDK's own cost per request."""
    slots = asyncio.Semaphore(concurrency)

    async def one(prompt: str) -> None:
        async with slots:
            await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": prompt}], max_tokens=50)

    prompts = [json.loads(line)["prompt"] for line in path.read_text().splitlines()]
    await asyncio.gather(*(one(p) for p in prompts))
    return len(prompts)


# the parent --------------------------------------------------------------------------------


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "nanogpt.emulator", "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "base URL: " not in line:
        proc.kill()
        raise SystemExit(f"emulator did not start: {line!r}")
    return proc, line.split("base URL: ", 1)[1].strip()


def write_input(path: Path, rows: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for i in range(rows):
            f.write(json.dumps({"id": f"row-{i}", "prompt": f"question number {i}",
                                "max_tokens": 50}) + "\n")


def measured(base_url: str, mode: str, inp: Path, out: Path, *, delay: float,
             concurrency: int = CONCURRENCY) -> dict[str, Any]:
    """Run one child and return its result with its peak RSS (MB)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--base-url",
           base_url, "--input", str(inp), "--output", str(out), "--delay", str(delay),
           "--concurrency", str(concurrency)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed ({mode}): exit {proc.returncode}")
    result: dict[str, Any] = json.loads(stdout)
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # KiB on Linux
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny counts (a smoke test)")
    p.add_argument("--out", type=Path, help="write the figures as JSON here")
    p.add_argument("--child", choices=["batch", "sdk"], help=argparse.SUPPRESS)
    p.add_argument("--base-url", help=argparse.SUPPRESS)
    p.add_argument("--input", help=argparse.SUPPRESS)
    p.add_argument("--output", help=argparse.SUPPRESS)
    p.add_argument("--delay", type=float, default=0.0, help=argparse.SUPPRESS)
    p.add_argument("--concurrency", type=int, default=CONCURRENCY, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        args.mode = args.child
        return child(args)
    throughput_rows, big_rows = (100, 1_000) if args.quick else (2_500, 100_000)
    emulator, base_url = start_emulator()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            figures = run_all(base_url, Path(tmp), throughput_rows, big_rows)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    figures["quick"] = args.quick
    print_table(figures)
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def run_all(base_url: str, tmp: Path, throughput_rows: int, big_rows: int) -> dict[str, Any]:
    small = tmp / "small.jsonl"
    write_input(small, throughput_rows)
    live = measured(base_url, "batch", small, tmp / "small-out.jsonl", delay=DELAY)
    bare = measured(base_url, "sdk", small, tmp / "unused", delay=DELAY)
    big = tmp / "big.jsonl"
    write_input(big, big_rows)
    big_run = measured(base_url, "batch", big, tmp / "big-out.jsonl", delay=0.0)
    resume = measured(base_url, "batch", big, tmp / "big-out.jsonl", delay=0.0)
    rows_per_s = throughput_rows / live["elapsed"]
    return {
        "throughput_rows": throughput_rows,
        "rows_per_s": rows_per_s,
        "ceiling_rows_per_s": CEILING,
        "share_of_ceiling": rows_per_s / CEILING,
        "batch_cpu_us_per_row": 1e6 * live["cpu_s"] / throughput_rows,
        "sdk_cpu_us_per_request": 1e6 * bare["cpu_s"] / bare["sent"],
        "big_rows": big_rows,
        "big_run_s": big_run["elapsed"],
        "big_run_rows_per_s": big_rows / big_run["elapsed"],
        "big_run_peak_rss_mb": big_run["peak_rss_mb"],
        "big_run_all_answered": big_run["succeeded"] == big_rows,
        "resume_s": resume["elapsed"],
        "resume_sent": resume["sent"],
        "resume_kept": resume["kept"],
    }


def print_table(f: dict[str, Any]) -> None:
    rows = [
        (f"rows/s, concurrency {CONCURRENCY}, {DELAY * 1000:.0f} ms answers "
         f"({f['throughput_rows']} rows)",
         f"{f['rows_per_s']:.1f} ({100 * f['share_of_ceiling']:.0f}% of {CEILING:.0f})"),
        ("client CPU per row, batch run", f"{f['batch_cpu_us_per_row']:.0f} us"),
        ("client CPU per request, bare AsyncNanoGPT loop", f"{f['sdk_cpu_us_per_request']:.0f} us"),
        (f"peak RSS, {f['big_rows']:,}-row run", f"{f['big_run_peak_rss_mb']:.1f} MB"),
        (f"{f['big_rows']:,}-row run (no delay)",
         f"{f['big_run_s']:.1f} s, {f['big_run_rows_per_s']:.0f} rows/s"),
        (f"resume of the finished {f['big_rows']:,}-row job",
         f"{f['resume_s']:.2f} s, {f['resume_sent']} sent, {f['resume_kept']:,} kept"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if f.get("quick"):
        print("(--quick: tiny counts, the figures mean nothing)")


if __name__ == "__main__":
    raise SystemExit(main())
