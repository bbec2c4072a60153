"""What both clients share: request building, response decoding, the model cache, and the
constructor (``ClientBase``), whose settings are defined in ``options``.

``ClientCore`` holds no sockets. Each public call becomes a :class:`Request` here; the sync or
async shell sends it under a :class:`~nanogpt._core.plan.CallPlan`, then hands the bytes back here
to decode.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

import msgspec

from .. import __version__
from .compression import RequestCompression
from .config import (
    Secret,
    Timeout,
    require_key,
    resolve_api_key,
    resolve_base_urls,
)
from .deadlines import Limits
from .errors import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    InvalidParameterError,
    NotFoundError,
    error_from_response,
)
from .fuzzy import closest_ids
from .options import DEFAULTS, ClientOptions, changed_options
from .params import build_chat_body, check_headers
from .plan import CallPlan, HostPool
from .proxies import ProxyRules, proxy_rules
from .redact import mask_credentials, remember, scrub
from .results import AsyncRawResponse, RawResponse, once, with_request_id
from .stream import StreamCore
from .transport import TransportFailure
from .types import (
    DECODE_ERRORS,
    Balance,
    ChatCompletion,
    Model,
    ModelList,
    decoder,
    loads,
    model_from_dict,
    unexpected_answer,
)

if sys.version_info >= (3, 11):  # at run time too, for typing.get_type_hints
    from typing import Self
elif TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["Auth", "ClientCore", "Request"]

T = TypeVar("T")
S = TypeVar("S")

# How a request carries the key: "bearer" and "x-api-key" need one (MissingAPIKeyError before
# anything is sent) and put it in that header; "bearer-if-set" sends it as a bearer token when
# the client has one and sends the request without when it has none (the public model list);
# "none" never sends it (the browser login, which has no key yet and must not leak another).
Auth = Literal["bearer", "x-api-key", "bearer-if-set", "none"]

_CATALOG_PATHS: dict[str, tuple[str, bool]] = {  # catalog -> (path, relative to the API root)
    "all": ("/models?detailed=true", False),
    "subscription": ("/subscription/v1/models?detailed=true", True),
    "paid": ("/paid/v1/models?detailed=true", True),
    "personalized": ("/personalized/v1/models?detailed=true", True),
}

_encode = msgspec.json.Encoder().encode
_decode_completion = decoder(ChatCompletion)


class _ModelList(msgspec.Struct):
    data: list[Any]


_decode_model_list = decoder(_ModelList)


@dataclass(repr=False)
class Request:
    """Everything a shell needs to send one call. Its repr never shows the headers (the key)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None
    stream: bool = False
    idempotent: bool = False
    api_root: bool = False
    timeout: Timeout = field(default_factory=Timeout)
    pool: HostPool | None = None  # another host than the client's (the Batch API's)
    compress: bool = False  # may the body go compressed (``compress_requests``)? chat only

    @functools.cached_property
    def limits(self) -> Limits:
        """The durations that bound this request (see ``deadlines.Limits``)."""
        return Limits.of(self.timeout, self.stream)

    def __repr__(self) -> str:
        return f"Request({self.method} {self.path}, stream={self.stream})"


def _proxies(options: ClientOptions) -> ProxyRules:
    """The proxy rules, read once when the client is made (as httpx does); see ``proxies``.
    A bad proxy URL in the environment raises with a traceback that starts here: the frames
    below hold that URL with its password and the whole environment (the key in
    ``NANOGPT_API_KEY`` too), which a traceback with captured locals would show."""
    try:
        return proxy_rules(options.proxy, options.trust_env, os.environ)
    except InvalidParameterError as e:
        raise e.with_traceback(None) from None


