"""Proof by numbers: seeded chaos (no call paid for twice, failover reaching a healthy host) and
a soak (memory, sockets and connection reuse).

Sizes fit the CI budget; make them larger with environment variables:

* ``NANOGPT_CHAOS_CALLS`` (default 1000 per client kind) and ``NANOGPT_CHAOS_SEED``;
* ``NANOGPT_SOAK_REQUESTS`` (default 10000) and ``NANOGPT_SOAK_STREAMS`` (default 1000).

Figures are printed (run with ``-s`` to see them); nothing here asserts a duration.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import nanogpt
from conftest import KEY, USER, dead_url
from nanogpt import NanoGPTError, Timeout
from nanogpt.emulator import Emulator, Fault

MODEL = "openai/gpt-5-mini"
EXPECTED = f"Hello from the NanoGPT emulator ({MODEL}). You said: hi there"
CHAOS_CALLS = int(os.environ.get("NANOGPT_CHAOS_CALLS", "1000"))
CHAOS_SEED = int(os.environ.get("NANOGPT_CHAOS_SEED", "20261126"))
SOAK_REQUESTS = int(os.environ.get("NANOGPT_SOAK_REQUESTS", "10000"))
SOAK_STREAMS = int(os.environ.get("NANOGPT_SOAK_STREAMS", "1000"))
LIMIT = 8


def report(line: str) -> None:
    print(f"\n  {line}", flush=True)


# chaos ------------------------------------------------------------------------------------

def random_fault(rng: random.Random) -> tuple[str, Fault]:
    """A fault (or a healthy answer), drawn from the kinds the service is known to show."""
    n = rng.randrange(5)
    table: list[tuple[str, Fault]] = [
        ("none", Fault()),
        ("429 Retry-After 0", Fault(status=429, retry_after=0)),
        ("429 no Retry-After", Fault(status=429)),
        ("429 daily (hours)", Fault(status=429, retry_after=7200,
                                    code="daily_rpd_limit_exceeded")),
        ("408", Fault(status=408)),
        ("500", Fault(status=500)),
        ("502", Fault(status=502)),
        ("503", Fault(status=503, retry_after=0)),
        ("504", Fault(status=504, error_shape="text")),
        ("400", Fault(status=400)),
        ("402 legacy", Fault(status=402, error_shape="legacy")),
        ("reset before answer", Fault(reset=True)),
        ("stall before answer", Fault(stall=1.0)),
        ("non-JSON 200", Fault(non_json=True)),
        ("error frame", Fault(error_frame_after=n)),
        ("no [DONE]", Fault(no_done=True)),
        ("cut mid-answer", Fault(cut_after_chunks=n)),
        ("reset mid-answer", Fault(reset_after_chunks=n)),
        ("stall mid-stream", Fault(stall_after_chunks=n, stall=1.0)),
        ("garbage frame", Fault(garbage_after=n)),
        ("CRLF stream", Fault(crlf=True)),
    ]
    if rng.random() < 0.55:
        return table[0]
    return table[rng.randrange(1, len(table))]


def check_no_double_billing(emu: Emulator) -> set[str]:
    """No call whose answer had started was sent again. Returns the ids of the calls seen."""
    by_call: dict[str, list[Any]] = {}
    for r in emu.requests:
        by_call.setdefault(r.headers.get("x-call-id", "?"), []).append(r)
    for call, attempts in by_call.items():
        started = [i for i, a in enumerate(attempts) if a.started]
        assert len(started) <= 1, f"call {call}: answer started {len(started)} times"
        assert not started or started[0] == len(attempts) - 1, (
            f"call {call}: re-sent after its answer had started")
    return set(by_call)


def outcome_of(call: Any) -> str:
    try:
        result = call()
    except NanoGPTError as e:
        return type(e).__name__
    assert result == EXPECTED, result
    return "ok"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_seeded_chaos(kind: str) -> None:
    rng = random.Random(f"{CHAOS_SEED}-{kind}")
    with Emulator(keep_requests=10 * CHAOS_CALLS, quirks=True) as emu:
        injected: Counter[str] = Counter()
        for _ in range(CHAOS_CALLS * 2):  # retries draw from the same queue
            name, fault = random_fault(rng)
            injected[name] += 1
            emu.inject(fault, path="/chat")
        plan = [(f"{kind}-{i}", rng.random() < 0.5) for i in range(CHAOS_CALLS)]
        opts: dict[str, Any] = dict(
            base_url=emu.base_url, max_concurrency=LIMIT, retry_base_delay=0.001,
            retry_max_delay=0.01, timeout=Timeout(connect=2, read=0.3, idle=0.3))
        outcomes: Counter[str] = Counter()
        if kind == "sync":
            client = nanogpt.NanoGPT(KEY, **opts)

            def one(call_id: str, stream: bool) -> str:
                def go() -> str:
                    kw: dict[str, Any] = dict(model=MODEL, messages=USER,
                                              extra_headers={"X-Call-ID": call_id})
                    if stream:
                        s = client.chat.completions.create(stream=True, **kw)
                        with s:
                            text = "".join(c.choices[0].delta.content or ""
                                           for c in s if c.choices)
                        assert text == s.text
                        return text
                    return client.chat.completions.create(**kw).text
                return outcome_of(go)

            with ThreadPoolExecutor(3 * LIMIT) as pool:
                results = list(pool.map(lambda p: one(*p), plan))
            client.close()
        else:
            async def main() -> list[str]:
                async with nanogpt.AsyncNanoGPT(KEY, **opts) as client:
                    async def one(call_id: str, stream: bool) -> str:
                        kw: dict[str, Any] = dict(model=MODEL, messages=USER,
                                                  extra_headers={"X-Call-ID": call_id})
                        try:
                            if stream:
                                s = await client.chat.completions.create(stream=True, **kw)
                                async with s:
                                    parts = [c.choices[0].delta.content or ""
                                             async for c in s if c.choices]
                                text = "".join(parts)
                            else:
                                text = (await client.chat.completions.create(**kw)).text
                        except NanoGPTError as e:
                            return type(e).__name__
                        assert text == EXPECTED, text
                        return "ok"

                    sem = asyncio.Semaphore(3 * LIMIT)

                    async def bounded(p: tuple[str, bool]) -> str:
                        async with sem:
                            return await one(*p)

                    return list(await asyncio.gather(*(bounded(p) for p in plan)))

            results = asyncio.run(main())
        outcomes.update(results)
        seen = check_no_double_billing(emu)
        # Every answered call reached the server; on a starved machine a call may time out
        # before the server records it, so a failed call need not appear.
        answered = {call_id for (call_id, _), o in zip(plan, results, strict=True) if o == "ok"}
        assert answered <= seen
        assert seen <= {call_id for call_id, _ in plan}
        assert sum(outcomes.values()) == CHAOS_CALLS
        assert emu.peak_in_flight <= LIMIT
        assert outcomes["ok"] > CHAOS_CALLS // 3
        faults_hit = sum(1 for r in emu.requests if r.fault and r.fault != Fault())
        report(f"chaos {kind} (seed {CHAOS_SEED}): {CHAOS_CALLS} calls, {emu.count()} requests, "
               f"{faults_hit} faults hit, peak in flight {emu.peak_in_flight}/{LIMIT}; "
               f"outcomes {dict(outcomes.most_common())}")


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_failover_reaches_a_healthy_host(kind: str, loop_thread: Any) -> None:
    rng = random.Random(CHAOS_SEED)
    with Emulator() as flaky, Emulator() as healthy:
        for _ in range(400):
            flaky.inject(Fault(status=rng.choice([502, 503, 504])) if rng.random() < 0.5
                         else Fault(), path="/chat")
        bases = [dead_url(), flaky.base_url]
        opts: dict[str, Any] = dict(base_url=bases[0], fallback_base_urls=[bases[1],
                                                                          healthy.base_url],
                                    retry_base_delay=0.001, retry_max_delay=0.01,
                                    failover_cooldown=0.05,
                                    retry_statuses={408, 429, 500, 502, 503, 504})
        n = 200
        if kind == "sync":
            with nanogpt.NanoGPT(KEY, **opts) as c:
                texts = [c.chat.completions.create(model=MODEL, messages=USER).text
                         for _ in range(n)]
        else:
            async def main() -> list[str]:
                async with nanogpt.AsyncNanoGPT(KEY, **opts) as c:
                    out = []
                    for _ in range(n):
                        r = await c.chat.completions.create(model=MODEL, messages=USER)
                        out.append(r.text)
                    return out
            texts = asyncio.run(main())
        assert texts == [EXPECTED] * n  # every call succeeded
        report(f"failover {kind}: {n} calls all answered; flaky host {flaky.count()} "
               f"requests, healthy host {healthy.count()}")
        assert healthy.count() > 0


# soak -------------------------------------------------------------------------------------

def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_soak_memory_sockets_and_connection_reuse(kind: str) -> None:
    with Emulator(keep_requests=False) as emu:
        if kind == "sync":
            c = nanogpt.NanoGPT(KEY, base_url=emu.base_url)

            def work(requests: int, streams: int) -> None:
                for _ in range(requests):
                    c.chat.completions.create(model=MODEL, messages=USER)
                for _ in range(streams):
                    for _chunk in c.chat.completions.create(model=MODEL, messages=USER,
                                                            stream=True):
                        pass

            def close() -> None:
                c.close()
        else:
            ac = nanogpt.AsyncNanoGPT(KEY, base_url=emu.base_url)
            loop = asyncio.new_event_loop()

            async def awork(requests: int, streams: int) -> None:
                for _ in range(requests):
                    await ac.chat.completions.create(model=MODEL, messages=USER)
                for _ in range(streams):
                    async for _chunk in await ac.chat.completions.create(
                            model=MODEL, messages=USER, stream=True):
                        pass

            def work(requests: int, streams: int) -> None:
                loop.run_until_complete(awork(requests, streams))

            def close() -> None:
                loop.run_until_complete(ac.close())
                loop.close()

        fds_before = fds()
        work(300, 30)  # warm up: pools, caches, allocator arenas
        gc.collect()
        before = rss()
        t = time.perf_counter()
        work(SOAK_REQUESTS, SOAK_STREAMS)
        elapsed = time.perf_counter() - t
        gc.collect()
        growth = (rss() - before) / 1e6
        connections = len(emu.peers)
        close()
        gc.collect()
        time.sleep(0.1)
        leaked = fds() - fds_before
        report(f"soak {kind}: {SOAK_REQUESTS} requests + {SOAK_STREAMS} streams in "
               f"{elapsed:.1f}s; memory growth {growth:.2f} MB; {connections} connection(s) "
               f"used; file descriptors after close: {leaked:+d}")
        assert growth < 5
        assert connections <= 2  # one connection, reused (a second if one was dropped)
        assert leaked <= 0
