"""Benchmark: embed 10,000 short inputs against the emulator, nanogpt next to the openai SDK.

    python3 benchmarks/embeddings.py            # the figures (about a minute)
    python3 benchmarks/embeddings.py --quick    # tiny counts: a smoke test, figures mean nothing

The emulator runs in a process of its own (``python -m nanogpt.emulator``); each side runs in
a child process of its own, so that the CPU measured (``time.process_time``: every thread of
the child) is that side's alone. Each side does the same job: the same 10,000 inputs
(``"document number i: ..."``, a few words each) to ``text-embedding-3-small`` (1536
dimensions), the vectors back as lists of floats. Every side asks for base64 on the wire and
gets floats back (the default of both SDKs). One whole job first warms up (imports,
connections), then ``--reps`` jobs are measured; the medians are printed.

What each side does:

- ``nanogpt-sync``: ONE call, ``client.embeddings.create(model=..., input=inputs)``; it splits
  the inputs into requests of 2048 and sends them at once from threads (max_concurrency 50),
  joined in order.
- ``nanogpt-async``: the same ONE call on ``AsyncNanoGPT`` (the requests as tasks).
- ``openai-sync``: the ``openai`` SDK takes at most 2048 inputs per call, so its user chunks:
  the same chunks of 2048, one ``client.embeddings.create`` after another (the plain loop).
- ``openai-sync-threads``: the same chunks at once from a ``ThreadPoolExecutor`` (one thread
  per chunk), what a user who wants our concurrency writes by hand.
- ``openai-async``: the same chunks at once with ``asyncio.gather`` on ``AsyncOpenAI``.

Each side's answer is checked: as many vectors as inputs, in order, of the model's dimension,
and the same numbers as every other side's. Prints the table and the ratios (wall and CPU,
ours against each openai side; above 1: ours is better) and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from batch import start_emulator  # the emulator in its own process, as batch.py starts it

HERE = Path(__file__).resolve().parent
MODEL = "text-embedding-3-small"
DIMS = 1536
KEY = "sk-nano-bench"
CHUNK = 2048  # NanoGPT's documented limit of inputs per request
SIDES = ("nanogpt-sync", "nanogpt-async", "openai-sync", "openai-sync-threads", "openai-async")
PAIRS = (("nanogpt-sync", "openai-sync"), ("nanogpt-sync", "openai-sync-threads"),
         ("nanogpt-async", "openai-async"))


def inputs(count: int) -> list[str]:
    return [f"document number {i}: a short text to embed" for i in range(count)]


def chunks(texts: list[str]) -> list[list[str]]:
    return [texts[i:i + CHUNK] for i in range(0, len(texts), CHUNK)]


# the child: one side, measured -------------------------------------------------------------

def job_of(side: str, base_url: str) -> tuple[Any, Any]:
    """``(run, close)``: ``run(texts)`` embeds them and returns the vectors in order."""
    if side.startswith("nanogpt"):
        from nanogpt import AsyncNanoGPT, NanoGPT

        if side == "nanogpt-sync":
            client = NanoGPT(KEY, base_url=base_url, allow_insecure_http=True)

            def run_sync(texts: list[str]) -> list[list[float]]:
                return client.embeddings.create(model=MODEL, input=texts).embeddings
            return run_sync, client.close
        aclient = AsyncNanoGPT(KEY, base_url=base_url, allow_insecure_http=True)

        async def run_async(texts: list[str]) -> list[list[float]]:
            return (await aclient.embeddings.create(model=MODEL, input=texts)).embeddings
        return run_async, aclient.close
    import openai

    if side == "openai-async":
        oaclient = openai.AsyncOpenAI(api_key=KEY, base_url=base_url, max_retries=0)

        async def run_oa(texts: list[str]) -> list[list[float]]:
            answers = await asyncio.gather(*(oaclient.embeddings.create(model=MODEL, input=c)
                                             for c in chunks(texts)))
            return [e.embedding for a in answers for e in a.data]
        return run_oa, oaclient.close
    oclient = openai.OpenAI(api_key=KEY, base_url=base_url, max_retries=0)

    def one(chunk: list[str]) -> Any:
        return oclient.embeddings.create(model=MODEL, input=chunk)

    if side == "openai-sync":
        def run_o(texts: list[str]) -> list[list[float]]:
            return [e.embedding for c in chunks(texts) for e in one(c).data]
        return run_o, oclient.close
    from concurrent.futures import ThreadPoolExecutor

    def run_ot(texts: list[str]) -> list[list[float]]:
        parts = chunks(texts)
        with ThreadPoolExecutor(len(parts)) as pool:
            return [e.embedding for a in pool.map(one, parts) for e in a.data]
    return run_ot, oclient.close


def digest(vectors: list[list[float]]) -> str:
    """A fingerprint of the vectors (every 97th, whole), to compare the sides' answers."""
    h = hashlib.sha256()
    for v in vectors[::97]:
        h.update(json.dumps(v).encode())
    return h.hexdigest()[:16]