class ClientCore:
    """Settings and the sans-I/O halves of every call, shared by both clients."""

    def __init__(self, api_key: Secret | str | None,
                 options: ClientOptions = DEFAULTS) -> None:
        self.api_key: Secret | None = resolve_api_key(api_key)
        self.options = options
        self.allow_insecure_http = options.allow_insecure_http
        self.base_urls = resolve_base_urls(options.base_url, options.fallback_base_urls,
                                           allow_insecure_http=options.allow_insecure_http)
        self.pool = HostPool(self.base_urls, cooldown=options.failover_cooldown)
        self.policy = options.retry_policy()
        self.timeout = options.timeouts
        self.max_concurrency = options.max_concurrency
        self.headers = {"user-agent": f"nanogpt-python/{__version__}",
                        "accept": "application/json", **(options.default_headers or {})}
        self.models_cache_ttl = options.models_cache_ttl
        self.max_response_bytes = options.max_response_bytes
        self.compression = RequestCompression(options.compress_requests)
        self.proxies = _proxies(options)
        self._models_cache: dict[str, tuple[float, ModelList]] = {}

    @property
    def base_url(self) -> str:
        return self.base_urls[0]

    def describe(self, cls: str) -> str:
        key = "'***'" if self.api_key is not None else "None"
        return f"{cls}(base_url={self.base_url!r}, api_key={key})"

    # building -------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, body: Any = None, auth: Auth = "bearer",
                stream: bool = False, idempotent: bool | None = None, api_root: bool = False,
                timeout: Timeout | float | None = None,
                extra_headers: Mapping[str, str] | None = None) -> Request:
        headers = dict(self.headers)
        if auth == "none":
            pass
        elif auth == "bearer-if-set":
            if self.api_key is not None:
                headers["authorization"] = self.api_key.header("Bearer ")
        elif auth == "x-api-key":
            headers["x-api-key"] = require_key(self.api_key).header()
        else:
            headers["authorization"] = require_key(self.api_key).header("Bearer ")
        payload = None
        if body is not None:
            payload = _encode(body)
            headers["content-type"] = "application/json"
        if stream:
            headers["accept"] = "text/event-stream"
            headers["accept-encoding"] = "identity"
        if extra_headers is not None:
            extra = check_headers(extra_headers, "extra_headers")
            mask_credentials(extra)
            headers.update(extra)
        remember(headers)  # so that a server echoing them back has them masked in errors
        return Request(method=method, path=path, headers=headers, body=payload, stream=stream,
                       idempotent=(method == "GET") if idempotent is None else idempotent,
                       api_root=api_root,
                       timeout=self.timeout if timeout is None else Timeout.coerce(timeout))

    def plan(self, req: Request) -> CallPlan:
        pool = req.pool if req.pool is not None else self.pool
        return CallPlan(method=req.method, path=req.path, headers=req.headers, pool=pool,
                        policy=self.policy, idempotent=req.idempotent, api_root=req.api_root,
                        allow_insecure_http=self.allow_insecure_http, total=req.timeout.total,
                        body=req.body, compression=self.compression if req.compress else None)

    def chat_request(self, model: Any, messages: Any, *, stream: bool, params: Mapping[str, Any],
                     extra_body: Mapping[str, Any] | None,
                     extra_headers: Mapping[str, str] | None,
                     timeout: Timeout | float | None) -> Request:
        body = build_chat_body(model, messages, params, stream=stream, extra_body=extra_body)
        req = self.request("POST", "/chat/completions", body=body, stream=stream,
                           extra_headers=extra_headers, timeout=timeout)
        req.compress = True  # the chat endpoints take compressed bodies (see .compression)
        return req

    def models_request(self, catalog: str) -> Request:
        if catalog not in _CATALOG_PATHS:
            raise InvalidParameterError("catalog", f"must be one of {', '.join(_CATALOG_PATHS)}")
        path, root = _CATALOG_PATHS[catalog]
        # the full catalog needs no key; the other lists are per account
        return self.request("GET", path, api_root=root,
                            auth="bearer" if catalog == "personalized" else "bearer-if-set")

    def balance_request(self) -> Request:
        return self.request("POST", "/check-balance", api_root=True, auth="x-api-key",
                            idempotent=True)

    # decoding -------------------------------------------------------------------------------

    @staticmethod
    def answer_cut(failure: TransportFailure) -> APIConnectionError:
        """The body of a 2xx broke off: raised, never retried (the call may be billed)."""
        cls = APITimeoutError if failure.timeout else APIConnectionError
        return cls(f"the answer was cut off: {failure}; not retried, since the request may "
                   f"already be billed", answer_cut=True)

    @staticmethod
    def answered_with_json(headers: Mapping[str, str]) -> bool:
        """Was a stream request answered with a JSON body instead of events (an error, or
        ``stream`` ignored)? Any other content type is read as events."""
        return "json" in headers.get("content-type", "")

    def not_a_stream(self, status: int, headers: Mapping[str, str],
                     body: bytes) -> Exception:
        """The error for a stream request answered with a JSON body."""
        try:
            self.decode_completion(status, headers, body)  # raises for an error body
        except Exception as e:
            return e
        return APIResponseValidationError(
            "asked for a stream, got a whole JSON completion (the body is in .body)",
            status_code=status, body=body, request_id=headers.get("x-request-id"))

    @staticmethod
    def refuse_coded(status: int, headers: Mapping[str, str]) -> None:
        """For a shell that decodes no content coding (the sync one asks for identity): a
        coded 2xx body is refused, typed, rather than handed over coded (audio would be saved
        as gzip bytes, silently)."""
        coding = (headers.get("content-encoding") or "").strip().lower()
        if coding not in ("", "identity"):
            raise APIResponseValidationError(
                f"the server sent a body in the content coding {coding[:40]!r} though "
                "identity was asked for; this client does not decode it",
                status_code=status, request_id=headers.get("x-request-id"))

    def check_size(self, status: int, headers: Mapping[str, str], body: bytes) -> bytes:
        """Refuse a body over ``max_response_bytes`` (the shells read at most one byte more)."""
        if len(body) > self.max_response_bytes:
            raise APIResponseValidationError(
                f"the response is larger than max_response_bytes={self.max_response_bytes}",
                status_code=status, request_id=headers.get("x-request-id"))
        return body

    @staticmethod
    def _invalid(what: str, status: int, headers: Mapping[str, str], body: bytes,
                 err: Exception) -> APIResponseValidationError:
        return unexpected_answer(what, status, headers, body, err)

    def decode_completion(self, status: int, headers: Mapping[str, str],
                          body: bytes) -> ChatCompletion:
        try:
            completion = _decode_completion(body)
        except DECODE_ERRORS as e:
            raise self._invalid("a chat completion JSON object", status, headers, body, e) from None
        completion.__dict__["_raw_json"] = body
        if not completion.choices:
            err = completion.error
            if err is not None:  # a 2xx carrying an error instead of an answer
                st = err.get("status") if isinstance(err, dict) else None
                raise error_from_response(st if isinstance(st, int) and st >= 400 else 502,
                                          headers, body)
            if "choices" not in completion.raw:
                raise self._invalid("a chat completion (with choices)", status, headers, body,
                                    ValueError("no choices"))
        return completion

    def decode_models(self, catalog: str, status: int, headers: Mapping[str, str],
                      body: bytes) -> ModelList:
        try:
            items = _decode_model_list(body).data
        except DECODE_ERRORS as e:
            raise self._invalid("a model list", status, headers, body, e) from None
        models = ModelList(models_from_dicts(items))
        with_request_id(models, headers)
        self._models_cache[catalog] = (time.monotonic(), models)
        return _copy_list(models)

    def cached_models(self, catalog: str) -> ModelList | None:
        """A copy of the cached list (a caller may change it), or None when none is fresh."""
        hit = self._models_cache.get(catalog)
        if hit is not None and time.monotonic() - hit[0] < self.models_cache_ttl:
            return _copy_list(hit[1])
        return None

    @staticmethod
    def find_model(models: list[Model], model_id: Any) -> Model | None:
        """The model whose id is ``model_id`` exactly (``models.retrieve``)."""
        if not isinstance(model_id, str) or not model_id.strip():
            raise InvalidParameterError("model", "must be a non-empty model id such as "
                                                 "'openai/gpt-5-mini'")
        return next((m for m in models if m.id == model_id), None)

    @staticmethod
    def model_not_found(model_id: str, models: ModelList) -> NotFoundError:
        """``models.retrieve`` of an id the fresh catalog does not hold: the ids it most
        likely meant are named (none is chosen for the caller: a model is a price)."""
        near = closest_ids(model_id, [m.id for m in models])
        hint = f"; did you mean {', '.join(map(repr, near))}?" if near else ""
        return NotFoundError(f"model {scrub(model_id[:200])!r} is not in the catalog{hint}",
                             status_code=404, request_id=models.request_id,
                             code="model_not_found", param="model")

    def decode_balance(self, status: int, headers: Mapping[str, str], body: bytes) -> Balance:
        try:
            raw = loads(body)
            if not isinstance(raw, dict):
                raise msgspec.ValidationError("not an object")
            return Balance(raw)
        except (*DECODE_ERRORS, ValueError) as e:
            raise self._invalid("a balance object", status, headers, body, e) from None

    def stream_core(self, headers: Mapping[str, str],
                    timeout: Timeout | None = None) -> StreamCore:
        """The core of a stream that starts now (its ``first_event``/``stream_total`` clocks
        start here; none without ``timeout``: a stream that failed as it started); what it
        keeps is bounded by ``max_response_bytes``."""
        return StreamCore(headers.get("x-request-id"),
                          first_event=timeout.first_event if timeout else None,
                          stream_total=timeout.stream_total if timeout else None,
                          max_kept=self.max_response_bytes)


