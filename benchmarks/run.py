"""Benchmarks: nanogpt side by side with the openai SDK and raw transports, in one run.

    python3 -m pip install '.[bench]' && python3 benchmarks/run.py

Starts the lean loopback server (benchmarks/server.py), runs every client's workloads in a
process of its own (benchmarks/workload.py), measures cold imports and ``nanogpt --help``
startup, then prints a table, the ratios, the goals with PASS/MISS, and writes JSON
(``benchmarks/results/latest.json`` unless ``--out`` says otherwise). ``--quick`` runs tiny
counts (a smoke test; its figures mean nothing). Clients whose library is not installed are
skipped.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CLIENTS = {
    "nanogpt-sync": "nanogpt", "nanogpt-async": "nanogpt", "openai-sync": "openai",
    "openai-async": "openai", "urllib3-raw": "urllib3", "httpx-raw": "httpx",
    "aiohttp-raw": "aiohttp",
}
IMPORTS = {"nanogpt": "import nanogpt", "openai": "import openai",
           "urllib3": "import urllib3", "httpx": "import httpx", "aiohttp": "import aiohttp"}


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def start_server() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, str(HERE / "server.py"), "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit(f"benchmark server did not start: {line!r}")
    return proc, int(line.split()[1])


def run_client(name: str, port: int, quick: bool, memory: bool) -> dict[str, Any]:
    cmd = [sys.executable, str(HERE / "workload.py"), name, "--port", str(port)]
    if quick:
        cmd.append("--quick")
    if memory:
        cmd.append("--memory")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    if out.returncode != 0:
        raise SystemExit(f"{name} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def time_command(cmd: list[str], runs: int) -> float:
    """Median wall time of a whole command, in milliseconds."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def import_ms(stmt: str, runs: int) -> float:
    """Median cold import time in a fresh interpreter (ms), measured inside it."""
    code = ("import time; t = time.perf_counter(); " + stmt +
            "; print((time.perf_counter() - t) * 1e3)")
    vals = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(runs)]
    return statistics.median(vals)


def cli_startup(runs: int) -> dict[str, float]:
    # the console script installed beside this interpreter (not a version-manager shim)
    beside = Path(sys.executable).with_name("nanogpt")
    script = str(beside) if beside.exists() else shutil.which("nanogpt")
    cmd = [script, "--help"] if script else [sys.executable, "-m", "nanogpt", "--help"]
    bare = time_command([sys.executable, "-c", "pass"], runs)
    helped = time_command(cmd, runs)
    return {"bare_interpreter_ms": bare, "nanogpt_help_ms": helped,
            "nanogpt_help_over_bare_ms": helped - bare}


