"""The sans-I/O half of the account calls beyond the balance: what the key spent
(``client.usage``), the subscription's quotas (``client.subscription.usage``) and token counts
before sending (``client.messages.count_tokens``). Each call's arguments are checked here
(``InvalidParameterError`` before anything is sent), its request built, its answer decoded
into typed results that keep every field the service sent (``.raw``). The namespaces that move
the bytes are in ``nanogpt._account``.

The facts (paths, parameters, shapes) are in docs/nanogpt-api.md, "Usage, subscription quota,
token counts". Money: all three are reads. The two usage GETs are idempotent like every GET; a
token count is a POST that runs no model (NanoGPT documents it as an estimate for planning,
answered with a count and no cost; generation is another endpoint), so it is marked idempotent
too: sending it again can only repeat an estimate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlencode

import msgspec

from .errors import APIResponseValidationError, InvalidParameterError
from .redact import scrub
from .types import DECODE_ERRORS, KeepsRaw, _fitting_fields, loads, unexpected_answer

if TYPE_CHECKING:
    from .client import ClientCore, Request

__all__ = ["DateLike", "GroupBy", "Quota", "SubscriptionUsage", "TokenCount", "UsageReport",
           "UsageRow", "UsageTotals", "count_tokens_request", "decode_subscription_usage",
           "decode_token_count", "decode_usage", "subscription_usage_request", "usage_request",
           "utc_date"]

GroupBy = Literal["day", "model", "day,model", "model,day"]
DateLike = dt.date | dt.datetime | str
MAX_RANGE_DAYS = 366  # the longest range GET /usage answers, both ends counted
DEFAULT_DAYS = 30  # the service's window when no range is given (and ours for `to` alone)
_GROUPS = {"day": "day", "model": "model", "day,model": "day,model", "model,day": "day,model"}
_ROLES = ("user", "assistant")  # the Messages format: the system prompt is `system=`

T = TypeVar("T", bound=msgspec.Struct)


# usage ----------------------------------------------------------------------------------------

class UsageTotals(msgspec.Struct):
    """What a bucket counted: billable ``requests``, ``cost`` (gross USD, a ``Decimal``),
    ``refunded``, ``net_cost`` (``max(0, cost - refunded)``) and the tokens; ``total_tokens``
    is input plus output (reasoning tokens are counted apart, not added)."""

    requests: int = 0
    cost: Decimal = msgspec.field(default=Decimal(0), name="costUsd")
    refunded: Decimal = msgspec.field(default=Decimal(0), name="refundedUsd")
    net_cost: Decimal = msgspec.field(default=Decimal(0), name="netCostUsd")
    input_tokens: int = msgspec.field(default=0, name="inputTokens")
    output_tokens: int = msgspec.field(default=0, name="outputTokens")
    reasoning_tokens: int = msgspec.field(default=0, name="reasoningTokens")
    total_tokens: int = msgspec.field(default=0, name="totalTokens")


class UsageRow(UsageTotals):
    """One row of a grouping: its UTC ``date`` (``byDay``, ``byDayModel``) and/or its public
    ``model`` label (``byModel``, ``byDayModel``), and the counts of :class:`UsageTotals`."""

    date: dt.date | None = None
    model: str | None = None


class UsageReport(KeepsRaw):
    """The key's usage over a UTC date range (``from_`` to ``to``, both included): the
    ``totals`` and the rows of the groupings asked for (``by_day``, ``by_model``,
    ``by_day_model``; empty when not asked for). ``.raw`` holds every field as sent."""

    object: str = "usage"
    scope: str | None = None
    from_: dt.date | None = msgspec.field(default=None, name="from")
    to: dt.date | None = None
    timezone: str | None = None
    group_by: str | None = msgspec.field(default=None, name="groupBy")
    as_of: dt.datetime | None = msgspec.field(default=None, name="asOf")
    totals: UsageTotals = msgspec.field(default_factory=UsageTotals)
    by_day: list[UsageRow] = msgspec.field(default_factory=list, name="byDay")
    by_model: list[UsageRow] = msgspec.field(default_factory=list, name="byModel")
    by_day_model: list[UsageRow] = msgspec.field(default_factory=list, name="byDayModel")

    @property
    def rows(self) -> list[UsageRow]:
        """The finest grouping sent: by day and model, else by day, else by model."""
        return self.by_day_model or self.by_day or self.by_model


def utc_date(value: Any, name: str) -> dt.date:
    """A date the usage endpoint takes (a UTC ``YYYY-MM-DD``) from a ``date``, a ``datetime``
    (an aware one converted to UTC; a naive one read as UTC, as the service reads dates) or
    an ISO 8601 string of either."""
    if isinstance(value, str):
        value = _parse_iso(value.strip(), name)
    if isinstance(value, dt.datetime):
        moment: dt.datetime = value
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.timezone.utc)
        return moment.date()
    if isinstance(value, dt.date):
        day: dt.date = value
        return day
    raise InvalidParameterError(name, "must be a date, a datetime or an ISO 8601 string "
                                      "such as '2026-05-01'")


def _parse_iso(text: str, name: str) -> dt.date | dt.datetime:
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z"))
                                         else text)
    except ValueError:
        raise InvalidParameterError(name, f"{scrub(text[:40])!r} is not an ISO 8601 date "
                                          "such as '2026-05-01'") from None


def usage_range(from_: Any, to: Any, *, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """The range to ask for, or None for the service's default (its last 30 UTC days). The
    service wants both ends; with one given, the other is filled: ``to`` defaults to
    ``today`` (UTC), ``from_`` to 30 days before ``to``. Checked as the service checks:
    ``to`` not before ``from_``, at most 366 days (whether ``to`` is in the future is left to
    the service: the two clocks may differ)."""
    if from_ is None and to is None:
        return None
    end = utc_date(to, "to") if to is not None else today
    start = utc_date(from_, "from_") if from_ is not None else end - dt.timedelta(
        days=DEFAULT_DAYS - 1)
    if end < start:
        if to is None:  # ``to`` was filled with today: the start is what is wrong
            raise InvalidParameterError("from_", f"{start} is in the future (today is {end}, "
                                                 "UTC)")
        raise InvalidParameterError("to", f"{end} is before the start of the range, {start}")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise InvalidParameterError("from_", f"the range {start}..{end} is longer than "
                                             f"{MAX_RANGE_DAYS} days")
    return start, end


def usage_request(core: ClientCore, from_: Any = None, to: Any = None, *,
                  group_by: Any = None, api_key_id: Any = None,
                  today: dt.date | None = None) -> Request:
    """``GET /api/v1/usage?from=&to=&group_by=`` (dates as UTC ``YYYY-MM-DD``)."""
    query: dict[str, str] = {}
    days = usage_range(from_, to, today=today or dt.datetime.now(dt.timezone.utc).date())
    if days is not None:
        query["from"], query["to"] = days[0].isoformat(), days[1].isoformat()
    if group_by is not None:
        if group_by not in _GROUPS:
            raise InvalidParameterError("group_by", "must be 'day', 'model' or 'day,model'")
        query["group_by"] = _GROUPS[group_by]
    if api_key_id is not None:
        if isinstance(api_key_id, bool) or not isinstance(api_key_id, (int, str)) \
                or not str(api_key_id).strip():
            raise InvalidParameterError("api_key_id", "must be the current key's id")
        query["api_key_id"] = str(api_key_id)
    path = "/usage" + (f"?{urlencode(query)}" if query else "")
    return core.request("GET", path)


_decode_report = msgspec.json.Decoder(UsageReport, strict=False).decode


def decode_usage(status: int, headers: Mapping[str, str], body: bytes) -> UsageReport:
    """The usage report; a field of the wrong type (a null count, an odd date) is dropped
    rather than failing the whole report (it stays in ``.raw``)."""
    try:
        report = _decode_report(body)
    except DECODE_ERRORS:
        report = _salvage_report(status, headers, body)
    report.__dict__["_raw_json"] = body
    return report


def _salvage_report(status: int, headers: Mapping[str, str], body: bytes) -> UsageReport:
    try:
        raw = loads(body)
    except DECODE_ERRORS as e:
        raise _invalid("a usage report", status, headers, body, e) from None
    if not isinstance(raw, dict):
        raise _invalid("a usage report", status, headers, body, ValueError("not an object"))
    fitted = _fitting_fields(raw, UsageReport)
    for name in ("byDay", "byModel", "byDayModel"):
        rows = raw.get(name)
        if isinstance(rows, list):
            fitted[name] = [_fitting_fields(r, UsageRow) for r in rows if isinstance(r, dict)]
    if isinstance(raw.get("totals"), dict):
        fitted["totals"] = _fitting_fields(raw["totals"], UsageTotals)
    return msgspec.convert(fitted, UsageReport, strict=False)


# subscription ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Quota:
    """One quota window of the subscription (``dailyInputTokens``, ``weeklyInputTokens``,
    ``dailyImages``; ``daily``/``monthly`` on older answers): ``used``, ``remaining`` and
    ``limit`` (input tokens, or images), ``percent_used`` (a fraction, may exceed 1) and
    ``reset_at`` (a timezone-aware UTC datetime). ``unknown`` says the service could not look
    the counters up (``degraded``, or counters missing): show "unknown", not a full
    allowance."""

    name: str
    used: int | None
    remaining: int | None
    limit: int | None
    percent_used: float | None
    reset_at: dt.datetime | None
    degraded: bool = False

    @property
    def unknown(self) -> bool:
        return self.degraded or self.used is None or self.remaining is None


_NOT_QUOTAS = frozenset({"limits", "period", "routing", "tokenLimits", "subscription"})


class SubscriptionUsage(KeepsRaw):
    """The key's subscription: ``active`` and ``state`` (``active``, ``grace``,
    ``inactive``), the ``quotas`` by name with their reset times, ``period_end``, and the
    service's billing advice (``recommended_mode``: ``subscription``, ``paygo`` or
    ``unavailable``). A key without a subscription gets an answer too, with ``active``
    false: ``subscribed`` says which. Every field as sent is in ``.raw``."""

    active: bool | None = None
    state: str | None = None
    limits: Any = None
    period: Any = None
    routing: Any = None
    allow_overage: bool | None = msgspec.field(default=None, name="allowOverage")
    enforce_daily_limit: bool | None = msgspec.field(default=None, name="enforceDailyLimit")
    grace_until: Any = msgspec.field(default=None, name="graceUntil")

    @property
    def subscribed(self) -> bool:
        """True when the subscription is active (active alone does not mean quota remains:
        see ``quotas``)."""
        return self.active is True

    @property
    def quotas(self) -> dict[str, Quota]:
        """Every quota window the answer holds, by its name, in the order sent; a window
        the service adds later is found too (any object with ``used``/``remaining``)."""
        raw = self.raw
        limits = raw.get("limits")
        if not isinstance(limits, dict):
            limits = {}
        token_limits = raw.get("tokenLimits")
        out: dict[str, Quota] = {}
        for name, value in raw.items():
            if name in _NOT_QUOTAS or not isinstance(value, dict):
                continue
            if not {"used", "remaining", "resetAt"} & value.keys():
                continue
            limit = limits.get(name)
            if name == "tokens" and isinstance(token_limits, dict):
                limit = token_limits.get("total")
            out[name] = Quota(name=name, used=_int(value.get("used")),
                              remaining=_int(value.get("remaining")), limit=_int(limit),
                              percent_used=_float(value.get("percentUsed")),
                              reset_at=timestamp(value.get("resetAt")),
                              degraded=value.get("degraded") is True)
        return out

    @property
    def period_end(self) -> dt.datetime | None:
        """The end of the current billing period (UTC), when known."""
        period = self.period
        return timestamp(period.get("currentPeriodEnd")) if isinstance(period, dict) else None

    @property
    def grace_ends(self) -> dt.datetime | None:
        """When grace access ends (``state == "grace"``), when known."""
        return timestamp(self.grace_until)

    @property
    def recommended_mode(self) -> str | None:
        """The service's billing advice for this key: ``subscription``, ``paygo`` or
        ``unavailable`` (None when the answer has none)."""
        routing = self.routing
        mode = routing.get("recommendedMode") if isinstance(routing, dict) else None
        return mode if isinstance(mode, str) else None


def timestamp(value: Any) -> dt.datetime | None:
    """A timezone-aware UTC datetime from UNIX epoch milliseconds or an ISO 8601 string;
    None for anything else (a null, an out-of-range number)."""
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(value / 1000, dt.timezone.utc)
        if isinstance(value, str) and value.strip():
            text = value.strip()
            parsed = dt.datetime.fromisoformat(
                text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return int(value)
    except (ValueError, OverflowError):  # nan, inf
        return None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None


def subscription_usage_request(core: ClientCore) -> Request:
    """``GET /api/subscription/v1/usage`` (relative to ``/api``, like the balance)."""
    return core.request("GET", "/subscription/v1/usage", api_root=True)


def decode_subscription_usage(status: int, headers: Mapping[str, str],
                              body: bytes) -> SubscriptionUsage:
    return _decode_object(SubscriptionUsage, "a subscription usage object", status, headers,
                          body)


# token counts ---------------------------------------------------------------------------------

class TokenCount(KeepsRaw):
    """``POST /messages/count_tokens``: the estimated ``input_tokens`` of a request (an
    estimate: a provider's tokenizer may count a little differently)."""

    input_tokens: int


def _messages(messages: Any) -> list[Any]:
    """The Messages-format list: ``user``/``assistant`` turns, content a string or blocks."""
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence) \
            or not messages:
        raise InvalidParameterError("messages", "must be a non-empty list of "
                                                "{'role': ..., 'content': ...} messages")
    for i, m in enumerate(messages):
        role = m.get("role") if isinstance(m, Mapping) else None
        if role == "system":
            raise InvalidParameterError(f"messages[{i}]", "the Messages format has no "
                                        "system role: pass the system prompt as system=")
        if role not in _ROLES:
            raise InvalidParameterError(f"messages[{i}]", "must be a message with role "
                                        "'user' or 'assistant'")
        if not isinstance(m.get("content"), (str, list)):
            raise InvalidParameterError(f"messages[{i}].content", "must be a string or a "
                                                                  "list of content blocks")
    return [dict(m) for m in messages]


