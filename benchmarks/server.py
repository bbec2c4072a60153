"""A lean NanoGPT-shaped HTTP/1.1 server for benchmarks: raw asyncio, canned bytes.

The emulator (aiohttp) is built for fidelity and fault injection; here the server must never be
the bottleneck, so every answer is prepared once and written with one call. Routes:

* ``POST /api/v1/chat/completions``: a canned completion, or with ``"stream": true`` an SSE
  stream of ``X-Bench-Chunks`` chunks (default 20), chunked transfer encoding.
* ``GET /api/v1/models``: a small list.
* ``GET /bench/received``: ``{"bytes": n}``, every byte received so far, heads included (what
  benchmarks/compression.py reads as bytes on the wire).

Run: ``python benchmarks/server.py --port 0`` prints ``PORT <n>`` and serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys

CHUNK = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1767225600,
    "model": "bench/model", "choices": [{"index": 0, "delta": {"content": "token "},
                                         "finish_reason": None}]},
    separators=(",", ":")).encode()
FINAL = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1767225600,
    "model": "bench/model", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32},
    "x_nanogpt_pricing": {"amount": 0.0000123, "currency": "USD", "cost": 0.0000123,
                          "inputTokens": 12, "outputTokens": 20}},
    separators=(",", ":")).encode()
COMPLETION = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1767225600,
    "model": "bench/model",
    "choices": [{"index": 0, "message": {"role": "assistant",
                                         "content": "Hello! This is a canned benchmark answer."},
                 "finish_reason": "stop", "logprobs": None}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
    "x_nanogpt_pricing": {"amount": 0.0000123, "currency": "USD", "cost": 0.0000123,
                          "inputTokens": 12, "outputTokens": 9}},
    separators=(",", ":")).encode()
MODELS = json.dumps({"object": "list", "data": [
    {"id": "bench/model", "object": "model", "created": 0, "owned_by": "bench"}]}).encode()


def _plain(body: bytes, status: bytes = b"200 OK") -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\nX-Request-ID: bench\r\n\r\n" + body)


_COMPLETION_RESPONSE = _plain(COMPLETION)
_MODELS_RESPONSE = _plain(MODELS)
_STREAM_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Transfer-Encoding: chunked\r\nX-Request-ID: bench\r\n\r\n")
_streams: dict[int, bytes] = {}
RECEIVED = [0]  # bytes received on every connection so far


def _chunked(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def stream_response(n: int) -> bytes:
    """Head, then every SSE frame as its own HTTP chunk (as the service sends them)."""
    cached = _streams.get(n)
    if cached is None:
        frame = _chunked(b"data: " + CHUNK + b"\n\n")
        cached = (_STREAM_HEAD + frame * n + _chunked(b"data: " + FINAL + b"\n\n")
                  + _chunked(b"data: [DONE]\n\n") + b"0\r\n\r\n")
        _streams[n] = cached
    return cached


class BenchProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        RECEIVED[0] += len(data)
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].decode("latin-1")
            length = 0
            chunks = 20
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "x-bench-chunks":
                    chunks = int(value)
            total = end + 4 + length
            if len(self.buf) < total:
                return
            body = self.buf[end + 4:total]
            self.buf = self.buf[total:]
            assert self.transport is not None
            if head.startswith("GET /bench/received"):
                self.transport.write(_plain(json.dumps({"bytes": RECEIVED[0]}).encode()))
            elif head.startswith("GET"):
                self.transport.write(_MODELS_RESPONSE)
            elif b'"stream":true' in body.replace(b" ", b""):
                self.transport.write(stream_response(chunks))
            else:
                self.transport.write(_COMPLETION_RESPONSE)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(BenchProtocol, "127.0.0.1", port, backlog=1024)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()
    try:
        asyncio.run(serve(args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
