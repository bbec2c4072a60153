"""Which proxy (if any) a request goes through: the ``proxy=`` argument, or the environment.
No I/O: the environment is handed in as a mapping.

The rules are those of ``requests`` and ``httpx`` (so of the ``openai`` SDK), which users know:

- ``proxy="http://[user:password@]host:port"`` sends every request through that proxy; the
  environment is then not read at all (``NO_PROXY`` included), as with ``httpx``'s ``proxy=``.
- otherwise, unless ``trust_env=False``: ``https_proxy`` for https URLs, ``http_proxy`` for
  http URLs, ``all_proxy`` for either when its own is unset; each lower-case name first, then
  the upper-case one (``curl``, ``urllib``). An empty lower-case value means "none". The
  upper-case ``HTTP_PROXY`` is ignored when ``REQUEST_METHOD`` is set (a CGI program, where a
  request's ``Proxy:`` header arrives as ``HTTP_PROXY``: "httpoxy").
- ``no_proxy`` / ``NO_PROXY``: comma- or space-separated entries; ``*`` alone bypasses every
  host; ``example.com`` matches it and its subdomains, as do ``.example.com`` and
  ``*.example.com``; ``host:port`` only that port; an IP address only itself; a network
  (``10.0.0.0/8``, ``fd00::/8``) its addresses; a URL (``http://host:port``) its host and port.
- loopback is NOT bypassed by default (neither ``requests`` nor ``httpx`` does it): a proxy on
  the same machine that must see local traffic (mitmproxy, a test proxy) works, and
  ``NO_PROXY=localhost,127.0.0.1,::1`` is the usual way to keep local traffic direct.

A proxy URL is ``http://`` (a ``https://`` or ``socks`` proxy is refused with a clear error,
rather than ignored: ignoring it would send the traffic direct, past a proxy the user relies
on). Its credentials become a ``Proxy-Authorization: Basic`` header sent to the proxy only
(on ``CONNECT``, or on an absolute-form plain-http request); they are never shown: a
:class:`Proxy`'s repr and every message use the redacted URL.

How the shells use a proxy: an https URL goes through a ``CONNECT`` tunnel (TLS to the API host
inside it: the proxy sees neither the key nor the conversation); a plain http URL (loopback, or
``allow_insecure_http``) is sent in absolute form (``POST http://host/path``), as ``requests``,
``httpx``, ``curl`` and aiohttp do, so the proxy sees it all (it is plain text anyway).
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from .config import MaskedStr, redact_url
from .errors import InvalidParameterError
from .redact import remember, scrub
from .transport import TransportFailure

__all__ = ["NoProxyEntry", "Proxy", "ProxyRules", "no_proxy_entries", "parse_proxy",
           "proxy_rules", "tunnel_refused"]

# answers to CONNECT that mean "the proxy could not reach the host", not "the proxy refuses
# you": the request certainly did not reach the API, so failover and retries apply
UNREACHABLE_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True, repr=False)
class Proxy:
    """An http proxy: where to connect, and the header that authenticates to it (if any)."""

    host: str
    port: int
    shown: str  # the URL as written, password (or token user name) redacted
    authorization: MaskedStr | None = None

    @property
    def key(self) -> str:
        """What tells one proxy from another in a connection pool (credentials included,
        since a connection authenticated as one user is not another's)."""
        return f"{self.host}:{self.port}#{hash(self.authorization)}"

    @property
    def url(self) -> str:
        """The proxy's URL without credentials (aiohttp's ``proxy=``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def headers(self) -> dict[str, str]:
        """The headers for the proxy itself (on ``CONNECT``): never sent inside a tunnel."""
        if self.authorization is None:
            return {}
        return {"proxy-authorization": self.authorization}

    def request_headers(self, url: str, headers: Mapping[str, str]) -> Mapping[str, str]:
        """The headers of a request to ``url`` through this proxy: a plain-http request goes
        to the proxy itself (absolute form) and carries its credentials; an https request's
        headers go inside the tunnel, to the API host, and never carry them."""
        if self.authorization is None or not url.startswith("http:"):
            return headers
        return {**headers, **self.headers()}

    def __repr__(self) -> str:
        return f"Proxy({self.shown!r})"


def parse_proxy(value: str, source: str) -> Proxy:
    """The proxy a URL names; ``InvalidParameterError`` naming ``source`` (the argument or
    the environment variable) and the redacted URL when it is not one we can use. A value
    without a scheme (``proxy.corp:3128``) is taken as ``http://``, as ``requests`` does."""
    if not isinstance(value, str):
        raise InvalidParameterError(source, "must be a proxy URL string like "
                                            "http://proxy.example:3128")
    text = value.strip()
    if "://" not in text:
        text = "http://" + text
    shown = redact_url(text)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise InvalidParameterError(source, f"is not a valid proxy URL, got {shown!r}") \
            from None
    scheme = parts.scheme.lower()
    if scheme != "http":
        raise InvalidParameterError(
            source, f"only http:// proxies are supported (https requests still go through it "
                    f"in an encrypted CONNECT tunnel), got {shown!r}")
    if not parts.hostname:
        raise InvalidParameterError(source, f"has no host, got {shown!r}")
    auth = None
    if parts.username is not None or parts.password is not None:
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        auth = MaskedStr("Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii"))
        # a proxy echoing the header, or the password alone, back gets it masked
        remember({"proxy-authorization": auth, "proxy-password": unquote(parts.password or "")})
    return Proxy(host=parts.hostname, port=port or 80, shown=shown, authorization=auth)