def count_tokens_request(core: ClientCore, *, model: Any, messages: Any, system: Any = None,
                         tools: Any = None, tool_choice: Any = None) -> Request:
    """The count request, checked (see the module docstring for why it is idempotent)."""
    if not isinstance(model, str) or not model.strip():
        raise InvalidParameterError("model", "must be a non-empty model id")
    body: dict[str, Any] = {"model": model, "messages": _messages(messages)}
    if system is not None:
        if not isinstance(system, (str, list)):
            raise InvalidParameterError("system", "must be a string or a list of text blocks")
        body["system"] = system
    if tools is not None:
        if not isinstance(tools, list) or not all(isinstance(t, Mapping) for t in tools):
            raise InvalidParameterError("tools", "must be a list of tool definitions")
        body["tools"] = [dict(t) for t in tools]
    if tool_choice is not None:
        if not isinstance(tool_choice, (Mapping, str)):
            raise InvalidParameterError("tool_choice", "must be an object such as "
                                                       "{'type': 'auto'}")
        body["tool_choice"] = dict(tool_choice) if isinstance(tool_choice, Mapping) \
            else tool_choice
    return core.request("POST", "/messages/count_tokens", body=body, idempotent=True)


def decode_token_count(status: int, headers: Mapping[str, str], body: bytes) -> TokenCount:
    return _decode_object(TokenCount, "a token count ({'input_tokens': N})", status, headers,
                          body)


# shared ---------------------------------------------------------------------------------------

def _decode_object(type_: type[T], what: str, status: int, headers: Mapping[str, str],
                   body: bytes) -> T:
    """``body`` as ``type_``; a field of the wrong type is dropped (it stays in ``.raw``)
    rather than failing the answer, unless the type cannot do without it."""
    try:
        result = msgspec.json.decode(body, type=type_, strict=False)
    except DECODE_ERRORS as e:
        try:
            raw = loads(body)
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object") from None
            result = msgspec.convert(_fitting_fields(raw, type_), type_, strict=False)
        except (*DECODE_ERRORS, ValueError):
            raise _invalid(what, status, headers, body, e) from None
    result.__dict__["_raw_json"] = body
    return result


def _invalid(what: str, status: int, headers: Mapping[str, str], body: bytes,
             err: Exception) -> APIResponseValidationError:
    return unexpected_answer(what, status, headers, body, err)

