"""The account calls as namespaces: ``client.subscription`` (the subscription's quotas) and
``client.messages`` (token counts before sending), sync and async, same shape; and the calls
behind ``client.usage(...)``.

Each method builds its request in :mod:`nanogpt._core.account` (checks, typed results, no I/O)
and moves the bytes through its client's ``_call`` (retries, failover, the concurrency cap,
``with_raw_response``, errors). The clients import this module on first use of a namespace, so
a chat-only program never loads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._core import account
from ._core.account import DateLike, GroupBy, SubscriptionUsage, TokenCount, UsageReport

if TYPE_CHECKING:
    from ._async.client import AsyncNanoGPT
    from ._sync.client import NanoGPT

__all__ = ["AsyncMessages", "AsyncSubscription", "Messages", "Subscription", "async_usage",
           "sync_usage"]


def sync_usage(client: NanoGPT, from_: DateLike | None, to: DateLike | None,
               group_by: GroupBy | None, api_key_id: int | str | None) -> UsageReport:
    req = account.usage_request(client._core, from_, to, group_by=group_by,
                                api_key_id=api_key_id)
    return client._call(req, account.decode_usage)


async def async_usage(client: AsyncNanoGPT, from_: DateLike | None, to: DateLike | None,
                      group_by: GroupBy | None, api_key_id: int | str | None) -> UsageReport:
    req = account.usage_request(client._core, from_, to, group_by=group_by,
                                api_key_id=api_key_id)
    return await client._call(req, account.decode_usage)


class Subscription:
    """``client.subscription``: the subscription's quotas, used and remaining, and when they
    reset."""

    def __init__(self, client: NanoGPT) -> None:
        self._client = client

    def usage(self) -> SubscriptionUsage:
        """``GET /api/subscription/v1/usage``. A key without a subscription gets an answer
        too (``.subscribed`` is False)."""
        return self._client._call(account.subscription_usage_request(self._client._core),
                                  account.decode_subscription_usage)


class AsyncSubscription:
    """``client.subscription`` of the async client (see :class:`Subscription`)."""

    def __init__(self, client: AsyncNanoGPT) -> None:
        self._client = client

    async def usage(self) -> SubscriptionUsage:
        return await self._client._call(
            account.subscription_usage_request(self._client._core),
            account.decode_subscription_usage)


class Messages:
    """``client.messages``: the Messages-format helpers (token counts)."""

    def __init__(self, client: NanoGPT) -> None:
        self._client = client

    def count_tokens(self, *, model: str, messages: Sequence[Mapping[str, Any]],
                     system: str | list[Any] | None = None,
                     tools: list[Mapping[str, Any]] | None = None,
                     tool_choice: Mapping[str, Any] | str | None = None) -> TokenCount:
        """The estimated input tokens of a Messages-format request (``role`` ``user`` or
        ``assistant``; the system prompt as ``system=``), to budget before sending. Runs no
        model, so it is retried like a GET."""
        req = account.count_tokens_request(self._client._core, model=model, messages=messages,
                                           system=system, tools=tools, tool_choice=tool_choice)
        return self._client._call(req, account.decode_token_count)


class AsyncMessages:
    """``client.messages`` of the async client (see :class:`Messages`)."""

    def __init__(self, client: AsyncNanoGPT) -> None:
        self._client = client

    async def count_tokens(self, *, model: str, messages: Sequence[Mapping[str, Any]],
                           system: str | list[Any] | None = None,
                           tools: list[Mapping[str, Any]] | None = None,
                           tool_choice: Mapping[str, Any] | str | None = None) -> TokenCount:
        req = account.count_tokens_request(self._client._core, model=model, messages=messages,
                                           system=system, tools=tools, tool_choice=tool_choice)
        return await self._client._call(req, account.decode_token_count)
