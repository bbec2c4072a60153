"""The account's usage endpoints and token counts: ``GET /api/v1/usage`` (what the emulator
charged, from its ledger, by UTC day and model), ``GET /api/subscription/v1/usage`` (the
``subscription`` setting: a :class:`SubscriptionPlan`, or None for a key without one) and
``POST /api/v1/messages/count_tokens`` (the chat endpoint's own count of the prompt).

Usage reflects the requests the emulator served: every billed answer is one ledger entry
(``_charges``). The subscription's daily and weekly input-token quotas grow with the input tokens
of chat answers on the models the subscription covers (the catalog's subscription list).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import _catalog, _replies
from ._auth import key_id, unauthorized
from ._charges import Charge, aggregate, utc_day
from ._errors import json_error
from ._exchange import RequestKeys as K

if TYPE_CHECKING:
    from ._routes import Site

__all__ = ["SubscriptionPlan", "count_tokens", "subscription_usage", "usage"]

MAX_RANGE_DAYS = 366
DEFAULT_DAYS = 30
LEGACY_PARAMETERS = ("duration", "page", "pageSize", "sort", "dir", "filter", "weekOffset", "tz",
                     "include_summary")
_GROUPS = {"day": "day", "model": "model", "day,model": "day,model", "model,day": "day,model"}
_ARRAYS = {"day": ("byDay",), "model": ("byModel",),
           "day,model": ("byDay", "byModel", "byDayModel")}


@dataclass(frozen=True)
class SubscriptionPlan:
    """What ``GET /api/subscription/v1/usage`` answers for the emulator's keys: the limits
    (input tokens per UTC day and per week, images per day), what was used before the
    emulator started (chat on subscription models adds its input tokens), the period's end,
    and the state (``active``, ``grace``, ``inactive``)."""

    daily_input_tokens: int = 1_000_000
    weekly_input_tokens: int = 6_000_000
    daily_images: int = 10
    used_daily_input_tokens: int = 0
    used_weekly_input_tokens: int = 0
    used_daily_images: int = 0
    state: str = "active"
    period_end: str = "2099-01-01T00:00:00.000Z"


def _rid_headers(request: web.Request) -> dict[str, str]:
    return {"X-Request-ID": request[K.rid]}


def _bad(request: web.Request, message: str) -> web.Response:
    return json_error(request[K.rid], 400, message)


def _today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def _label(model_id: str) -> str:
    """A model's public label (``model`` values are labels, not ids), or the id when the
    chat catalog does not list it."""
    model = _catalog.lookup(model_id)
    return str(model["name"]) if model is not None else model_id


# GET /api/v1/usage ----------------------------------------------------------------------------

def _range(request: web.Request) -> tuple[dt.date, dt.date] | str:
    """The UTC days asked for, or what is wrong with the query."""
    q = request.query
    today = _today()
    if "from" not in q and "to" not in q:
        return today - dt.timedelta(days=DEFAULT_DAYS - 1), today
    if "from" not in q or "to" not in q:
        return "from and to must be provided together."
    try:
        start, end = (dt.date.fromisoformat(q[name]) for name in ("from", "to"))
        if any(len(q[name]) != 10 for name in ("from", "to")):
            raise ValueError
    except ValueError:
        return "from and to must use YYYY-MM-DD UTC dates."
    if end < start:
        return "to must be on or after from."
    if end > today:
        return "to cannot be in the future."
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        return f"Date ranges are capped at {MAX_RANGE_DAYS} days."
    return start, end


def _query_problem(request: web.Request) -> str | None:
    q = request.query
    legacy = [p for p in LEGACY_PARAMETERS if p in q]
    if legacy:
        return (f"Unsupported parameter: {legacy[0]}. Use explicit UTC from and to dates "
                "(YYYY-MM-DD).")
    if q.get("scope", "current_key") not in ("current_key", "api_key"):
        return "scope must be current_key or api_key."
    if q.get("group_by", "day,model") not in _GROUPS:
        return "group_by must be day, model or day,model."
    if "api_key_id" in q and q["api_key_id"] != str(key_id(request)):
        return "Usage for a different API key cannot be requested with this key."
    return None


def usage_body(charges: list[Charge], start: dt.date, end: dt.date, group_by: str,
               scope: str, key: int) -> dict[str, Any]:
    """The usage answer over ``start..end`` from the ledger's charges."""
    agg = aggregate(charges, start, end, _label)
    today = _today()
    days = [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]
    body: dict[str, Any] = {
        "object": "usage", "scope": scope, "apiKey": {"id": key},
        "from": start.isoformat(), "to": end.isoformat(), "timezone": "UTC",
        "groupBy": group_by,
        "asOf": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "source": {"rollupDays": [d.isoformat() for d in days if d < today],
                   "liveDays": [d.isoformat() for d in days if d >= today],
                   "missingRollupDays": []},
        "totals": agg.totals.to_json(),
    }
    arrays = {
        "byDay": [{"date": d.isoformat(), **b.to_json()} for d, b in agg.by_day.items()],
        "byModel": [{"model": m, **b.to_json()} for m, b in agg.by_model.items()],
        "byDayModel": [{"date": d.isoformat(), "model": m, **b.to_json()}
                       for (d, m), b in agg.by_day_model.items()],
    }
    for name in _ARRAYS[group_by]:
        body[name] = arrays[name]
    return body


