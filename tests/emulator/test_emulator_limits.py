"""The emulator under load from any local client (issue 8, item 20).

Any process on the machine can reach the emulator, so what a request can make it do is bounded:
the answer length and delays a fault header asks for, the memory kept per request, the size of
a request body, the time a client may take to send its request head, and the noise running out
of file descriptors makes. The banner prints a URL the command line accepts, and warns when the
server is reachable from the network.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from nanogpt.emulator import Emulator

CHAT = "/api/v1/chat/completions"
AUTH = {"Authorization": "Bearer sk-nano-test", "Content-Type": "application/json"}
PROMPT = {"model": "openai/gpt-5-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def env(tmp_path: Any) -> dict[str, str]:
    """The environment for a command line run: own config and cache, no key, no colours."""
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("NANOGPT_") and k not in ("NO_COLOR", "FORCE_COLOR")}
    e.update(NANOGPT_CONFIG_DIR=str(tmp_path / "config"),
             NANOGPT_CACHE_DIR=str(tmp_path / "cache"))
    return e


def post(emu: Emulator, body: Any, headers: dict[str, str] | None = None,
         path: str = CHAT, **kw: Any) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(emu.host, emu.port, timeout=60)
    try:
        data = body if not isinstance(body, dict) else json.dumps(body).encode()
        conn.request("POST", path, body=data, headers={**AUTH, **(headers or {})}, **kw)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


# what a fault header may ask for --------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True])
def test_a_huge_token_header_is_refused_not_generated(emu: Emulator, stream: bool) -> None:
    status, headers, body = post(emu, {**PROMPT, "stream": stream},
                                 {"X-Emulator-Tokens": "1000000000000"})
    assert status == 400 and len(body) < 1000
    assert headers["x-request-id"].startswith("emu-")
    assert "X-Emulator-Tokens" in json.loads(body)["error"]["message"]
    status, _, body = post(emu, PROMPT, {"X-Emulator-Tokens": "many"})
    assert status == 400
    status, _, body = post(emu, PROMPT, {"X-Emulator-Tokens": "5"})  # within the cap: served
    assert status == 200 and json.loads(body)["usage"]["completion_tokens"] == 5


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fault", [
    {"delay": 1e9}, {"stall": 1e9}, {"hold_after_done": 1e9}, {"trickle": 1e9},
    {"status": 99999}, {"stall_after_chunks": 1e12}, {"reset": "yes"}, [1, 2], "not json{",
    # values the answer would send as headers, which aiohttp refuses only when sending (the
    # client then got no answer at all), and a status that is not a whole number
    {"status": 429, "retry_after": "1\r\nSet-Cookie: a=b"},
    {"redirect_to": "http://127.0.0.1/\r\nX-Evil: 1"}, {"status": 200.5},
])
def test_fault_headers_beyond_the_limits_are_refused(emu: Emulator, fault: Any) -> None:
    header = fault if isinstance(fault, str) else json.dumps(fault)
    status, _, body = post(emu, {**PROMPT, "stream": True}, {"X-Emulator-Fault": header})
    assert status == 400
    assert json.loads(body)["error"]["code"] == "invalid_emulator_fault"
    assert emu.count() == 1


# bounded memory ---------------------------------------------------------------------------

def test_the_record_of_requests_is_bounded() -> None:
    assert Emulator().requests.maxlen == 1000  # bounded by default
    with Emulator(keep_requests=5) as emu:
        for i in range(20):
            assert post(emu, {**PROMPT, "messages": [{"role": "user", "content": str(i)}]}
                        )[0] == 200
        assert len(emu.requests) == 5
        assert [r.body["messages"][0]["content"] for r in emu.requests] == [
            "15", "16", "17", "18", "19"]
        assert emu.count() == 20 and emu.count("/chat") == 20  # counts stay exact
    with Emulator(keep_requests=False) as emu:
        post(emu, PROMPT)
        assert len(emu.requests) == 0 and emu.count() == 1


def test_a_large_body_is_kept_as_a_prefix_and_its_size() -> None:
    big = {**PROMPT, "messages": [{"role": "user", "content": "x" * 300_000}]}
    with Emulator() as emu:
        assert post(emu, big)[0] == 200
        [rec] = emu.requests
        assert isinstance(rec.body, bytes) and len(rec.body) == 1024
        assert rec.body_size == len(json.dumps(big))


@pytest.mark.parametrize("chunked", [False, True])
def test_an_oversize_body_is_refused_with_413_and_not_kept(chunked: bool) -> None:
    with Emulator(max_body_bytes=1024 * 1024) as emu:
        payload = json.dumps({**PROMPT, "pad": "x" * (2 * 1024 * 1024)}).encode()
        if chunked:
            status, headers, body = post(emu, iter([payload[i:i + 65536] for i in
                                                    range(0, len(payload), 65536)]),
                                         encode_chunked=True)
        else:
            status, headers, body = post(emu, payload)
        assert status == 413
        assert headers["content-type"].startswith("application/json")
        assert headers["x-request-id"].startswith("emu-")
        assert json.loads(body)["error"]["code"] == "payload_too_large"
        [rec] = emu.requests
        assert rec.body is None  # nothing of it is retained
        assert post(emu, PROMPT)[0] == 200  # and the server carries on


# slow request heads and running out of descriptors ---------------------------------------

_SERVER = textwrap.dedent("""
    import resource, sys
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(100, hard), hard))
    from nanogpt.emulator import Emulator
    with Emulator(read_timeout=1.0) as emu:
        print(emu.port, flush=True)
        sys.stdin.readline()
        print(emu.resource_errors, flush=True)
