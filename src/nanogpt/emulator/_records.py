"""What the emulator remembers about the requests it served, in bounded memory, and the
request ids it hands out.

Tests read the record (``emu.requests[-1].body``, ``emu.count("/chat")``, ``emu.peers``), but
the emulator may also face a long run or a hostile local client, so nothing here grows without
bound: the list of requests is a ``deque`` with a ``maxlen`` (``keep_requests``), bodies are kept
as parsed JSON only when small (otherwise a short prefix and the size), per-path counts are kept
per route rather than per distinct path, and the set of peers has a cap.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_KEEP", "KEPT_JSON_BYTES", "PREFIX_BYTES", "RecordedRequest", "Recorder",
           "kept_body"]

DEFAULT_KEEP = 1000  # requests kept by default; Emulator(keep_requests=N) asks for more
KEPT_JSON_BYTES = 64 * 1024  # a body up to this size is kept parsed; larger ones as a prefix
PREFIX_BYTES = 1024  # how much of a large or non-JSON body is kept
MAX_PEERS = 10_000  # distinct client addresses remembered (one per connection)


@dataclass
class RecordedRequest:
    """One request as the emulator saw it.

    ``body`` is the parsed JSON when the body was valid JSON of at most ``KEPT_JSON_BYTES``;
    otherwise the first ``PREFIX_BYTES`` bytes (``None`` when there was no body or it was
    refused unread). ``body_size`` is the full size in bytes, once its ``Content-Encoding``
    (``content_encoding``) is undone; ``wire_size`` the size as it came (coded).
    """

    method: str
    path: str
    host: str
    headers: dict[str, str]
    body: Any
    fault: Any  # the Fault applied, or None
    peer: tuple[str, int] | None = None  # the client's address: one per connection
    started: bool = False  # a 2xx answer began: from here on, a re-send could be billed twice
    at: float = field(default_factory=time.monotonic)
    body_size: int = 0
    wire_size: int = 0

    @property
    def content_encoding(self) -> str | None:
        """How the body came coded (``"gzip"``), or ``None``: not coded."""
        return self.headers.get("content-encoding")

    @property
    def api_key(self) -> str | None:
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip() or None
        return self.headers.get("x-api-key") or None


def kept_body(raw: bytes, parsed: Any, parsed_ok: bool) -> Any:
    """What a record keeps of a body: small JSON parsed, anything else as a bounded prefix."""
    if not raw:
        return None
    if parsed_ok and len(raw) <= KEPT_JSON_BYTES:
        return parsed
    return bytes(raw[:PREFIX_BYTES])


class Recorder:
    """Counters and a bounded list of recent requests, shared by the loop and test threads."""

    def __init__(self, keep: int) -> None:
        self.requests: deque[RecordedRequest] = deque(maxlen=max(0, keep))
        self.request_count = 0
        self.by_route: Counter[str] = Counter()  # keyed by route, so bounded by the routes
        self.peers: set[tuple[str, int]] = set()
        self.in_flight = 0
        self.peak_in_flight = 0
        self.lock = threading.Lock()
        self._seq = 0  # request ids handed out: never reset, so ids stay unique

    def next_rid(self) -> str:
        """The next ``X-Request-ID``: ``emu-000001``, ``emu-000002``, ..."""
        with self.lock:
            self._seq += 1
            return f"emu-{self._seq:06d}"

    def add(self, record: RecordedRequest, route: str) -> None:
        with self.lock:
            self.request_count += 1
            self.by_route[route] += 1
            if record.peer is not None and len(self.peers) < MAX_PEERS:
                self.peers.add(record.peer)
            self.requests.append(record)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def done(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.request_count = 0
            self.by_route.clear()
            self.peers.clear()
            self.peak_in_flight = self.in_flight

    def count(self, path: str | None) -> int:
        """Requests seen in all (``path=None``) or on the routes whose path contains ``path``.

        Counted per route (``/api/v1/models/{id}`` is one route), never by scanning the record,
        so the count is exact however few requests are kept.
        """
        with self.lock:
            if path is None:
                return self.request_count
            return sum(n for route, n in self.by_route.items() if path in route)