@dataclass(frozen=True)
class NoProxyEntry:
    """One ``NO_PROXY`` entry: a host (and its subdomains), an address, or a network; with a
    port, only that port."""

    host: str = ""
    port: int | None = None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            try:
                return ipaddress.ip_address(host) in self.network
            except ValueError:
                return False
        return host == self.host or host.endswith("." + self.host)


def _entry(text: str) -> NoProxyEntry | None:
    if "://" in text:
        text = text.split("://", 1)[1]
    if _is_network(text):
        return NoProxyEntry(network=ipaddress.ip_network(text, strict=False))
    text = text.split("/", 1)[0].removeprefix("*").removeprefix(".")
    host, port = _host_port(text)
    return NoProxyEntry(host=host, port=port) if host else None


def _is_network(text: str) -> bool:
    if "/" not in text:
        return False
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def _host_port(text: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 address."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    port = int(port_text) if port_text.isdigit() else None
    return _normal_host(host), port


def _normal_host(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


def no_proxy_entries(value: str) -> tuple[NoProxyEntry, ...] | None:
    """The entries of a ``NO_PROXY`` value; ``None`` means ``*`` (bypass every host)."""
    words = value.replace(",", " ").split()
    if "*" in words:
        return None
    return tuple(e for e in map(_entry, (w.lower() for w in words)) if e is not None)


def _from_env(environ: Mapping[str, str], name: str, *, cgi: bool = False) -> str | None:
    """``name`` (lower case) from the environment, else its upper-case form; an empty value
    is unset. ``cgi``: the upper-case form is not trusted under CGI (httpoxy)."""
    if name in environ:
        return environ[name].strip() or None
    if cgi and "REQUEST_METHOD" in environ:
        return None
    return environ.get(name.upper(), "").strip() or None


@dataclass(frozen=True)
class ProxyRules:
    """The proxy per URL scheme, and the hosts that bypass them."""

    https: Proxy | None = None
    http: Proxy | None = None
    bypass: tuple[NoProxyEntry, ...] | None = ()  # None: every host ("NO_PROXY=*")

    def for_url(self, url: str) -> Proxy | None:
        """The proxy for a request to ``url``, or ``None`` to connect directly."""
        if self.https is None and self.http is None:  # no proxy at all: the common case
            return None
        parts = urlsplit(url)
        proxy = self.https if parts.scheme == "https" else self.http
        if proxy is None:
            return None
        if self.bypass is None:
            return None
        host = _normal_host(parts.hostname or "")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if any(entry.matches(host, port) for entry in self.bypass):
            return None
        return proxy


NO_PROXIES = ProxyRules()


def proxy_rules(proxy: str | None, trust_env: bool, environ: Mapping[str, str]) -> ProxyRules:
    """The rules for a client: ``proxy`` for everything when given, else (``trust_env``) the
    environment's, else none. Bad values raise ``InvalidParameterError`` before any send."""
    if proxy is not None:
        chosen = parse_proxy(proxy, "proxy")
        return ProxyRules(https=chosen, http=chosen)
    if not trust_env:
        return NO_PROXIES
    every = _from_env(environ, "all_proxy")
    https = _from_env(environ, "https_proxy") or every
    http = _from_env(environ, "http_proxy", cgi=True) or every
    if https is None and http is None:
        return NO_PROXIES
    no_proxy = _from_env(environ, "no_proxy")
    return ProxyRules(
        https=parse_proxy(https, "HTTPS_PROXY/ALL_PROXY") if https else None,
        http=parse_proxy(http, "HTTP_PROXY/ALL_PROXY") if http else None,
        bypass=no_proxy_entries(no_proxy) if no_proxy else ())


def tunnel_refused(proxy: Proxy, authority: str, status: int, reason: str) -> TransportFailure:
    """What a shell reports when the proxy answers ``CONNECT`` with ``status`` (not 200).
    Nothing reached the API host (``sent=False``); ``proxy_status`` tells the plan whether
    the proxy refused us (403, 407...: a :class:`~nanogpt.ProxyError` at once, never
    retried) or could not reach the host (502/503/504: failover and retries apply). The
    proxy's reason is scrubbed: one that echoes our ``Proxy-Authorization`` shows ``***``."""
    reason = scrub(" ".join(reason.split()))[:100]
    why = "could not reach" if status in UNREACHABLE_STATUSES else "refused to open a tunnel to"
    hint = " (check the user name and password in the proxy URL)" if status == 407 else ""
    return TransportFailure(f"the proxy {proxy.shown} {why} {authority}: {status} {reason}"
                            f"{hint}", sent=False, proxy_status=status)
