"""What the async client takes from aiohttp beyond its documented API, checked directly on real
aiohttp objects, so that a release that removes or changes one fails here by name (attribute
and aiohttp version) instead of somewhere deep in a behaviour test, or silently.

The private attributes are all used in ``nanogpt._async.aiohttp_private`` (its
``PRIVATE_ATTRIBUTES``); the undocumented public ones (a connection's protocol and its
``closed`` future...) are used by the body watch and the connector in ``nanogpt._async``.
``pyproject.toml`` pins the aiohttp releases these were checked with.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.base_protocol import BaseProtocol

from nanogpt._async import aiohttp_private
from nanogpt._async.aiohttp_private import PRIVATE_ATTRIBUTES
from nanogpt._async.session import _new_session
from rawserver import RawConn, RawServer, answering, http_response

SAFETY = 20
ASYNC_SHELL = Path(aiohttp_private.__file__).parent

# what each private attribute must be for the way it is used
EXPECTED: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "_retry_connection": ("a bool", lambda v: isinstance(v, bool)),
    "_close": ("a method taking no argument", lambda v: callable(v) and not [
        p for p in inspect.signature(v).parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]),
    "_closed": ("a bool", lambda v: isinstance(v, bool)),
    "_buffer": ("a deque of bytes", lambda v: isinstance(v, collections.deque)),
}


def _broken(what: str, why: str, where: str = "nanogpt/_async/aiohttp_private.py") -> str:
    return (f"aiohttp {aiohttp.__version__}: {what} ({why}). nanogpt's async client relies on "
            f"it ({where}); this aiohttp release is outside the range pyproject.toml pins: "
            "adapt the client, or keep the pin below this release")


async def _real_objects() -> AsyncIterator[dict[str, Any]]:
    session = _new_session()
    protocol = BaseProtocol(asyncio.get_running_loop())
    reader = aiohttp.StreamReader(protocol, 2**16, loop=asyncio.get_running_loop())
    reader.feed_data(b"abc")
    try:
        yield {"aiohttp.ClientSession": session, "aiohttp.BaseConnector": session.connector,
               "aiohttp.StreamReader": reader}
    finally:
        await session.close()


@pytest.mark.parametrize(("owner", "name", "why"), PRIVATE_ATTRIBUTES,
                         ids=[f"{o}.{n}" for o, n, _ in PRIVATE_ATTRIBUTES])
def test_each_private_attribute_is_still_there(owner: str, name: str, why: str) -> None:
    async def check() -> None:
        async for objects in _real_objects():
            obj = objects[owner]
            assert hasattr(obj, name), _broken(f"{owner}.{name} is gone", why)
            shape, fits = EXPECTED[name]
            assert fits(getattr(obj, name)), _broken(
                f"{owner}.{name} is no longer {shape}", why)

    asyncio.run(check())


def test_every_private_attribute_has_a_check() -> None:
    assert {name for _, name, _ in PRIVATE_ATTRIBUTES} == set(EXPECTED)


# on aiohttp objects, outside aiohttp_private: session._x, connector._x, content._x...
_PRIVATE_USE = re.compile(
    r"\b(session|connector|content|resp|response|conn|connection|protocol|transport|reader)"
    r"\._[a-z]\w*")


def test_no_private_attribute_is_used_outside_its_module() -> None:
    uses = [f"{path.name}: {m.group(0)}" for path in sorted(ASYNC_SHELL.glob("*.py"))
            if path.name != "aiohttp_private.py"
            for m in _PRIVATE_USE.finditer(path.read_text(encoding="utf-8"))]
    assert not uses, "aiohttp private attributes belong in _async/aiohttp_private.py"


def test_turning_off_retry_sets_the_flag_aiohttp_reads() -> None:
    async def check() -> bool:
        async for objects in _real_objects():
            return bool(getattr(objects["aiohttp.ClientSession"], "_retry_connection", True))
        raise AssertionError

    assert asyncio.run(check()) is False, _broken(
        "ClientSession._retry_connection stayed True", "turn_off_retry did not take")


def test_taking_the_buffer_hands_over_what_was_received() -> None:
    async def check() -> tuple[bytes, bytes]:
        async for objects in _real_objects():
            reader = objects["aiohttp.StreamReader"]
            return aiohttp_private.take_buffered(reader), aiohttp_private.take_buffered(reader)
        raise AssertionError

    assert asyncio.run(check()) == (b"abc", b""), _broken(
        "StreamReader._buffer no longer holds the received bytes", "take_buffered")


def test_marking_closed_is_what_closed_reports() -> None:
    async def check() -> bool:
        connector = aiohttp.TCPConnector()
        aiohttp_private.mark_closed(connector)
        return connector.closed

    assert asyncio.run(check()), _broken(
        "BaseConnector.closed no longer reads _closed", "mark_closed would not take")


def test_closing_now_closes_a_pooled_connection() -> None:
    """``_close()`` closes the sockets of the pool at once, without awaiting."""
    ended: list[bool] = []
    serve = answering(http_response(200, b"{}"))

    def handler(conn: RawConn) -> None:
        serve(conn)
        ended.append(True)  # the client closed the connection

    async def check(url: str) -> None:
        session = _new_session()
        async with session.get(url) as resp:
            await resp.read()
        connector = session.connector
        assert connector is not None
        aiohttp_private.close_connections_now(connector)
        session.detach()
        for _ in range(SAFETY * 100):
            if ended:
                return
            await asyncio.sleep(0.01)

    with RawServer(handler) as srv:
        asyncio.run(asyncio.wait_for(check(srv.base_url + "/models"), SAFETY))
    assert ended, _broken("BaseConnector._close() left a pooled connection open",
                          "close_connections_now")


def _half_a_body(conn: RawConn) -> None:
    """A head and part of its body; the rest never comes (the connection stays the body's)."""
    if conn.read_request() is not None:
        conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{}")
        conn.read_request()  # until the client closes


def test_the_undocumented_public_parts_are_there() -> None:
    """While a body is read: the response's connection, its protocol, the protocol's
    ``closed`` future, ``should_close`` and ``transport`` (the body watch and the
    stale-connection check); and the ``connect`` the connector overrides."""

    async def check(url: str) -> list[str]:
        missing: list[str] = []
        session = _new_session()
        try:
            async with session.get(url) as resp:
                conn = resp.connection
                protocol = getattr(conn, "protocol", None)
                if protocol is None:
                    return ["ClientResponse.connection.protocol"]
                if not isinstance(getattr(protocol, "closed", None), asyncio.Future):
                    missing.append("ResponseHandler.closed (an asyncio.Future)")
                if not isinstance(getattr(protocol, "should_close", None), bool):
                    missing.append("ResponseHandler.should_close (a bool)")
                if getattr(protocol, "transport", None) is None:
                    missing.append("ResponseHandler.transport")
                resp.close()
        finally:
            await session.close()
        params = list(inspect.signature(aiohttp.TCPConnector.connect).parameters)
        if params != ["self", "req", "traces", "timeout"]:
            missing.append(f"TCPConnector.connect(self, req, traces, timeout), now {params}")
        for name in ("ConnectionTimeoutError", "ClientConnectorError", "ClientPayloadError"):
            if not hasattr(aiohttp, name):
                missing.append(f"aiohttp.{name}")
        return missing

    with RawServer(_half_a_body) as srv:
        missing = asyncio.run(asyncio.wait_for(check(srv.base_url + "/models"), SAFETY))
    assert not missing, _broken(", ".join(missing) + " changed", "not documented, but public",
                                 "nanogpt/_async/body.py, client.py and session.py")
