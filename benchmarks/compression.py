"""Benchmark of compressed request bodies (``compress_requests``) on a 1 MB conversation.

    python3 benchmarks/compression.py            # the figures (about a minute)
    python3 benchmarks/compression.py --quick    # tiny counts: a smoke test, figures mean nothing

Sends the same chat request many times to the lean loopback server (benchmarks/server.py, in
its own process, which counts the bytes it receives) with nanogpt's clients at several
thresholds, and with the ``openai`` SDK (which never compresses) beside them when it is
installed. For each: bytes on the wire per request (heads included), client CPU per request
(this process: the server runs in another), wall time per request over loopback, and what the
upload alone would take on a 20 and a 100 Mbit/s uplink, with ratios to the ``openai`` SDK.

Loopback moves a megabyte in well under a millisecond, so there compressing only costs (its
CPU shows in the wall time); the upload columns show what it buys on a real network, where the
body must be uploaded before the model starts. A second table does the same for a small
request (4 KB), which the default threshold leaves plain. The conversation is the package's
own source and README, cut into turns: code and prose, as agents and long chats send.
Prints the tables and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import sys
import time
import zlib
from pathlib import Path
from typing import Any

from run import start_server  # the benchmark server, started as run.py starts it

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
KEY = "sk-nano-bench-000000000000000000000000"
MODEL = "bench/model"
UPLINKS_MBIT = (20, 100)


def conversation(size: int) -> list[dict[str, str]]:
    """Turns of about 3 KB from the package's source and README, until the JSON body has
    about ``size`` bytes."""
    paths = [*sorted((ROOT / "src" / "nanogpt").rglob("*.py")), ROOT / "README.md"]
    text = "\n".join(p.read_text(encoding="utf-8") for p in paths)
    turns: list[dict[str, str]] = []
    used = 0
    while used < size:
        start = (len(turns) * 2999) % max(1, len(text) - 3000)
        piece = text[start:start + min(3000, size - used)]
        turns.append({"role": "user" if len(turns) % 2 == 0 else "assistant", "content": piece})
        used += len(json.dumps(turns[-1]))
    return turns


def received(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/bench/received")
        return int(json.loads(conn.getresponse().read())["bytes"])
    finally:
        conn.close()


def measure(port: int, n: int, send: Any) -> dict[str, float]:
    """``send()`` once to warm up, then ``n`` times: per-request wire bytes, CPU, wall."""
    send()
    before = received(port)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        send()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    wire = (received(port) - before - _probe_bytes()) / n
    out = {"wire_bytes": wire, "cpu_ms": cpu / n * 1e3, "wall_ms": wall / n * 1e3}
    for mbit in UPLINKS_MBIT:
        out[f"upload_ms_{mbit}mbit"] = wire * 8 / (mbit * 1e6) * 1e3
    return out


def _probe_bytes() -> int:
    """The bytes of one ``GET /bench/received`` request (the one after the runs counts)."""
    return len(b"GET /bench/received HTTP/1.1\r\nHost: 127.0.0.1:00000\r\n"
               b"Accept-Encoding: identity\r\n\r\n")


def nanogpt_sync(base: str, messages: Any, threshold: int | None) -> tuple[Any, Any]:
    import nanogpt

    c = nanogpt.NanoGPT(KEY, base_url=base, compress_requests=threshold, max_retries=0)

    def send() -> None:
        assert c.chat.completions.create(model=MODEL, messages=messages).choices
    return send, c.close


def nanogpt_async(base: str, messages: Any, threshold: int | None) -> tuple[Any, Any]:
    import nanogpt

    loop = asyncio.new_event_loop()
    c = nanogpt.AsyncNanoGPT(KEY, base_url=base, compress_requests=threshold, max_retries=0)

    def send() -> None:
        r = loop.run_until_complete(c.chat.completions.create(model=MODEL, messages=messages))
        assert r.choices

    def close() -> None:
        loop.run_until_complete(c.close())
        loop.close()
    return send, close


def openai_sync(base: str, messages: Any, threshold: int | None) -> tuple[Any, Any]:
    import openai

    c = openai.OpenAI(api_key=KEY, base_url=base, max_retries=0)

    def send() -> None:
        assert c.chat.completions.create(model=MODEL, messages=messages).choices
    return send, c.close


def have_openai() -> bool:
    import importlib.util

    return importlib.util.find_spec("openai") is not None


def run_table(port: int, messages: Any, n: int, rows: list[tuple[str, Any, int | None]]
              ) -> dict[str, dict[str, float]]:
    base = f"http://127.0.0.1:{port}/api/v1"
    results: dict[str, dict[str, float]] = {}
    for name, make, threshold in rows:
        send, close = make(base, messages, threshold)
        try:
            results[name] = measure(port, n, send)
        finally:
            close()
    return results


def gzip_levels(body: bytes, runs: int) -> dict[str, dict[str, float]]:
    """Size and CPU of compressing ``body`` at a few gzip levels (the client uses level 1)."""
    out = {}
    for level in (1, 6, 9):
        t = time.process_time()
        for _ in range(runs):
            z = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            packed = z.compress(body) + z.flush()
        out[f"level {level}"] = {"bytes": len(packed), "ratio": len(body) / len(packed),
                                 "cpu_ms": (time.process_time() - t) / runs * 1e3}
    return out


def print_table(title: str, results: dict[str, dict[str, float]]) -> None:
    ref = results.get("openai-sync") or next(iter(results.values()))
    ref_name = "openai" if "openai-sync" in results else next(iter(results))
    print(f"\n{title} (ratios: / {ref_name})")
    head = (f"{'client':<32}{'wire KB':>9}{'x':>6}{'CPU ms':>9}{'x':>6}{'wall ms':>9}{'x':>6}"
            + "".join(f"{f'up@{m}M ms':>12}" for m in UPLINKS_MBIT))
    print(head)
    print("-" * len(head))
    for name, r in results.items():
        print(f"{name:<32}{r['wire_bytes'] / 1024:>9.1f}{r['wire_bytes'] / ref['wire_bytes']:>6.2f}"
              f"{r['cpu_ms']:>9.2f}{r['cpu_ms'] / ref['cpu_ms']:>6.2f}"
              f"{r['wall_ms']:>9.2f}{r['wall_ms'] / ref['wall_ms']:>6.2f}"
              + "".join(f"{r[f'upload_ms_{m}mbit']:>12.1f}" for m in UPLINKS_MBIT))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny counts (a smoke test)")
    p.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = p.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from nanogpt._core.compression import DEFAULT_THRESHOLD

    n_big, n_small = (2, 5) if args.quick else (30, 300)
    big = conversation(1_000_000)
    small = conversation(4_000)
    body = json.dumps({"model": MODEL, "messages": big}).encode()
    other = [("openai-sync", openai_sync, None)] if have_openai() else []
    kib = DEFAULT_THRESHOLD // 1024
    big_rows = [
        *other,
        ("nanogpt-sync off", nanogpt_sync, None),
        (f"nanogpt-sync {kib} KiB (default)", nanogpt_sync, DEFAULT_THRESHOLD),
        ("nanogpt-sync 2 MiB (above body)", nanogpt_sync, 2 << 20),
        ("nanogpt-async off", nanogpt_async, None),
        (f"nanogpt-async {kib} KiB (default)", nanogpt_async, DEFAULT_THRESHOLD),
    ]
    small_rows = [
        *other,
        (f"nanogpt-sync {kib} KiB (default)", nanogpt_sync, DEFAULT_THRESHOLD),
        ("nanogpt-sync 0 (always)", nanogpt_sync, 0),
    ]
    proc, port = start_server()
    try:
        figures = {
            "body_bytes": {"conversation": len(body),
                           "small": len(json.dumps({"model": MODEL, "messages": small}))},
            "gzip_levels": gzip_levels(body, 1 if args.quick else 10),
            "conversation": run_table(port, big, n_big, big_rows),
            "small": run_table(port, small, n_small, small_rows),
        }
    finally:
        proc.kill()
        proc.wait()
    print(f"conversation body: {figures['body_bytes']['conversation']:,} bytes of JSON; "
          f"small body: {figures['body_bytes']['small']:,} bytes")
    print("gzip of the conversation: " + "; ".join(
        f"{k}: {v['ratio']:.2f}:1 in {v['cpu_ms']:.1f} ms"
        for k, v in figures["gzip_levels"].items()))
    print_table(f"1 MB conversation, {n_big} requests each", figures["conversation"])
    print_table(f"small chat request, {n_small} requests each", figures["small"])
    print("\nup@N M ms: the upload of the wire bytes alone at N Mbit/s (no TCP ramp-up, no "
          "latency): what compressing buys on a real network; loopback wall time shows its "
          "cost.")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
