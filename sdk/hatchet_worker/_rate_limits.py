"""``hatchet.rate_limits``: creating the static rate limits tasks consume.

``put`` is ``WorkflowService/PutRateLimit`` (gRPC), as in the official SDK; putting an existing key
changes its limit and window. ``list`` is the engine's REST API (``/api/v1/tenants/{tenant}/rate-limits``),
answering with the official ``RateLimitList``. The official client's ``pause`` needs an RPC engine v0.104.7
does not have: it raises naming itself.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, NoReturn

from hatchet_worker import _filters, _parity, _rest
from hatchet_worker._proto import workflows_pb2
from hatchet_worker.clients.rest.models.feature_parts import (
    RateLimitList,
    RateLimitOrderByDirection,
    RateLimitOrderByField,
)
from hatchet_worker.exceptions import UnsupportedFeatureError
from hatchet_worker.rate_limit import RateLimitDuration

if TYPE_CHECKING:
    from hatchet_worker.client import Hatchet

NO_PAUSE = _parity.NO_PAUSE


def put_request(key: str, limit: int, duration: RateLimitDuration) -> workflows_pb2.PutRateLimitRequest:
    return workflows_pb2.PutRateLimitRequest(key=key, limit=limit, duration=workflows_pb2.RateLimitDuration.Value(
        RateLimitDuration(duration).value))


class RateLimitsClient:
    def __init__(self, client: Hatchet) -> None:
        self._client = client

    def put(self, key: str, limit: int, duration: RateLimitDuration = RateLimitDuration.SECOND) -> None:
        """Create (or update) the static rate limit ``key``: ``limit`` units per ``duration``."""
        runs = self._client.runs
        # The key is not namespaced, as in the official SDK (nor is a task's RateLimit key).
        req = put_request(key, limit, duration)
        runs._retrying("PutRateLimit", lambda: runs._calls()["put_rate_limit"](req, timeout=30.0, metadata=runs._md()))

    async def aio_put(self, key: str, limit: int, duration: RateLimitDuration = RateLimitDuration.SECOND) -> None:
        runs = self._client.runs
        req = put_request(key, limit, duration)
        await runs._aio_retrying("PutRateLimit", lambda: runs._aio_calls()["put_rate_limit"](
            req, timeout=30.0, metadata=runs._md()))

    def pause(self, key: str, until: datetime) -> NoReturn:
        raise UnsupportedFeatureError("hatchet.rate_limits.pause", NO_PAUSE)

    async def aio_pause(self, key: str, until: datetime) -> NoReturn:
        raise UnsupportedFeatureError("hatchet.rate_limits.aio_pause", NO_PAUSE)

    def list(self, offset: int | None = None, limit: int | None = None, search: str | None = None,
             order_by_field: RateLimitOrderByField | None = None,
             order_by_direction: RateLimitOrderByDirection | None = None) -> RateLimitList:
        """The tenant's rate limits (``search`` matches keys), with their current values."""
        path = _rest.with_query("rate-limits", {"offset": offset, "limit": limit, "search": search,
                                                "orderByField": order_by_field,
                                                "orderByDirection": order_by_direction})
        return RateLimitList.model_validate(_filters.rest(self._client, "GET", path))

    async def aio_list(self, offset: int | None = None, limit: int | None = None, search: str | None = None,
                       order_by_field: RateLimitOrderByField | None = None,
                       order_by_direction: RateLimitOrderByDirection | None = None) -> RateLimitList:
        return await asyncio.to_thread(self.list, offset, limit, search, order_by_field, order_by_direction)
