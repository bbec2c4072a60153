"""Shared fixtures: the emulator, and clients of both kinds behind one blocking interface.

Behaviour tests take ``make_client``; they run twice, once with ``NanoGPT`` and once with
``AsyncNanoGPT`` driven from a background event loop through a thin blocking proxy, so the same
assertions hold both shells.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import nanogpt
from nanogpt import AsyncParsedStream, AsyncStream
from nanogpt.emulator import Emulator
from nanogpt.testing import TEST_API_KEY

KEY = TEST_API_KEY

# A developer's own proxy settings must not send the suite's loopback traffic (clients made
# here, the command line and batch runner in subprocesses, which inherit this environment)
# through their proxy: cleared for the whole run. The proxy tests set them where they need.
PROXY_VARIABLES = ("https_proxy", "http_proxy", "all_proxy", "no_proxy")
for _name in PROXY_VARIABLES:
    os.environ.pop(_name, None)
    os.environ.pop(_name.upper(), None)
# credentials other than the key, for the tests that check none of them leaks
EXTRA_KEY = "sk-extra-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
PROXY_TOKEN = "proxy-tok-9a8b7c6d5e4f30211203f4e5d6c7b8a9"
COOKIE = "sess-1122334455667788"
FAST_RETRIES = {"retry_base_delay": 0.001, "retry_max_delay": 0.01}


class LoopThread:
    """An event loop in a thread, to drive the async client from blocking test code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class SyncStreamProxy:
    def __init__(self, stream: AsyncStream, runner: LoopThread) -> None:
        self._stream = stream
        self._runner = runner

    def __iter__(self) -> SyncStreamProxy:
        return self

    def __next__(self) -> Any:
        async def step() -> Any:
            try:
                return True, await self._stream.__anext__()
            except StopAsyncIteration:
                return False, None

        ok, value = self._runner.run(step())
        if not ok:
            raise StopIteration
        return value

    def close(self) -> None:
        self._runner.run(self._stream.close())

    def get_final_completion(self) -> Any:
        return self._runner.run(self._stream.get_final_completion())

    def __enter__(self) -> SyncStreamProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class SyncProxy:
    """Makes an async client (or one of its namespaces) callable from blocking code."""

    def __init__(self, target: Any, runner: LoopThread) -> None:
        self._target = target
        self._runner = runner

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if inspect.iscoroutinefunction(value):
            def call(*args: Any, **kwargs: Any) -> Any:
                result = self._runner.run(value(*args, **kwargs))
                if isinstance(result, (AsyncStream, AsyncParsedStream)):
                    return SyncStreamProxy(result, self._runner)
                return result
            return call
        if hasattr(value, "__dict__") and type(value).__module__.startswith("nanogpt._"):
            return SyncProxy(value, self._runner)
        return value

    def __repr__(self) -> str:
        return repr(self._target)

    def __enter__(self) -> SyncProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[LoopThread]:
    """One event loop in a background thread for the session: the async clients of
    ``make_client`` run on it behind a blocking interface."""
    lt = LoopThread()
    yield lt
    lt.stop()


# Our own client must survive what the service sends in the wild, not only the documented
# format: every stream in this suite carries the quirks (see nanogpt.emulator._framing).
QUIRKS = {"quirks": True}


@pytest.fixture(scope="session")
def nanogpt_emulator_options() -> dict[str, Any]:
    """Overrides the plugin's default (the documented stream format) for this suite."""
    return QUIRKS


@pytest.fixture
def emu(nanogpt_emulator: Emulator) -> Emulator:
    """The emulator from nanogpt's own pytest plugin (the one users get): one per session,
    faults and counters reset for each test; with stream quirks."""
    return nanogpt_emulator


@pytest.fixture
def emu2() -> Iterator[Emulator]:
    """A second emulator, for failover and redirects (on another host name: localhost)."""
    with Emulator(**QUIRKS) as e:
        yield e


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    """``"sync"`` or ``"async"``: a test using ``make_client`` runs once with each client."""
    return str(request.param)


@pytest.fixture
def make_client(kind: str, emu: Emulator, loop_thread: LoopThread
                ) -> Iterator[Callable[..., Any]]:
    """Makes clients of this test's ``kind`` pointed at ``emu`` (fast retries; keywords as
    for ``NanoGPT``): a ``NanoGPT``, or an ``AsyncNanoGPT`` behind a blocking proxy. All are
    closed after the test."""
    made: list[Any] = []

    def make(api_key: str | None = KEY, **kw: Any) -> Any:
        kw.setdefault("base_url", emu.base_url)
        for k, v in FAST_RETRIES.items():
            kw.setdefault(k, v)
        if kind == "sync":
            client: Any = nanogpt.NanoGPT(api_key, **kw)
        else:
            client = SyncProxy(nanogpt.AsyncNanoGPT(api_key, **kw), loop_thread)
        made.append(client)
        return client

    yield make
    for c in made:
        c.close()


@pytest.fixture
def client(make_client: Callable[..., Any]) -> Any:
    """One client from ``make_client`` with the test key: run on both kinds."""
    return make_client()


def cli_env(tmp_path: Any, emu: Emulator, **extra: str) -> dict[str, str]:
    """The environment for running the command line in a test: this process's, less every
    NANOGPT_ and colour variable, with private config and cache folders under ``tmp_path``,
    the test key and the emulator's base URL; ``extra`` on top."""
    import os

    e = {k: v for k, v in os.environ.items()
         if not k.startswith("NANOGPT_") and k not in ("NO_COLOR", "FORCE_COLOR")}
    e.update(NANOGPT_CONFIG_DIR=str(tmp_path / "config"), NANOGPT_CACHE_DIR=str(tmp_path / "cache"),
             NANOGPT_API_KEY=KEY, NANOGPT_BASE_URL=emu.base_url, COLUMNS="120")
    e.update(extra)
    return e


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[..., None]], Any]]:
    """Starts a :class:`rawserver.RawServer` for a handler (as many as a test asks for); all
    are stopped after the test."""
    from rawserver import RawServer

    servers: list[RawServer] = []

    def start(handler: Callable[..., None]) -> RawServer:
        servers.append(RawServer(handler).start())
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


def dead_url() -> str:
    """A loopback base URL where nothing listens: connections are refused."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/api/v1"


USER = [{"role": "user", "content": "hi there"}]


@pytest.fixture
def env(tmp_path: Any, emu: Emulator) -> dict[str, str]:
    """The command line's environment for one test (:func:`cli_env`: private config and cache
    folders, the test key, the session emulator). A test file overrides it to add variables."""
    return cli_env(tmp_path, emu)


@pytest.fixture
def run(env: dict[str, str]) -> Callable[..., Any]:
    """``run(*args, input=None, **variables)``: ``python -m nanogpt ARGS`` in a subprocess with
    ``env`` (plus ``variables``), stdin ``input`` or empty; returns the ``CompletedProcess``."""
    import subprocess
    import sys

    def run(*args: str, input: str | None = None, **kw: str) -> Any:
        return subprocess.run([sys.executable, "-m", "nanogpt", *args], input=input or "",
                              capture_output=True, text=True, env={**env, **kw}, timeout=60)
    return run
