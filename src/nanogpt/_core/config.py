"""Client settings resolved from arguments and the environment. No I/O beyond ``os.environ``."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from .deadlines import Limits
from .errors import InvalidParameterError, MissingAPIKeyError

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_FALLBACK_BASE_URLS",
    "Secret",
    "Timeout",
    "resolve_api_key",
    "resolve_base_urls",
]

DEFAULT_BASE_URL = "https://nano-gpt.com/api/v1"
DEFAULT_FALLBACK_BASE_URLS = (
    "https://ai.bitcoin.com/api/v1",
    "https://bcashgpt.com/api/v1",
    "https://cake.nano-gpt.com/api/v1",
)
ENV_API_KEY = "NANOGPT_API_KEY"
ENV_BASE_URL = "NANOGPT_BASE_URL"


class Secret:
    """Holds the API key so that no repr, str, log line or traceback can show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def header(self, prefix: str = "") -> MaskedStr:
        """The key as a header value, e.g. ``header("Bearer ")``."""
        return MaskedStr(prefix + self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self) -> str:  # pragma: no cover - pickling a key is refused
        raise TypeError("an API key is not picklable")


class MaskedStr(str):
    """A header value holding the key: sent as is, but its repr (in a dict of headers shown in
    a traceback with locals, or a debugger) is masked."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


@dataclass(frozen=True)
class Timeout:
    """Timeouts in seconds (``None``: no limit).

    * ``connect``: establishing the connection (TCP and TLS).
    * ``read``: for a non-streaming call, the longest wait for the answer (per attempt).
    * ``idle``: for a stream, the longest silence between bytes (the wait for the first byte
      included; keep-alive comments count as bytes).
    * ``total``: the whole call, retries and their waits included, until the answer has
      arrived (for a stream: until it starts; the bounds below then take over). No retry is
      started that could not finish in time.
    * ``first_event``: for a stream, the longest wait from its start (the 2xx answer) to its
      first chunk. Keep-alive comments do not count: a stream that only ever sends them ends
      with ``StreamTimeoutError``. 600 s by default, like ``read``: a model that has produced
      nothing in ten minutes is stuck, and nothing has been streamed yet that would be lost.
      It also bounds the wait for the answer's head, from the send (interim ``1xx`` answers
      or a head trickled a byte at a time reset ``idle`` with every byte).
    * ``stream_total``: for a stream, the longest time from its start to its end, however
      steadily it flows; "no stream lives longer than N s". Off by default: cutting a long
      answer that is still arriving throws away tokens already paid for.

    ``first_event`` and ``stream_total`` are checked each time bytes arrive, and each wait for
    bytes is bounded by the smallest of ``idle``, ``first_event`` and ``stream_total``, so a
    stream ends at most that long after its bound has passed.

    A single number ``t`` means ``connect=min(t, 10)``, ``read=idle=total=first_event=t`` and
    no ``stream_total``.

    Where each is enforced. ``nanogpt._core.deadlines`` computes every bound (``Limits`` per
    request, the ``total`` deadline via ``CallPlan``, ``StreamClocks``); the shells enforce:

    ============== ============================================ ================================
    timeout        blocking client (``_sync``)                  async client (``_async``)
    ============== ============================================ ================================
    connect        socket timeout of ``connect()`` in           aiohttp ``sock_connect``
                   ``http.ConnectionPool.request``              (``_client_timeout``)
    read           watchdog deadline (``http.Watchdog`` shuts   aiohttp's ``total`` timer per
                   the socket) from the send to the end of      attempt (``_client_timeout``),
                   ``Response.read``; socket timeout per recv   head and body
    idle           socket timeout per recv (``request``, then   aiohttp ``sock_read``
                   ``Response.streaming``)
    total          ``CallPlan.bound``: slot wait, connect,      ``CallPlan.bound``: slot wait,
                   each recv; the watchdog deadline; no retry   ``asyncio.wait_for`` on the send
                   that cannot finish (``CallPlan``)            and the body reads; no retry
                                                                that cannot finish
    first_event    head: watchdog deadline from the send;       head: ``asyncio.wait_for`` on
                   then ``StreamCore.check_deadline`` after     the send; then
                   each read, recv timeout cut to it            ``StreamCore.check_deadline``,
                                                                ``sock_read`` cut to it
    stream_total   ``StreamCore.check_deadline`` after each     the same, in ``AsyncStream``
                   read, recv timeout cut to it
    read (error    ``Response.rearm`` of the watchdog           ``asyncio.wait_for``
    body, or JSON  (``_sync.client``)                           (``body.error_body``,
    to a stream)                                                ``_read_answer``)
    ============== ============================================ ================================
    """

    connect: float | None = 10.0
    read: float | None = 600.0
    idle: float | None = 120.0
    total: float | None = None
    first_event: float | None = 600.0
    stream_total: float | None = None

    @classmethod
    def coerce(cls, value: Timeout | float | int | None) -> Timeout:
        if isinstance(value, Timeout):
            return value
        if value is None:
            return cls(None, None, None, None, None, None)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise InvalidParameterError("timeout", "must be a positive number of seconds or "
                                                   "a nanogpt.Timeout")
        v = float(value)
        return cls(connect=min(v, 10.0), read=v, idle=v, total=v, first_event=v)

    @property
    def stream_read(self) -> float | None:
        """The longest single wait for bytes in a stream: ``idle``, shortened to
        ``first_event`` or ``stream_total`` when they are shorter (``Limits.each_read``)."""
        return Limits.of(self, stream=True).each_read


DEFAULT_TIMEOUT = Timeout()


def resolve_api_key(api_key: Secret | str | None) -> Secret | None:
    """The key from the argument, else ``NANOGPT_API_KEY``; checked, and wrapped at once."""
    if isinstance(api_key, Secret):
        return api_key
    if api_key is None:
        api_key = os.environ.get(ENV_API_KEY)
    if api_key is None:
        return None
    if not isinstance(api_key, str):
        raise InvalidParameterError("api_key", "must be a string")
    secret = Secret(api_key.strip())
    del api_key
    value = secret.reveal()
    if not value:
        return None
    if not value.isascii() or not value.isprintable() or any(c.isspace() for c in value):
        del value
        raise InvalidParameterError("api_key", "contains spaces, line breaks or other "
                                               "characters no API key has (copied with extra "
                                               "text?); the key itself is not shown")
    return secret


def require_key(key: Secret | None) -> Secret:
    if key is None:
        raise MissingAPIKeyError()
    return key


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str, *, allow_insecure_http: bool, name: str = "base_url",
                   insecure_advice: str = "pass allow_insecure_http=True",
                   key_advice: str = "pass api_key instead") -> str:
    """The URL, trimmed, if it is one this client can use; else InvalidParameterError.

    ``insecure_advice`` says how to allow plain http:// to another machine, and ``key_advice``
    where the key goes instead of the URL, in the terms of where the URL came from (the command
    line has no Python argument to pass, but a variable to set and a ``login`` command).

    Everything is checked that would otherwise fail later on every call (a port out of range,
    an unclosed ``[``, text that is not UTF-8, a query or fragment that the paths would land
    in). An echoed URL never shows its password; a query (which may hold a token) is not
    echoed.
    """
    if not isinstance(url, str):
        raise InvalidParameterError(name, "must be a URL string")
    url = url.strip().rstrip("/")
    shown = redact_url(url)
    try:
        url.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidParameterError(name, f"is not valid UTF-8 text, got {shown!r}") from None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError when out of range or not a number
    except ValueError as e:
        # urllib quotes a port that is not a number, and that "port" can be the start of a
        # password holding a "/" (https://me:pa55/word@host): never quoted
        why = "its port is not a number" if "Port could not be cast" in str(e) else str(e)
        raise InvalidParameterError(name, f"is not a valid URL ({why}), got {shown!r}") \
            from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParameterError(name, f"must be an http(s) URL like {DEFAULT_BASE_URL}, "
                                          f"got {shown!r}")
    if parts.username or parts.password:
        raise InvalidParameterError(name, f"must not carry credentials; {key_advice}")
    if "?" in url or "#" in url:  # the API's paths go after the base: a query would swallow them
        raise InvalidParameterError(name, "must not have a query (?...) or a fragment (#...): "
                                          "the API's paths are added after it")
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback(parts.hostname):
        raise InvalidParameterError(
            name, f"plain http:// to {parts.hostname} would send your API key unencrypted; "
                  f"use https://, or {insecure_advice} if you really mean it")
    return url


def redact_url(url: str) -> str:
    """``url`` without the secret of its ``user:password@`` part, for error messages.

    Works on text that does not parse as a URL too: it is what error messages echo. So the
    last ``@`` decides, not the parser: a password with an unencoded ``/``, ``?`` or ``#``
    (``https://me:pa/ss@host``) parses as a host and a path, yet is a password all the
    same. A user name alone (``https://TOKEN@host``) is hidden too: tokens travel there.
    An ``@`` in a path or query, with no ``:`` before it, is left as it is."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    at = rest.rfind("@")
    if at < 0:
        return url
    userinfo, host = rest[:at], rest[at + 1:]
    user, colon, _ = userinfo.partition(":")
    if colon:
        return f"{scheme}{sep}{user}:***@{host}"
    if any(c in userinfo for c in "/?#\\"):
        return url
    return f"{scheme}{sep}***@{host}"


def resolve_base_urls(base_url: str | None, fallback_base_urls: list[str] | tuple[str, ...] | None,
                      *, allow_insecure_http: bool) -> list[str]:
    """The primary base URL followed by the fallbacks, each checked, without duplicates."""
    explicit = base_url if base_url is not None else os.environ.get(ENV_BASE_URL) or None
    primary = check_base_url(explicit or DEFAULT_BASE_URL, allow_insecure_http=allow_insecure_http)
    if fallback_base_urls is None:
        fallbacks: list[str] = list(DEFAULT_FALLBACK_BASE_URLS) if primary == DEFAULT_BASE_URL \
            else []
    elif isinstance(fallback_base_urls, str):  # type: ignore[unreachable]
        raise InvalidParameterError("fallback_base_urls", "must be a list of URLs")
    else:
        fallbacks = [check_base_url(u, allow_insecure_http=allow_insecure_http,
                                    name="fallback_base_urls") for u in fallback_base_urls]
    out: list[str] = []
    for u in [primary, *fallbacks]:
        if u not in out:
            out.append(u)
    return out
