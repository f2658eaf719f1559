"""Declaring a worker's workflows at the engine (``PutWorkflow``), with bounded retries.

Replicas of one worker start together and declare the same workflows at the same moment; engine
v0.104.7 answers some of those concurrent declarations ``INTERNAL`` (seen on two pods of a fresh
Deployment), and a worker that gave up there exited and was restarted by the kubelet. The official
SDK retries ``PutWorkflow`` (5 attempts); so does this one, with jittered backoff so replicas stop
colliding, but only for transport and engine-side errors: a rejection (``INVALID_ARGUMENT``,
``PERMISSION_DENIED``...) means the declaration or the token is wrong, and fails at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from hatchet_worker._events import Verdict, classify

log = logging.getLogger("hatchet_worker")

ATTEMPTS = 5
FIRST_DELAY = 0.5
CALL_TIMEOUT = 30.0


async def declare(put: Callable[..., Awaitable[Any]], request: Any, *, name: str, metadata: Any,
                  attempts: int = ATTEMPTS, first_delay: float = FIRST_DELAY,
                  sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                  jitter: Callable[[], float] = random.random) -> None:
    """Send ``request`` (the ``PutWorkflow`` of workflow ``name``) until the engine accepts it.

    Raises the last ``grpc.aio.AioRpcError`` on a rejection, or once ``attempts`` calls failed.
    """
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            await put(request, timeout=CALL_TIMEOUT, metadata=metadata, wait_for_ready=True)
            return
        except grpc.aio.AioRpcError as exc:
            if classify(exc.code()) in (Verdict.REJECT, Verdict.UNIMPLEMENTED) or attempt == attempts:
                raise
            wait = delay * (0.5 + jitter())
            log.warning("declaring workflow %s failed (%s: %s); retrying in %.1f s (attempt %d of %d)",
                        name, exc.code().name, exc.details(), wait, attempt, attempts)
            await sleep(wait)
            delay *= 2
