"""``hatchet.rate_limits``: creating the static rate limits tasks consume.

``put`` is ``WorkflowService/PutRateLimit`` (gRPC), as in the official SDK; putting an existing key
changes its limit and window. The official client's ``pause`` needs an RPC engine v0.104.7 does not
have, and ``list`` is not provided yet: both raise naming themselves.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

from hatchet_worker import _parity
from hatchet_worker._proto import workflows_pb2
from hatchet_worker.exceptions import UnsupportedFeatureError
from hatchet_worker.rate_limit import RateLimitDuration

if TYPE_CHECKING:
    from hatchet_worker.client import Hatchet

NO_PAUSE, NO_LIST = _parity.NO_PAUSE, _parity.NO_RATE_LIMIT_LIST


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
        runs._calls()["put_rate_limit"](put_request(key, limit, duration), timeout=30.0, metadata=runs._md())

    async def aio_put(self, key: str, limit: int, duration: RateLimitDuration = RateLimitDuration.SECOND) -> None:
        runs = self._client.runs
        await runs._aio_calls()["put_rate_limit"](put_request(key, limit, duration), timeout=30.0,
                                                  metadata=runs._md())

    def pause(self, key: str, until: datetime) -> NoReturn:
        raise UnsupportedFeatureError("hatchet.rate_limits.pause", NO_PAUSE)

    async def aio_pause(self, key: str, until: datetime) -> NoReturn:
        raise UnsupportedFeatureError("hatchet.rate_limits.aio_pause", NO_PAUSE)

    def list(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise UnsupportedFeatureError("hatchet.rate_limits.list", NO_LIST)

    async def aio_list(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise UnsupportedFeatureError("hatchet.rate_limits.aio_list", NO_LIST)