def _copy_list(models: ModelList) -> ModelList:
    copy = ModelList(models)
    copy.request_id = models.request_id
    return copy


def lower_headers(items: Any) -> dict[str, str]:
    """A plain dict with lower-case names, from any header mapping."""
    return {k.lower(): v for k, v in items}


def models_from_dicts(items: list[Any]) -> list[Model]:
    """Typed models from catalog entries; an entry with odd fields is kept (see
    :func:`~nanogpt._core.types.model_from_dict`), one that is not an object is skipped."""
    return [model_from_dict(item) for item in items if isinstance(item, dict)]


class ClientBase:
    """The constructor and the plain properties both clients share; each shell adds its
    transport in ``_start_shell``."""

    def __init__(self, api_key: str | Secret | None = None, *,
                 base_url: str | None = DEFAULTS.base_url,
                 fallback_base_urls: list[str] | tuple[str, ...] | None = (
                     DEFAULTS.fallback_base_urls),
                 timeout: Timeout | float | None = DEFAULTS.timeout,
                 max_retries: int = DEFAULTS.max_retries,
                 max_concurrency: int | None = DEFAULTS.max_concurrency,
                 default_headers: Mapping[str, str] | None = DEFAULTS.default_headers,
                 allow_insecure_http: bool = DEFAULTS.allow_insecure_http,
                 retry_base_delay: float = DEFAULTS.retry_base_delay,
                 retry_max_delay: float = DEFAULTS.retry_max_delay,
                 max_retry_after: float = DEFAULTS.max_retry_after,
                 failover_cooldown: float = DEFAULTS.failover_cooldown,
                 models_cache_ttl: float = DEFAULTS.models_cache_ttl,
                 max_response_bytes: int = DEFAULTS.max_response_bytes,
                 retry_statuses: Iterable[int] | None = DEFAULTS.retry_statuses,
                 batch_base_url: str | None = DEFAULTS.batch_base_url,
                 proxy: str | None = DEFAULTS.proxy,
                 trust_env: bool = DEFAULTS.trust_env,
                 compress_requests: int | None = DEFAULTS.compress_requests) -> None:
        """Each keyword argument is a field of :class:`~nanogpt._core.options.ClientOptions`,
        which holds its default and its check (a test keeps the two lists equal)."""
        try:  # wrap the key first, so that no frame of a traceback holds it in the clear
            key = resolve_api_key(api_key)
        finally:
            del api_key
        self._setup(key, ClientOptions.from_arguments(locals()))

    _raw = False  # True in the view ``with_raw_response`` gives: calls return raw answers
    _raw_type: type[RawResponse[Any]] | type[AsyncRawResponse[Any]] = RawResponse
    _shared: Any  # what copies share with their client: the pool and slots (each shell's)

    def _setup(self, key: Secret | None, options: ClientOptions) -> None:
        """Make the client from a resolved key and its options (what ``__init__`` does after
        reading its arguments)."""
        self._core = ClientCore(key, options)
        self._batch_base_url = options.batch_base_url  # see _core.batches.batch_base_url
        self._start_shell(None)

    def _start_shell(self, shared: Any) -> None:
        """Set ``_shared`` (``shared``, or a new pool-and-slots holder when None) and make the
        namespaces (``chat``, ``models``, ...) for this client."""
        raise NotImplementedError

    def _copy(self, core: ClientCore, *, raw: bool) -> Self:
        """A client over ``core`` that shares this one's pool and concurrency slots."""
        new = object.__new__(type(self))
        new._core = core
        new._batch_base_url = core.options.batch_base_url
        new._raw = raw
        new._start_shell(self._shared)
        return new

    def with_options(self, *, api_key: str | Secret | None = None, **changes: Any) -> Self:
        """A copy of this client with other settings (any keyword of the constructor but
        ``max_concurrency``: ``timeout=``, ``max_retries=``, ``base_url=``...), checked as the
        constructor checks them. The copy shares this client's connection pool and
        concurrency slots (``max_concurrency`` is theirs, so it cannot change); closing either
        closes the shared connections, and both stay usable (as after ``close()``)."""
        try:
            key = resolve_api_key(api_key) if api_key is not None else self._core.api_key
        finally:
            del api_key
        options = changed_options(self._core.options, changes)
        return self._copy(ClientCore(key, options), raw=self._raw)

    @functools.cached_property
    def with_raw_response(self) -> Any:
        """This client as a view whose calls return the raw answer: a ``RawResponse``
        (``AsyncRawResponse`` for the async client) with ``status_code``, ``headers``,
        ``request_id``, ``content`` and ``parse()``, which returns what the plain call
        returns. ``client.with_raw_response.chat.completions.create(...)``. Typed ``Any``:
        a type checker cannot follow the namespaces through it. Made once per client (its
        namespaces and batch core are not rebuilt on every call)."""
        return self._copy(self._core, raw=True)

    def _deliver(self, decode: Callable[[int, Mapping[str, str], bytes], T], status: int,
                 headers: Mapping[str, str], body: bytes) -> T:
        """The result of a call from its answer: decoded, with its request id; or, in the
        ``with_raw_response`` view, the raw answer (decoded when it is ``parse()``d)."""
        if self._raw:
            parse = once(lambda: with_request_id(decode(status, headers, body), headers))
            return cast(T, self._raw_type(status, headers, body, parse))
        return with_request_id(decode(status, headers, body), headers)

    def _deliver_stream(self, status: int, headers: Mapping[str, str], stream: S) -> S:
        """A stream as a call returns it: itself, or in the raw view a raw response whose
        ``parse()`` returns it (its body is read through the stream)."""
        if self._raw:
            return cast(S, self._raw_type(status, headers, None, lambda: stream))
        return stream

    @property
    def base_url(self) -> str:
        return self._core.base_url

    @property
    def has_api_key(self) -> bool:
        """Whether a key was given or found in ``NANOGPT_API_KEY``: a caller can say "no
        key" before its first request (the key itself is never exposed)."""
        return self._core.api_key is not None

    def __repr__(self) -> str:
        core = getattr(self, "_core", None)
        return core.describe(type(self).__name__) if core else f"<{type(self).__name__}>"