async def usage(site: Site, request: web.Request) -> web.Response:
    """``GET /api/v1/usage``: the key's spend, requests and tokens from the ledger."""
    refused = unauthorized(request)
    if refused is not None:
        return refused
    problem = _query_problem(request)
    days = _range(request) if problem is None else problem
    if isinstance(days, str):
        return _bad(request, days)
    group_by = _GROUPS[request.query.get("group_by", "day,model")]
    key = key_id(request)
    body = usage_body(site.ledger.billed_to(key), days[0], days[1], group_by,
                      request.query.get("scope", "current_key"), key)
    return web.json_response(body, headers=_rid_headers(request))


# GET /api/subscription/v1/usage ---------------------------------------------------------------

def _epoch_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _window(used: int, limit: int, reset: dt.datetime) -> dict[str, Any]:
    return {"used": used, "remaining": max(0, limit - used),
            "percentUsed": round(used / limit, 6) if limit else 0, "resetAt": _epoch_ms(reset)}


def _subscription_tokens(charges: list[Charge], since: dt.date) -> int:
    """Input tokens of the chat answers on subscription models since ``since`` (UTC)."""
    total = 0
    for c in charges:
        model = _catalog.lookup(c.model)
        if c.kind == "chat" and model is not None and model["_subscription"] \
                and utc_day(c.at) >= since:
            total += c.input_tokens
    return total


def subscription_body(plan: SubscriptionPlan | None, charges: list[Charge],
                      now: dt.datetime) -> dict[str, Any]:
    """The subscription usage answer; a key without a subscription gets ``active: false``
    and null quotas (not configured), with pay-as-you-go as the billing advice."""
    if plan is None:
        return {"active": False, "state": "inactive",
                "limits": {"dailyInputTokens": None, "weeklyInputTokens": None,
                           "dailyImages": None},
                "dailyInputTokens": None, "weeklyInputTokens": None, "dailyImages": None,
                "period": {"currentPeriodEnd": None}, "allowOverage": True,
                "routing": {"recommendedMode": "paygo", "reason": "no_active_subscription",
                            "subscriptionQuotaAvailable": False}}
    today = now.date()
    monday = today - dt.timedelta(days=today.weekday())
    midnight = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    next_week = dt.datetime.combine(monday + dt.timedelta(days=7), dt.time(), dt.timezone.utc)
    daily = plan.used_daily_input_tokens + _subscription_tokens(charges, today)
    weekly = plan.used_weekly_input_tokens + _subscription_tokens(charges, monday)
    active = plan.state in ("active", "grace")
    available = active and daily < plan.daily_input_tokens \
        and weekly < plan.weekly_input_tokens
    return {
        "active": active, "state": plan.state,
        "limits": {"dailyInputTokens": plan.daily_input_tokens,
                   "weeklyInputTokens": plan.weekly_input_tokens,
                   "dailyImages": plan.daily_images},
        "dailyInputTokens": _window(daily, plan.daily_input_tokens, midnight),
        "weeklyInputTokens": _window(weekly, plan.weekly_input_tokens, next_week),
        "dailyImages": _window(plan.used_daily_images, plan.daily_images, midnight),
        "period": {"currentPeriodEnd": plan.period_end},
        "allowOverage": True,
        "routing": {"recommendedMode": "subscription" if available else "paygo",
                    "reason": "quota_available" if available else "quota_exhausted",
                    "subscriptionQuotaAvailable": available},
    }


async def subscription_usage(site: Site, request: web.Request) -> web.Response:
    """``GET /api/subscription/v1/usage``: the ``subscription`` setting, and its use."""
    refused = unauthorized(request)
    if refused is not None:
        return refused
    body = subscription_body(site.settings.subscription, site.ledger.entries(),
                             dt.datetime.now(dt.timezone.utc))
    return web.json_response(body, headers=_rid_headers(request))


# POST /api/v1/messages/count_tokens -----------------------------------------------------------

def _text(content: Any) -> str:
    """The text of a Messages-format content: a string, or its text blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(b["text"] for b in content if isinstance(b, dict)
                        and isinstance(b.get("text"), str))
    return ""


def count_input_tokens(body: dict[str, Any]) -> int:
    """The chat endpoint's own count (``_replies``): each message's words plus 3 and the
    system prompt as one more message, so a count matches the prompt tokens the same
    conversation is billed for as chat; the tools' JSON adds its words."""
    total = sum(_replies.count_tokens(_text(m.get("content"))) + 3
                for m in body["messages"] if isinstance(m, dict))
    if body.get("system"):
        total += _replies.count_tokens(_text(body["system"])) + 3
    if body.get("tools"):
        total += _replies.count_tokens(json.dumps(body["tools"]))
    return total


async def count_tokens(site: Site, request: web.Request) -> web.Response:
    """``POST /api/v1/messages/count_tokens``: ``{"input_tokens": N}``, free."""
    refused = unauthorized(request)
    if refused is not None:
        return refused
    body = request[K.json]
    if not isinstance(body, dict):
        return _bad(request, "Request body must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        return json_error(request[K.rid], 400, "model is required", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return json_error(request[K.rid], 400, "messages must be a non-empty array",
                          param="messages")
    return web.json_response({"input_tokens": count_input_tokens(body)},
                             headers=_rid_headers(request))
