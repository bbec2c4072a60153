"""The error tree, and the mapping from an HTTP status plus body to one of its classes.

Everything here is plain data: no sockets. Bodies come in several documented shapes and all of
them are read:

* OpenAI style: ``{"error": {"message", "type", "code", "param"}}``
* legacy flat: ``{"error": "Insufficient balance", "status": 402, ...}``
* OpenAPI ``Error``: ``{"error": 400, "message": "..."}``
* Anthropic style (``/messages``): ``{"type": "error", "error": {"type", "message"}}``

Anything else (HTML from a proxy, empty body) still yields an error with the status and a short
excerpt of the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConcurrencyDeadlockError",
    "ConflictError",
    "InsufficientBalanceError",
    "InternalServerError",
    "InvalidParameterError",
    "MissingAPIKeyError",
    "NanoGPTError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProxyError",
    "RateLimitError",
    "StreamError",
    "StreamTimeoutError",
]

_EXCERPT = 500


class NanoGPTError(Exception):
    """Root of every error this package raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        """Errors cross process boundaries by pickle (``multiprocessing``, a
        ``ProcessPoolExecutor``, task queues), which by default rebuilds one as
        ``cls(*args)``: the subclasses take other or keyword-only arguments, so that failed
        with a ``TypeError`` in the receiving process. Rebuilt from the message and the
        attributes instead, without calling ``__init__``."""
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


def _rebuild(cls: type[NanoGPTError], args: tuple[Any, ...],
             state: dict[str, Any]) -> NanoGPTError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class InvalidParameterError(NanoGPTError, ValueError):
    """A request parameter is wrong; raised before anything is sent."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.detail = message
        """What is wrong, without the parameter's name (for callers that name it their way,
        like the command line's flags)."""


class MissingAPIKeyError(NanoGPTError, ValueError):
    """No API key was given and ``NANOGPT_API_KEY`` is not set."""

    def __init__(self) -> None:
        super().__init__(
            "no API key: pass api_key=... or set the NANOGPT_API_KEY environment variable "
            "(keys are at https://nano-gpt.com/api)"
        )


class APIConnectionError(NanoGPTError):
    """The server could not be reached, or the connection broke before an answer."""

    def __init__(self, message: str = "connection error", *, url: str | None = None,
                 answer_cut: bool = False) -> None:
        super().__init__(message)
        self.url = url
        self.answer_cut = answer_cut
        """True when the answer had started arriving (a 2xx head came): the call may be
        billed. Always True on a :class:`StreamError`."""


class APITimeoutError(APIConnectionError):
    """A connect, read or idle timeout expired."""


class ProxyError(APIConnectionError):
    """The proxy refused to carry the request (it answered ``CONNECT`` with 403, 407...):
    nothing reached the API, and nothing is retried (the proxy would refuse again).
    ``status_code`` is the proxy's status; the message names the proxy, its password
    redacted."""

    def __init__(self, message: str, *, url: str | None = None,
                 status_code: int | None = None) -> None:
        super().__init__(message, url=url)
        self.status_code = status_code


class APIResponseValidationError(NanoGPTError):
    """The server answered 2xx with a body that is not what the API promises. Its message
    and ``body`` have every credential this package sent masked: the excerpt of a body that
    echoes them (a debugging proxy's page) is quoted here, whichever decoder raised."""

    def __init__(self, message: str, *, status_code: int, body: bytes | None = None,
                 request_id: str | None = None) -> None:
        from .redact import scrub, scrub_bytes  # (here: redact imports this module)

        super().__init__(scrub(message))
        self.status_code = status_code
        self.body = scrub_bytes(bytes(body)) if isinstance(body, (bytes, bytearray)) else body
        self.request_id = request_id


class StreamError(NanoGPTError):
    """A stream failed after it started: an error frame, a cut connection, or no ``[DONE]``.

    ``partial_text`` and ``partial_reasoning`` hold what had arrived (choice 0). The request is
    never retried by this package: the model may already have been paid for. ``answer_cut`` is
    always True (the answer had started), as on ``APIConnectionError``.
    """

    def __init__(self, message: str, *, partial_text: str = "", partial_reasoning: str = "",
                 code: Any = None, status: int | None = None,
                 request_id: str | None = None) -> None:
        super().__init__(message)
        self.answer_cut = True  # after super(): StreamTimeoutError's other base sets False
        self.partial_text = partial_text
        self.partial_reasoning = partial_reasoning
        self.code = code
        self.status = status
        self.request_id = request_id


class StreamTimeoutError(StreamError, APITimeoutError):
    """The stream stayed silent for longer than the idle timeout. ``answer_cut`` is True."""


