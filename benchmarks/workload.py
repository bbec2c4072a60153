"""One client's workloads, run in a process of its own; prints one JSON object.

``python benchmarks/workload.py CLIENT --port N [--quick] [--memory]``

Clients: nanogpt-sync, nanogpt-async, openai-sync, openai-async, urllib3-raw, httpx-raw,
aiohttp-raw. The raw ones decode the way a hand-written client would: ``json.loads`` on the
body, and for streams plain line splitting plus ``json.loads`` per ``data:`` line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

MODEL = "bench/model"
MESSAGES = [{"role": "user", "content": "Hello"}]
BODY = json.dumps({"model": MODEL, "messages": MESSAGES}).encode()
STREAM_BODY = json.dumps({"model": MODEL, "messages": MESSAGES, "stream": True}).encode()
HEADERS = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}
KEY = "sk-bench"


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class RawLines:
    def __init__(self) -> None:
        self.buf = b""
        self.n = 0

    def feed(self, piece: bytes) -> bool:
        """Returns True once a chunk has been seen."""
        self.buf += piece
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            if line.startswith(b"data: ") and line != b"data: [DONE]":
                json.loads(line[6:])
                self.n += 1
        return self.n > 0


# sync clients ------------------------------------------------------------------------------

class NanogptSync:
    def __init__(self, base: str) -> None:
        import nanogpt

        self.c = nanogpt.NanoGPT(KEY, base_url=base + "/api/v1")

    def call(self) -> None:
        r = self.c.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert r.choices[0].message.content

    def stream(self, n: int, first: bool = False) -> int:
        s = self.c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True,
                                           extra_headers={"X-Bench-Chunks": str(n)})
        count = 0
        for _chunk in s:
            count += 1
            if first:
                s.close()
                break
        return count

    def close(self) -> None:
        self.c.close()


class OpenAISync:
    def __init__(self, base: str) -> None:
        import openai

        self.c = openai.OpenAI(api_key=KEY, base_url=base + "/api/v1")

    def call(self) -> None:
        r = self.c.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore
        assert r.choices[0].message.content

    def stream(self, n: int, first: bool = False) -> int:
        s = self.c.chat.completions.create(model=MODEL, messages=MESSAGES,  # type: ignore
                                           stream=True,
                                           extra_headers={"X-Bench-Chunks": str(n)})
        count = 0
        for _chunk in s:
            count += 1
            if first:
                s.close()
                break
        return count

    def close(self) -> None:
        self.c.close()


class Urllib3Raw:
    def __init__(self, base: str) -> None:
        import urllib3

        self.pool = urllib3.PoolManager(maxsize=64)
        self.url = base + "/api/v1/chat/completions"

    def call(self) -> None:
        r = self.pool.request("POST", self.url, body=BODY, headers=HEADERS)
        assert json.loads(r.data)["choices"][0]["message"]["content"]

    def stream(self, n: int, first: bool = False) -> int:
        r = self.pool.request("POST", self.url, body=STREAM_BODY,
                              headers={**HEADERS, "X-Bench-Chunks": str(n),
                                       "Accept": "text/event-stream"},
                              preload_content=False)
        lines = RawLines()
        while True:
            piece = r.read1(65536)
            if not piece:
                break
            if lines.feed(piece) and first:
                r.close()
                r.release_conn()
                return lines.n
        r.release_conn()
        return lines.n

    def close(self) -> None:
        self.pool.clear()


class HttpxRaw:
    def __init__(self, base: str) -> None:
        import httpx

        self.c = httpx.Client(limits=httpx.Limits(max_connections=100))
        self.url = base + "/api/v1/chat/completions"

    def call(self) -> None:
        r = self.c.post(self.url, content=BODY, headers=HEADERS)
        assert json.loads(r.content)["choices"][0]["message"]["content"]

    def stream(self, n: int, first: bool = False) -> int:
        with self.c.stream("POST", self.url, content=STREAM_BODY,
                           headers={**HEADERS, "X-Bench-Chunks": str(n)}) as r:
            lines = RawLines()
            for piece in r.iter_raw():
                if lines.feed(piece) and first:
                    break
            return lines.n

    def close(self) -> None:
        self.c.close()


# async clients -----------------------------------------------------------------------------

class NanogptAsync:
    limits_itself = True

    def __init__(self, base: str) -> None:
        import nanogpt

        self.c = nanogpt.AsyncNanoGPT(KEY, base_url=base + "/api/v1")

    async def call(self) -> None:
        r = await self.c.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert r.choices[0].message.content

    async def stream(self, n: int, first: bool = False) -> int:
        s = await self.c.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True,
                                                 extra_headers={"X-Bench-Chunks": str(n)})
        count = 0
        async for _chunk in s:
            count += 1
            if first:
                await s.close()
                break
        return count

    async def close(self) -> None:
        await self.c.close()


class OpenAIAsync:
    limits_itself = False

    def __init__(self, base: str) -> None:
        import openai

        self.c = openai.AsyncOpenAI(api_key=KEY, base_url=base + "/api/v1")

    async def call(self) -> None:
        r = await self.c.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore
        assert r.choices[0].message.content

    async def stream(self, n: int, first: bool = False) -> int:
        s = await self.c.chat.completions.create(model=MODEL, messages=MESSAGES,  # type: ignore
                                                 stream=True,
                                                 extra_headers={"X-Bench-Chunks": str(n)})
        count = 0
        async for _chunk in s:
            count += 1
            if first:
                await s.close()
                break
        return count

    async def close(self) -> None:
        await self.c.close()


class AiohttpRaw:
    limits_itself = False

    def __init__(self, base: str) -> None:
        self.url = base + "/api/v1/chat/completions"
        self.session: Any = None

    async def _s(self) -> Any:
        if self.session is None:
            import aiohttp

            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return self.session

    async def call(self) -> None:
        s = await self._s()
        async with s.post(self.url, data=BODY, headers=HEADERS) as r:
            assert json.loads(await r.read())["choices"][0]["message"]["content"]

    async def stream(self, n: int, first: bool = False) -> int:
        s = await self._s()
        async with s.post(self.url, data=STREAM_BODY,
                          headers={**HEADERS, "X-Bench-Chunks": str(n)}) as r:
            lines = RawLines()
            async for piece in r.content.iter_any():
                if lines.feed(piece) and first:
                    break
            return lines.n

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


SYNC = {"nanogpt-sync": NanogptSync, "openai-sync": OpenAISync, "urllib3-raw": Urllib3Raw,
        "httpx-raw": HttpxRaw}
ASYNC = {"nanogpt-async": NanogptAsync, "openai-async": OpenAIAsync, "aiohttp-raw": AiohttpRaw}


def cpu() -> float:
    return time.process_time()


def run_sync(name: str, base: str, q: dict[str, int], memory: bool) -> dict[str, Any]:
    c = SYNC[name](base)
    out: dict[str, Any] = {}
    for _ in range(q["warm"]):
        c.call()
    c.stream(20)
    # sequential
    t, p = time.perf_counter(), cpu()
    for _ in range(q["seq"]):
        c.call()
    wall, used = time.perf_counter() - t, cpu() - p
    out["seq_rps"] = q["seq"] / wall
    out["cpu_us_per_request"] = used / q["seq"] * 1e6
    # 50 concurrent, threads sharing one client
    with ThreadPoolExecutor(50) as pool:
        list(pool.map(lambda _: c.call(), range(100)))
        t = time.perf_counter()
        list(pool.map(lambda _: c.call(), range(q["conc"])))
        out["conc50_rps"] = q["conc"] / (time.perf_counter() - t)
    # CPU per streamed chunk
    best = float("inf")
    for _ in range(q["stream_reps"]):
        p = cpu()
        n = c.stream(q["chunks"])
        best = min(best, (cpu() - p) / n * 1e6)
    out["cpu_us_per_chunk"] = best
    # latency to the first chunk
    lat = []
    for _ in range(q["ttfc"]):
        t = time.perf_counter()
        c.stream(20, first=True)
        lat.append(time.perf_counter() - t)
    out["first_chunk_ms"] = statistics.median(lat) * 1e3
    if memory:
        out.update(memory_sync(c, q))
    c.close()
    return out


def memory_sync(c: Any, q: dict[str, int]) -> dict[str, Any]:
    for _ in range(500):
        c.call()
    for _ in range(50):
        c.stream(20)
    gc.collect()
    before = rss_bytes()
    for _ in range(q["mem_requests"]):
        c.call()
    for _ in range(q["mem_streams"]):
        c.stream(20)
    gc.collect()
    return {"memory_growth_mb": (rss_bytes() - before) / 1e6,
            "memory_workload": f"{q['mem_requests']} requests + {q['mem_streams']} streams"}


async def run_async(name: str, base: str, q: dict[str, int], memory: bool) -> dict[str, Any]:
    c = ASYNC[name](base)
    out: dict[str, Any] = {}
    for _ in range(q["warm"]):
        await c.call()
    await c.stream(20)
    t, p = time.perf_counter(), cpu()
    for _ in range(q["seq"]):
        await c.call()
    wall, used = time.perf_counter() - t, cpu() - p
    out["seq_rps"] = q["seq"] / wall
    out["cpu_us_per_request"] = used / q["seq"] * 1e6

    sem = asyncio.Semaphore(50)

    async def limited() -> None:
        if c.limits_itself:
            await c.call()
        else:
            async with sem:
                await c.call()

    await asyncio.gather(*(limited() for _ in range(100)))
    t, p = time.perf_counter(), cpu()
    await asyncio.gather(*(limited() for _ in range(q["conc"])))
    wall, used = time.perf_counter() - t, cpu() - p
    out["conc50_rps"] = q["conc"] / wall
    out["cpu_us_per_request_conc50"] = used / q["conc"] * 1e6

    best = float("inf")
    for _ in range(q["stream_reps"]):
        p = cpu()
        n = await c.stream(q["chunks"])
        best = min(best, (cpu() - p) / n * 1e6)
    out["cpu_us_per_chunk"] = best
    lat = []
    for _ in range(q["ttfc"]):
        t = time.perf_counter()
        await c.stream(20, first=True)
        lat.append(time.perf_counter() - t)
    out["first_chunk_ms"] = statistics.median(lat) * 1e3
    if memory:
        for _ in range(500):
            await c.call()
        gc.collect()
        before = rss_bytes()
        for _ in range(q["mem_requests"]):
            await c.call()
        for _ in range(q["mem_streams"]):
            await c.stream(20)
        gc.collect()
        out["memory_growth_mb"] = (rss_bytes() - before) / 1e6
        out["memory_workload"] = f"{q['mem_requests']} requests + {q['mem_streams']} streams"
    await c.close()
    return out


FULL = {"warm": 200, "seq": 2000, "conc": 3000, "chunks": 20000, "stream_reps": 3,
        "ttfc": 300, "mem_requests": 10000, "mem_streams": 1000}
QUICK = {"warm": 5, "seq": 20, "conc": 60, "chunks": 500, "stream_reps": 1, "ttfc": 5,
         "mem_requests": 50, "mem_streams": 5}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("client", choices=[*SYNC, *ASYNC])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--memory", action="store_true")
    args = p.parse_args()
    q = QUICK if args.quick else FULL
    base = f"http://127.0.0.1:{args.port}"
    threading.current_thread().name = args.client
    if args.client in SYNC:
        out = run_sync(args.client, base, q, args.memory)
    else:
        out = asyncio.run(run_async(args.client, base, q, args.memory))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
