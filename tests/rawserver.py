"""A tiny raw-socket HTTP server for faults the emulator cannot make (1xx interim answers,
early 413s, gzip bombs, trickled bodies...). Each connection runs ``handler(conn)`` in its own
thread; ``conn.read_request()`` reads one request (head and body) and counts it.

    def handler(conn: RawConn) -> None:
        req = conn.read_request()
        conn.send(b"HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\n{}")

    with RawServer(handler) as srv:
        client = NanoGPT("k", base_url=srv.base_url)
        ...
        assert srv.count("POST") == 1
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["SSE_END", "STREAM_HEAD", "RawConn", "RawRequest", "RawServer", "answering", "asked",
           "completion", "http_response", "sse_piece"]


@dataclass
class RawRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class RawConn:
    sock: socket.socket
    server: RawServer
    _buf: bytes = field(default=b"")

    def read_head(self) -> RawRequest | None:
        """Read a request head (not its body); None when the peer closed first."""
        while b"\r\n\r\n" not in self._buf:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return None
            if not data:
                return None
            self._buf += data
        head, _, self._buf = self._buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        req = RawRequest(method, target, headers)
        self.server._record(req)
        return req

    def read_body(self, req: RawRequest) -> bytes:
        n = int(req.headers.get("content-length", "0"))
        while len(self._buf) < n:
            data = self.sock.recv(65536)
            if not data:
                break
            self._buf += data
        req.body, self._buf = self._buf[:n], self._buf[n:]
        return req.body

    def read_request(self) -> RawRequest | None:
        """One whole request (head and body); None when the peer closed first."""
        req = self.read_head()
        if req is not None:
            self.read_body(req)
        return req

    def send(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(data)


def http_response(status: int = 200, body: bytes = b"{}", *, reason: str = "OK",
                  headers: dict[str, str] | None = None,
                  content_type: str = "application/json") -> bytes:
    """A whole HTTP/1.1 response with a content-length."""
    lines = [f"HTTP/1.1 {status} {reason}", f"content-type: {content_type}",
             f"content-length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def answering(response: bytes) -> Callable[[RawConn], None]:
    """A handler that answers every request on a connection with the same bytes."""

    def handler(conn: RawConn) -> None:
        while conn.read_request() is not None:
            conn.send(response)

    return handler


def completion(text: str, model: str = "openai/gpt-5-mini") -> bytes:
    """A whole chat completion whose answer is ``text``."""
    import json

    return json.dumps({"id": "c", "object": "chat.completion", "model": model,
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": text}}]}).encode()


STREAM_HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
               b"transfer-encoding: chunked\r\n\r\n")
"""The head of a streamed 2xx answer whose body comes in HTTP chunks (``sse_piece``)."""


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def sse_piece(text: str, model: str = "openai/gpt-5-mini") -> bytes:
    """One HTTP chunk of an event stream: a chunk event carrying ``text`` as a content delta."""
    import json

    frame = json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 1,
                        "model": model, "choices": [{"index": 0, "delta": {"content": text}}]})
    return _chunked(f"data: {frame}\n\n".encode())


SSE_END = _chunked(b"data: [DONE]\n\n") + b"0\r\n\r\n"
"""``[DONE]`` and the last HTTP chunk: the end of a stream sent with ``sse_piece``."""


def asked(body: bytes) -> str:
    """What a client asked: the text of the first message of a chat request's body (tests put
    a request id there, so that an answer can echo it)."""
    import json

    return str(json.loads(body)["messages"][0]["content"])


class RawServer:
    """Accepts on a free loopback port; every connection runs ``handler`` in a thread."""

    def __init__(self, handler: Callable[[RawConn], None]) -> None:
        self.handler = handler
        self.requests: list[RawRequest] = []
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.port: int = self._sock.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._stopped = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    def count(self, method: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if method is None or r.method == method)

    def _record(self, req: RawRequest) -> None:
        with self._lock:
            self.requests.append(req)

    def _accept(self) -> None:
        while not self._stopped:
            try:
                sock, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            self.handler(RawConn(sock, self))
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    def start(self) -> RawServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (close does not)
        with contextlib.suppress(OSError):
            self._sock.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()
        self._thread.join(5)

    def __enter__(self) -> RawServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