class APIStatusError(NanoGPTError):
    """The server answered with an error status."""

    def __init__(self, message: str, *, status_code: int, body: Any = None,
                 request_id: str | None = None, code: Any = None, type: str | None = None,
                 param: str | None = None, headers: Mapping[str, str] | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        """The server's ``Retry-After`` in seconds (429, 503, 408), when it said one."""
        self.message = message
        self.status_code = status_code
        self.body = body
        self.request_id = request_id
        self.code = code
        self.type = type
        self.param = param
        self.headers: Mapping[str, str] = {k.lower(): v for k, v in (headers or {}).items()}
        """The response headers, with lower-case names."""

    def __str__(self) -> str:
        # a proxy's text body often starts with the status already ("404: Not Found")
        said = self.message.startswith(str(self.status_code))
        bits = [] if said and not self.code else [f"{self.status_code}"]
        if self.code:
            bits.append(f"[{self.code}]")
        bits.append(self.message)
        if self.request_id:
            bits.append(f"(request id {self.request_id})")
        return " ".join(bits)


class BadRequestError(APIStatusError):
    """400: the request was refused before reaching a model."""


class AuthenticationError(APIStatusError):
    """401: the key is missing, wrong or revoked."""


class InsufficientBalanceError(APIStatusError):
    """402: the account balance does not cover the request."""


class PermissionDeniedError(APIStatusError):
    """403."""


class NotFoundError(APIStatusError):
    """404: unknown path or model."""


class ConflictError(APIStatusError):
    """409."""


class RateLimitError(APIStatusError):
    """429. ``retry_after`` is the server's wait in seconds, when it said one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, retry_after=retry_after, **kw)


class InternalServerError(APIStatusError):
    """5xx."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientBalanceError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


def _excerpt(raw: bytes) -> str:
    text = raw[:_EXCERPT].decode("utf-8", "replace").strip()
    return text + ("..." if len(raw) > _EXCERPT else "")


def parse_error_body(raw: bytes) -> tuple[Any, str | None, Any, str | None, str | None]:
    """Read any documented error body. Returns (decoded body, message, code, type, param)."""
    import msgspec

    try:
        body: Any = msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return (raw.decode("utf-8", "replace"), _excerpt(raw) or None, None, None, None)
    if not isinstance(body, dict):
        return body, _excerpt(raw) or None, None, None, None
    err = body.get("error")
    message = code = etype = param = None
    if isinstance(err, dict):  # OpenAI and Anthropic shapes
        message = err.get("message")
        code = err.get("code")
        etype = err.get("type")
        param = err.get("param")
    elif isinstance(err, str):  # legacy flat shape
        message = err
        code = body.get("code")
    if message is None and isinstance(body.get("message"), str):  # {"error": 400, "message": ...}
        message = body["message"]
    if code is None:
        code = body.get("code")
    if etype is None and body.get("type") not in (None, "error"):
        etype = body.get("type")
    if message is None:
        message = _excerpt(raw)
    return body, str(message), code, etype if isinstance(etype, str) else None, (
        param if isinstance(param, str) else None)


def error_from_response(status: int, headers: Mapping[str, str], raw: bytes, *,
                        retry_after: float | None = None,
                        base_url: str | None = None) -> APIStatusError:
    """Map a non-2xx response to the matching ``APIStatusError`` subclass.

    ``base_url`` is the base the request went to: a 404 that names no missing thing (no
    error code) from a base whose path is not NanoGPT's ``/api/v1`` says the path is
    probably what is wrong, and what it should look like."""
    # (here: redact depends on this module, through config)
    from .redact import scrub_bytes, scrub_headers

    # a server may echo our credentials: anywhere in its body or its headers
    raw, headers = scrub_bytes(raw), scrub_headers(headers)
    body, message, code, etype, param = parse_error_body(raw)
    request_id = headers.get("x-request-id")
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = InternalServerError if status >= 500 else APIStatusError
    msg = message or f"HTTP {status}"
    if status == 404 and code is None and base_url is not None:
        msg += _wrong_path_hint(base_url)
    return cls(msg, status_code=status, body=body, request_id=request_id, code=code, type=etype,
               param=param, headers=headers, retry_after=retry_after)


def _wrong_path_hint(base_url: str) -> str:
    from urllib.parse import urlsplit

    from .config import DEFAULT_BASE_URL  # (here: config imports this module)

    if urlsplit(base_url).path.rstrip("/").endswith("/api/v1"):
        return ""
    return (f"; the base URL {base_url} does not end in /api/v1, so its path is probably "
            f"wrong: NanoGPT's API lives under /api/v1, as in {DEFAULT_BASE_URL}")


class ConcurrencyDeadlockError(NanoGPTError, RuntimeError):
    """A call would wait, with no ``total`` timeout, for a concurrency slot while the same
    thread (or task) already holds every slot, so the wait could never end: usually an earlier
    stream is still open. Close it (``with ... as stream:``) before the next call."""