def fmt(v: Any, digits: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v >= 100:
            return f"{v:,.0f}"
        return f"{v:.{digits}f}"
    return str(v)


ROWS = [
    ("sequential req/s", "seq_rps", True),
    ("req/s, 50 concurrent", "conc50_rps", True),
    ("CPU us / request", "cpu_us_per_request", False),
    ("CPU us / streamed chunk", "cpu_us_per_chunk", False),
    ("first chunk, ms (median)", "first_chunk_ms", False),
    ("cold import, ms", "import_ms", False),
]


def ratio(a: float | None, b: float | None, higher_better: bool) -> float | None:
    """How many times better ``a`` is than ``b``."""
    if not a or not b:
        return None
    return a / b if higher_better else b / a


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny counts: a smoke test")
    p.add_argument("--out", type=Path, default=HERE / "results" / "latest.json")
    p.add_argument("--clients", nargs="*", default=list(CLIENTS))
    args = p.parse_args()
    runs = 3 if args.quick else 15

    server, port = start_server()
    results: dict[str, dict[str, Any]] = {}
    skipped = []
    try:
        for name in args.clients:
            if not have(CLIENTS[name]):
                skipped.append(name)
                continue
            print(f"running {name} ...", file=sys.stderr, flush=True)
            results[name] = run_client(name, port, args.quick,
                                       memory=name.startswith("nanogpt"))
    finally:
        server.terminate()
        server.wait(10)
    imports = {lib: import_ms(stmt, runs) for lib, stmt in IMPORTS.items() if have(lib)}
    for name, r in results.items():
        r["import_ms"] = imports.get(CLIENTS[name])
    startup = cli_startup(runs)

    # the table
    names = list(results)
    width = max(len(n) for n in names) + 2
    print()
    print(f"{'':26}" + "".join(f"{n:>{width}}" for n in names))
    for label, key, _ in ROWS:
        print(f"{label:26}" + "".join(f"{fmt(results[n].get(key)):>{width}}" for n in names))
    print()

    pairs = [("nanogpt-sync", "openai-sync", "urllib3-raw"),
             ("nanogpt-async", "openai-async", "aiohttp-raw")]
    ratios: dict[str, dict[str, Any]] = {}
    for ours, theirs, raw in pairs:
        if ours not in results:
            continue
        ratios[ours] = {}
        for _label, key, higher in ROWS:
            ratios[ours][key] = {
                "vs_openai": ratio(results[ours].get(key),
                                   results.get(theirs, {}).get(key), higher),
                "vs_raw": ratio(results[ours].get(key), results.get(raw, {}).get(key), higher),
            }
        print(f"{ours}: times better than {theirs} / than {raw} (below 1: worse)")
        for label, key, _ in ROWS:
            r = ratios[ours][key]
            print(f"  {label:26} {fmt(r['vs_openai'], 2):>8}x  {fmt(r['vs_raw'], 2):>8}x")
        print()

    def get(client: str, key: str) -> float | None:
        v = results.get(client, {}).get(key)
        return float(v) if v is not None else None

    def rel(client: str, key: str, ref: str, higher: bool) -> float | None:
        return ratio(get(client, key), get(ref, key), higher)

    chunk_vs_raw = rel("nanogpt-async", "cpu_us_per_chunk", "aiohttp-raw", False)
    sync_chunk_vs_raw = rel("nanogpt-sync", "cpu_us_per_chunk", "urllib3-raw", False)
    a_lat, r_lat = get("nanogpt-async", "first_chunk_ms"), get("aiohttp-raw", "first_chunk_ms")
    s_lat, u_lat = get("nanogpt-sync", "first_chunk_ms"), get("urllib3-raw", "first_chunk_ms")
    mem = [get(n, "memory_growth_mb") for n in ("nanogpt-sync", "nanogpt-async")]
    imp_n, imp_o = imports.get("nanogpt"), imports.get("openai")
    goals = [
        ("CPU per streamed chunk >= 12x lower than openai (async, sync)",
         [rel("nanogpt-async", "cpu_us_per_chunk", "openai-async", False),
          rel("nanogpt-sync", "cpu_us_per_chunk", "openai-sync", False)], lambda v: v >= 12),
        ("CPU per streamed chunk within 1.5x of raw split + json (async, sync)",
         [1 / chunk_vs_raw if chunk_vs_raw else None,
          1 / sync_chunk_vs_raw if sync_chunk_vs_raw else None], lambda v: v <= 1.5),
        ("req/s at 50 concurrent (async) >= 8x openai",
         [rel("nanogpt-async", "conc50_rps", "openai-async", True)], lambda v: v >= 8),
        ("CPU per request, async, >= 5x lower than openai",
         [rel("nanogpt-async", "cpu_us_per_request", "openai-async", False)],
         lambda v: v >= 5),
        ("CPU per request, sync, >= 4x lower than openai",
         [rel("nanogpt-sync", "cpu_us_per_request", "openai-sync", False)], lambda v: v >= 4),
        ("import nanogpt <= 1/5 of import openai (ratio)",
         [imp_n / imp_o if imp_n and imp_o else None], lambda v: v <= 0.2),
        ("nanogpt --help <= 150 ms above a bare interpreter (ms)",
         [startup["nanogpt_help_over_bare_ms"]], lambda v: v <= 150),
        ("memory growth, 10k requests + 1k streams < 5 MB (sync, async)", mem,
         lambda v: v < 5),
        ("added latency to the first chunk < 1 ms (async, sync; ms)",
         [a_lat - r_lat if a_lat is not None and r_lat is not None else None,
          s_lat - u_lat if s_lat is not None and u_lat is not None else None],
         lambda v: v < 1),
    ]
    print("cold import (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in imports.items()))
    print(f"startup (ms): bare interpreter {startup['bare_interpreter_ms']:.1f}, "
          f"nanogpt --help {startup['nanogpt_help_ms']:.1f}")
    print()
    goal_out = []
    for label, values, ok in goals:
        known = [v for v in values if v is not None]
        status = "n/a" if not known else ("PASS" if all(ok(v) for v in known) else "MISS")
        shown = ", ".join(fmt(v, 2) for v in values)
        print(f"  [{status:4}] {label}: {shown}")
        goal_out.append({"goal": label, "values": values, "status": status})
    if args.quick:
        print("\n(--quick: tiny counts, the figures above mean nothing)")
    if skipped:
        print(f"\nskipped (library not installed): {', '.join(skipped)}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
        "quick": args.quick, "results": results, "ratios": ratios, "imports_ms": imports,
        "startup": startup, "goals": goal_out, "skipped": skipped,
    }, indent=2))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
