"""A small threaded HTTP proxy on loopback, for the proxy tests: ``CONNECT`` tunnels and
absolute-form requests (``POST http://host:port/path``), each connection in its own thread.

It records the head of every request it receives (``heads``: method, target, headers as the
proxy saw them) and counts tunnels opened. ``refuse=407`` (or 403...) answers every
``CONNECT`` with that status; an absolute-form request is forwarded with ``Connection: close``
and answered close-delimited (so the client never reuses a connection the proxy is closing).
It only ever connects to loopback: any other target is answered 403.

``TLSFront`` is a TLS endpoint on loopback (a self-signed certificate for 127.0.0.1, made with
``cryptography``) that forwards the decrypted bytes to a plain-http server (the emulator): the
far end of a ``CONNECT`` tunnel for an ``https://`` base URL.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TypeVar
from urllib.parse import urlsplit

__all__ = ["ProxyHead", "ProxyServer", "TLSFront", "self_signed"]

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
HOP_BY_HOP = {"proxy-authorization", "proxy-connection", "connection", "keep-alive",
              "transfer-encoding", "content-length", "te", "upgrade"}


S = TypeVar("S", bound="_Server")


@dataclass
class ProxyHead:
    method: str
    target: str
    headers: dict[str, str] = field(default_factory=dict)


class _Server:
    """A listening socket on loopback with one thread per connection."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        self._stopping = False

    def start(self: S) -> S:
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def _accept(self) -> None:
        while not self._stopping:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            self._socks.append(sock)
            t = threading.Thread(target=self._serve_safely, args=(sock,), daemon=True)
            t.start()

    def _serve_safely(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError, ValueError, http.client.HTTPException):
            self.serve(sock)
        with contextlib.suppress(OSError):
            sock.close()

    def serve(self, sock: socket.socket) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self._listener.close()
        for s in self._socks:
            with contextlib.suppress(OSError):
                s.close()

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def _splice(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until both sides are done."""
    other = threading.Thread(target=_pipe, args=(b, a), daemon=True)
    other.start()
    _pipe(a, b)
    other.join(30)


def _read_head(fp: BinaryIO) -> ProxyHead | None:
    line = fp.readline(65537).decode("latin-1").rstrip("\r\n")
    if not line:
        return None
    method, target, _ = line.split(" ", 2)
    headers = {k.lower(): v for k, v in http.client.parse_headers(fp).items()}
    return ProxyHead(method, target, headers)


class ProxyServer(_Server):
    """See the module docstring."""

    def __init__(self, *, refuse: int | None = None, user: str = "", password: str = "") -> None:
        super().__init__()
        self.refuse = refuse
        self.heads: list[ProxyHead] = []
        self.tunnels = 0
        self._auth = f"{user}:{password}@" if user or password else ""

    @property
    def url(self) -> str:
        return f"http://{self._auth}127.0.0.1:{self.port}"

    def count(self, method: str) -> int:
        return sum(1 for h in self.heads if h.method == method)

    def serve(self, sock: socket.socket) -> None:
        fp = sock.makefile("rb")
        head = _read_head(fp)
        if head is None:
            return
        self.heads.append(head)
        if head.method == "CONNECT":
            self._tunnel(sock, fp, head)
        else:
            self._forward(sock, fp, head)

    def _tunnel(self, sock: socket.socket, fp: BinaryIO, head: ProxyHead) -> None:
        if self.refuse is not None:
            sock.sendall(f"HTTP/1.1 {self.refuse} Refused by the test proxy\r\n"
                         f"proxy-authenticate: Basic realm=\"test\"\r\n"
                         f"content-length: 0\r\nconnection: close\r\n\r\n".encode())
            return
        host, _, port = head.target.rpartition(":")
        host = host.strip("[]")
        if host not in LOOPBACK:
            sock.sendall(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
            return
        try:
            upstream = socket.create_connection((host, int(port)), timeout=10)
        except OSError:
            sock.sendall(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            return
        self.tunnels += 1
        upstream.settimeout(None)
        sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        with upstream:
            _splice(sock, upstream)

    def _forward(self, sock: socket.socket, fp: BinaryIO, head: ProxyHead) -> None:
        parts = urlsplit(head.target)
        host = parts.hostname or ""
        if parts.scheme != "http" or host not in LOOPBACK:
            sock.sendall(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
            return
        length = int(head.headers.get("content-length", "0"))
        body = fp.read(length) if length else None
        headers = {k: v for k, v in head.headers.items() if k not in HOP_BY_HOP}
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        upstream = http.client.HTTPConnection(host, parts.port or 80, timeout=30)
        try:
            upstream.request(head.method, path, body=body, headers=headers)
        except OSError:
            sock.sendall(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n"
                         b"connection: close\r\n\r\n")
            return
        with contextlib.closing(upstream):
            resp = upstream.getresponse()
            lines = [f"HTTP/1.1 {resp.status} {resp.reason}"]
            lines += [f"{k}: {v}" for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            lines.append("connection: close")
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            while data := resp.read1(65536):
                sock.sendall(data)


class TLSFront(_Server):
    """TLS on loopback, forwarding the plain bytes to ``target_port`` on 127.0.0.1."""

    def __init__(self, target_port: int, cert: Path, key: Path) -> None:
        super().__init__()
        self.target_port = target_port
        self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ctx.load_cert_chain(cert, key)

    def serve(self, sock: socket.socket) -> None:
        sock.settimeout(30)
        tls = self._ctx.wrap_socket(sock, server_side=True)
        tls.settimeout(None)
        with socket.create_connection(("127.0.0.1", self.target_port)) as upstream:
            other = threading.Thread(target=_pipe, args=(upstream, tls), daemon=True)
            other.start()
            with contextlib.suppress(OSError, ValueError):
                while data := tls.recv(65536):
                    upstream.sendall(data)
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_WR)
            other.join(30)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate (and its key) for 127.0.0.1 and localhost, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nanogpt test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
