"""Declaring a worker's workflows at the engine (``PutWorkflow``), retried per ``ClientConfig.tenacity``.

Replicas of one worker start together and declare the same workflows at the same moment; engine
v0.104.7 answers some of those concurrent declarations ``INTERNAL`` (seen on two pods of a fresh
Deployment), and a worker that gave up there exited and was restarted by the kubelet. The official
SDK retries ``PutWorkflow`` with its tenacity policy; this one uses the same policy (``_retry``: 5
attempts, waits of about 1, 2, 4 and 8 s with jitter, so replicas stop colliding), under which a
rejection (``INVALID_ARGUMENT``, ``PERMISSION_DENIED``...) means the declaration or the token is
wrong and fails at once. Each retry is logged as a warning: a worker that is slow to start says why.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from hatchet_worker import _retry

log = logging.getLogger("hatchet_worker")

CALL_TIMEOUT = 30.0


async def declare(put: Callable[..., Awaitable[Any]], request: Any, *, name: str, metadata: Any,
                  policy: _retry.TenacityConfig | None = None,
                  sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
    """Send ``request`` (the ``PutWorkflow`` of workflow ``name``) until the engine accepts it.

    Raises the last ``grpc.aio.AioRpcError`` on a rejection, or once the policy's attempts failed.
    """
    policy = policy or _retry.TenacityConfig()

    def warn(state: Any) -> None:
        exc = state.outcome
        log.warning("declaring workflow %s failed (%s: %s); retrying (attempt %d of %d)", name,
                    exc.code().name, exc.details(), state.attempt_number, policy.max_attempts)
        policy.before_sleep(state)

    await _retry.aio_call(lambda: put(request, timeout=CALL_TIMEOUT, metadata=metadata, wait_for_ready=True),
                          policy.model_copy(update={"before_sleep": warn}), name=f"PutWorkflow {name}",
                          sleep=sleep)