def child(side: str, base_url: str, count: int, reps: int) -> dict[str, Any]:
    run, close = job_of(side, base_url)
    texts = inputs(count)
    is_async = asyncio.iscoroutinefunction(run)

    async def main() -> dict[str, Any]:
        walls, cpus = [], []
        vectors: list[list[float]] = []
        for rep in range(reps + 1):  # the first is the warm-up
            cpu, wall = time.process_time(), time.perf_counter()
            vectors = await run(texts) if is_async else run(texts)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if rep:
                walls.append(wall)
                cpus.append(cpu)
            assert len(vectors) == count and all(len(v) == DIMS for v in vectors), side
        closed = close()
        if asyncio.iscoroutine(closed):
            await closed
        return {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus),
                "walls": walls, "cpus": cpus, "digest": digest(vectors)}

    return asyncio.run(main())


# the parent -------------------------------------------------------------------------------

def measure(side: str, base_url: str, count: int, reps: int) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", side, "--base-url",
           base_url, "--count", str(count), "--reps", str(reps)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    if out.returncode != 0:
        raise SystemExit(f"{side} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def have_openai() -> bool:
    import importlib.util

    return importlib.util.find_spec("openai") is not None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny counts (a smoke test)")
    p.add_argument("--count", type=int, help="inputs per job (default 10,000)")
    p.add_argument("--reps", type=int, help="measured jobs per side (default 5)")
    p.add_argument("--out", type=Path, help="write the figures as JSON here")
    p.add_argument("--sides", nargs="*", choices=SIDES, default=list(SIDES),
                   help="which sides to run (default: all)")
    p.add_argument("--child", choices=SIDES, help=argparse.SUPPRESS)
    p.add_argument("--base-url", help=argparse.SUPPRESS)
    args = p.parse_args()
    count = args.count or (CHUNK + 10 if args.quick else 10_000)
    reps = args.reps or (1 if args.quick else 5)
    if args.child:
        print(json.dumps(child(args.child, args.base_url, count, reps)))
        return 0
    sides = [s for s in args.sides if s.startswith("nanogpt") or have_openai()]
    emulator, base_url = start_emulator()
    try:
        results = {}
        for side in sides:
            print(f"running {side} ...", file=sys.stderr, flush=True)
            results[side] = measure(side, base_url, count, reps)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    same = len({r["digest"] for r in results.values()}) == 1
    ratios = {f"{ours} vs {theirs}": {
        "wall": results[theirs]["wall_s"] / results[ours]["wall_s"],
        "cpu": results[theirs]["cpu_s"] / results[ours]["cpu_s"]}
        for ours, theirs in PAIRS if ours in results and theirs in results}
    print_table(results, ratios, count, reps, same)
    if args.quick:
        print("(--quick: tiny counts, the figures mean nothing)")
    if args.out:
        args.out.write_text(json.dumps({"count": count, "reps": reps, "quick": args.quick,
                                        "same_vectors": same, "results": results,
                                        "ratios": ratios}, indent=2) + "\n")
    if not same:
        print("the sides' vectors differ!", file=sys.stderr)
        return 1
    return 0


def print_table(results: dict[str, Any], ratios: dict[str, Any], count: int, reps: int,
                same: bool) -> None:
    print(f"embedding {count:,} inputs ({MODEL}, {DIMS} dims, requests of {CHUNK}); "
          f"median of {reps} jobs, client process only")
    print(f"{'side':22}{'wall s':>10}{'CPU s':>10}")
    for side, r in results.items():
        print(f"{side:22}{r['wall_s']:>10.3f}{r['cpu_s']:>10.3f}")
    print()
    print("ours against theirs (times better; below 1: worse)")
    for pair, r in ratios.items():
        print(f"  {pair:42} wall {r['wall']:5.2f}x   CPU {r['cpu']:5.2f}x")
    print(f"\nevery side got the same vectors: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    raise SystemExit(main())