""")


@pytest.mark.timeout(120)
def test_half_sent_requests_do_not_starve_other_clients() -> None:
    """200 connections that never finish their request head, against a server that can hold
    about 90 open at once: the server drops them after `read_timeout`, so a normal client is
    still served, and running out of descriptors is logged once, not once per second."""
    proc = subprocess.Popen([sys.executable, "-c", _SERVER], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ)
    slow: list[socket.socket] = []
    try:
        assert proc.stdout is not None and proc.stdin is not None
        port = int(proc.stdout.readline())
        for _ in range(200):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"POST /api/v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
            slow.append(s)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", "/api/v1/models")
        r = conn.getresponse()
        assert r.status == 200 and json.loads(r.read())["data"]
        conn.close()
        proc.stdin.write("\n")
        proc.stdin.flush()
        resource_errors = int(proc.stdout.readline())
    finally:
        for s in slow:
            s.close()
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert resource_errors >= 1  # the server did run out of descriptors
    assert err.count("cannot accept connections") == 1, err[-2000:]
    assert "Traceback" not in err


# the banner -------------------------------------------------------------------------------

def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_the_banner_prints_a_url_the_cli_accepts_for_ipv6(env: dict[str, str]) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "nanogpt", "emulate", "--host", "::1",
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        base = re.search(r"(http://\S+/api/v1)", line)
        assert base and base.group(1).startswith("http://[::1]:"), line
        r = subprocess.run([sys.executable, "-m", "nanogpt", "--base-url", base.group(1),
                            "chat", "-m", "openai/gpt-5-mini", "ping"],
                           capture_output=True, text=True, timeout=60,
                           env={**env, "NANOGPT_API_KEY": "sk-nano-test"})
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip().endswith("You said: ping")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "reachable from the network" not in err  # loopback: no warning


@pytest.mark.parametrize("command", [["nanogpt"], ["nanogpt.emulator"]])
def test_a_non_loopback_host_warns_and_prints_a_loopback_url(env: dict[str, str],
                                                             command: list[str]) -> None:
    """Binds 0.0.0.0 only to read the banner; no traffic is sent, and it stops at once."""
    args = [sys.executable, "-m", *command, *(["emulate"] if command == ["nanogpt"] else []),
            "--host", "0.0.0.0", "--port", "0"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert re.search(r"http://127\.0\.0\.1:\d+/api/v1", line), line
    assert "reachable from the network" in err
    e = Emulator("0.0.0.0")
    assert e.exposed and not Emulator("::1").exposed and not Emulator("localhost").exposed


@pytest.mark.timeout(60)
@pytest.mark.parametrize("schema", [
    {"type": "array", "minItems": 10**9},
    {"type": "string", "minLength": 10**12},
    {"type": "object", "properties": {"a": {"type": "array", "minItems": 1000, "items": {
        "type": "array", "minItems": 1000, "items": {"type": "string"}}}}, "required": ["a"]},
])
def test_a_schema_asking_for_a_huge_instance_is_refused(emu: Emulator,
                                                        schema: dict[str, Any]) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    status, _, body = post(emu, {**PROMPT, "response_format": fmt})
    assert status == 400 and len(body) < 1000
    assert json.loads(body)["error"]["code"] == "invalid_json_schema"
    tools = [{"type": "function", "function": {"name": "f", "parameters": schema}}]
    status, _, body = post(emu, {**PROMPT, "tools": tools})
    assert status == 400


def test_tokens_times_choices_is_capped(emu: Emulator) -> None:
    status, _, _ = post(emu, {**PROMPT, "n": 16}, {"X-Emulator-Tokens": "100000"})
    assert status == 400
    status, _, body = post(emu, {**PROMPT, "n": 2}, {"X-Emulator-Tokens": "3"})
    assert status == 200 and json.loads(body)["usage"]["completion_tokens"] == 6


def test_a_malformed_schema_is_answered_not_crashed(emu: Emulator) -> None:
    odd = {"type": "object", "properties": {"a": {"type": "array", "minItems": "many",
                                                  "items": {"$ref": "#/nowhere"}}},
           "required": 7}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": odd}}
    status, headers, _ = post(emu, {**PROMPT, "response_format": fmt})
    assert status in (200, 400) and headers["content-type"].startswith("application/json")


# hostile bodies (review of issue 10) ----------------------------------------------------

DEEP_SCHEMA: dict[str, Any] = {"type": "integer"}
for _ in range(400):
    DEEP_SCHEMA = {"type": "object", "properties": {"x": DEEP_SCHEMA}, "required": ["x"]}


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,  # deeper than the JSON parser's recursion
    {**PROMPT, "messages": [{"role": "user", "content": [7, {"type": "text", "text": 5}]}]},
    {**PROMPT, "stream": True, "stream_options": "yes"},
    {**PROMPT, "response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": DEEP_SCHEMA}}},
    {**PROMPT, "tools": [{"type": "function", "function": {"name": "f",
                                                           "parameters": DEEP_SCHEMA}}]},
    {**PROMPT, "response_format": {"type": "json_object"}, "messages": [
        {"role": "user", "content": '{"properties": {"a": ' + "[" * 50_000}]},
], ids=["deep-json", "odd-parts", "odd-stream-options", "deep-schema", "deep-tool-schema",
        "deep-schema-in-prompt"])
def test_odd_bodies_get_a_json_answer_not_a_crash(emu: Emulator, body: Any) -> None:
    status, headers, data = post(emu, body)
    assert status in (200, 400), data
    assert headers["content-type"].startswith(("application/json", "text/event-stream"))
    assert "x-request-id" in headers


def test_tool_calls_share_one_budget_and_are_capped(emu: Emulator) -> None:
    """Every tool named in the prompt is called (up to a cap); their arguments together
    are bounded, not each on its own."""
    big = {"type": "object", "properties": {"s": {"type": "string", "minLength": 60_000}},
           "required": ["s"]}
    tools = [{"type": "function", "function": {"name": f"t{i}", "parameters": big}}
             for i in range(40)]
    said = " ".join(f"t{i}" for i in range(40))
    status, _, data = post(emu, {**PROMPT, "tools": tools,
                                 "messages": [{"role": "user", "content": said}]})
    assert status == 400 and json.loads(data)["error"]["code"] == "invalid_json_schema"
    small = {"type": "object", "properties": {"s": {"type": "string"}}, "required": ["s"]}
    tools = [{"type": "function", "function": {"name": f"t{i}", "parameters": small}}
             for i in range(40)]
    status, _, data = post(emu, {**PROMPT, "tools": tools,
                                 "messages": [{"role": "user", "content": said}]})
    assert status == 200
    calls = json.loads(data)["choices"][0]["message"]["tool_calls"]
    assert 1 < len(calls) <= 16


def raw_exchange(emu: Emulator, data: bytes) -> bytes:
    """Send ``data`` on a new connection; everything the server answers until it closes."""
    with socket.create_connection((emu.host, emu.port), timeout=30) as sock:
        sock.sendall(data)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out


@pytest.mark.parametrize("head", [
    b"X-Big: " + b"a" * 10_000 + b"\r\n",  # a header line over aiohttp's 8 KiB
    b"".join(b"X-H%d: v\r\n" % i for i in range(1000)),  # too many headers
], ids=["long-header", "many-headers"])
def test_an_unparsable_request_gets_json_with_a_request_id_and_is_logged_once(
        head: bytes, caplog: pytest.LogCaptureFixture) -> None:
    request = (b"POST " + CHAT.encode() + b" HTTP/1.1\r\nHost: x\r\n" + head
               + b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
    with Emulator() as emu:
        check_unparsable(emu, request)
    logged = [r for r in caplog.records if r.name.startswith(("nanogpt", "aiohttp"))]
    assert len(logged) == 1 and "Logged once" in logged[0].getMessage()


def check_unparsable(emu: Emulator, request: bytes) -> None:
    for _ in range(3):
        answer = raw_exchange(emu, request)
        status_line, _, rest = answer.partition(b"\r\n")
        headers, _, body = rest.partition(b"\r\n\r\n")
        assert b" 400 " in status_line
        assert b"x-request-id: emu-" in headers.lower()
        assert json.loads(body)["error"]["code"] == "bad_request"
    assert emu.bad_requests == 3


def test_a_long_prompt_makes_a_bounded_stream(emu: Emulator) -> None:
    """The answer quotes the prompt: a prompt of a million characters (a body may hold 20 MiB)
    made a stream of a million frames, ~100 MB built in memory at once."""
    said = "word " * 200_000
    status, _, data = post(emu, {**PROMPT, "stream": True,
                                 "messages": [{"role": "user", "content": said}]})
    assert status == 200 and data.count(b"data: ") < 1000
    assert b"\\u2026" in data  # the quote ends in an ellipsis
    schema = {"type": "object", "properties": {"s": {"type": "string", "minLength": 90_000}},
              "required": ["s"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    status, _, data = post(emu, {**PROMPT, "stream": True, "n": 4, "response_format": fmt})
    assert status == 200 and data.count(b"data: ") < 4 * 300


def test_other_clients_are_served_while_a_long_stream_is_written(emu: Emulator) -> None:
    """A stream of 30,000 frames to a fast reader never waited for the socket, so the
    event loop served nobody else until it ended."""
    import threading

    seen: list[str] = []
    head = threading.Event()

    def read_stream() -> None:
        conn = http.client.HTTPConnection(emu.host, emu.port, timeout=60)
        conn.request("POST", CHAT, body=json.dumps({**PROMPT, "stream": True}),
                     headers={**AUTH, "X-Emulator-Tokens": "30000"})
        r = conn.getresponse()
        head.set()
        while r.read(65536):
            pass
        seen.append("stream done")
        conn.close()

    reader = threading.Thread(target=read_stream)
    reader.start()
    assert head.wait(30)
    conn = http.client.HTTPConnection(emu.host, emu.port, timeout=60)
    conn.request("GET", "/api/v1/models")
    assert conn.getresponse().status == 200
    seen.append("models answered")
    conn.close()
    reader.join(60)
    assert seen == ["models answered", "stream done"]


def test_the_record_can_be_read_while_requests_arrive() -> None:
    """``emu.requests`` and ``emu.peers`` were the live containers: iterating them while the
    server thread appended raised "deque mutated during iteration"."""
    import threading
    import time

    with Emulator(keep_requests=100) as emu:
        done = threading.Event()

        def load() -> None:
            while not done.is_set():
                conn = http.client.HTTPConnection(emu.host, emu.port, timeout=30)
                conn.request("GET", "/api/v1/models")
                conn.getresponse().read()
                conn.close()

        workers = [threading.Thread(target=load) for _ in range(2)]
        for w in workers:
            w.start()
        try:
            while emu.count() < 200:
                for _ in emu.requests:
                    time.sleep(0.0001)  # slow readers: requests arrive meanwhile
                for _ in emu.peers:
                    time.sleep(0.0001)
        finally:
            done.set()
            for w in workers:
                w.join(30)


@pytest.mark.parametrize("times", [0, -1, 1.5, True])
def test_inject_refuses_a_count_that_is_not_positive(emu: Emulator, times: Any) -> None:
    """``times=0`` queued a fault that hit the next request anyway."""
    with pytest.raises(ValueError):
        emu.inject(status=500, times=times)
    status, _, _ = post(emu, PROMPT)
    assert status == 200
