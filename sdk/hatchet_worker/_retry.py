"""Retrying the client's engine calls, as the official SDK does with its ``TenacityConfig``.

The official SDK retries its client gRPC calls (``PutWorkflow``, ``TriggerWorkflow``,
``BulkTriggerWorkflow``, ``ScheduleWorkflow``, ``PutRateLimit``) and its REST reads with the
``tenacity`` package, configured by ``ClientConfig(tenacity=TenacityConfig(...))``. This SDK keeps
its runtime dependencies to pydantic, grpcio (with protobuf) and prometheus-client, and the policy is
small, so it is written out here with the same fields, defaults and decisions:

* at most ``max_attempts`` calls (5; 0 or less: one call, never retried);
* a gRPC error is retried unless its code says the request itself is wrong and would fail again
  (``UNIMPLEMENTED``, ``INVALID_ARGUMENT``, ``ALREADY_EXISTS``, ``UNAUTHENTICATED``,
  ``PERMISSION_DENIED``, and ``NOT_FOUND`` unless ``retry_not_found``);
* an HTTP answer is retried on 5xx and 404, on 429 only with ``retry_429``; a transport failure
  (refused, reset, timed out) only with ``retry_transport_errors`` and for the methods in
  ``retry_transport_methods`` (GET and DELETE: repeating a POST could create twice);
* before the n-th retry it waits ``min(60, 2 ** (n - 1) + uniform(0, 1))`` seconds (tenacity's
  ``wait_exponential_jitter`` defaults: about 1, 2, 4, 8 s), after calling ``before_sleep``.

``wait`` is a factory called once per retried call, returning ``f(state) -> seconds``, and
``before_sleep`` gets the same :class:`RetryState`. A tenacity wait class (``wait_exponential``,
``wait_random_exponential``...) fits ``wait`` as in the official SDK: it reads only
``attempt_number``. The state is not tenacity's ``RetryCallState``: a callback reading more than
``fn``, ``attempt_number`` and ``outcome`` (the exception) does not fit.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
import urllib.error
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import grpc
from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger("hatchet_worker")
R = TypeVar("R")


class HTTPMethod(StrEnum):
    GET = "GET"
    DELETE = "DELETE"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    HEAD = "HEAD"
    OPTIONS = "OPTIONS"


@dataclass
class RetryState:
    """What a wait and ``before_sleep`` see: the call (``fn``, its name), the attempt that just
    failed (from 1) and its exception (``outcome``)."""

    fn: str
    attempt_number: int
    outcome: BaseException


class WaitExponentialJitter:
    """``min(max, initial * exp_base ** (attempt - 1) + uniform(0, jitter))`` seconds, tenacity's formula."""

    def __init__(self, initial: float = 1, max: float = 60, exp_base: float = 2, jitter: float = 1) -> None:
        self.initial, self.max, self.exp_base, self.jitter = initial, max, exp_base, jitter

    def __call__(self, retry_state: Any) -> float:
        try:
            seconds = float(self.initial * self.exp_base ** (retry_state.attempt_number - 1))
        except OverflowError:
            return self.max
        return max(0.0, min(seconds + random.uniform(0, self.jitter), self.max))


def log_before_sleep(retry_state: Any) -> None:
    log.debug("retrying %s: attempt %d ended with: %r", retry_state.fn, retry_state.attempt_number,
              retry_state.outcome)


class TenacityConfig(BaseModel):
    """How client calls are retried (the official fields and defaults; ``HATCHET_CLIENT_TENACITY_*``)."""

    model_config = ConfigDict(frozen=True)

    max_attempts: int = 5
    retry_429: bool = False
    """Retry HTTP 429 Too Many Requests answers."""
    retry_not_found: bool = False
    """Retry gRPC NOT_FOUND answers."""
    retry_transport_errors: bool = False
    """Retry REST calls that failed in transport (connection, timeout, TLS)."""
    retry_transport_methods: list[HTTPMethod] = Field(default_factory=lambda: [HTTPMethod.GET, HTTPMethod.DELETE])
    """The HTTP methods ``retry_transport_errors`` applies to."""
    # Code, not settings: left out of model_dump/model_dump_json (a dump of ClientConfig must not fail).
    wait: Callable[[], Callable[[Any], float]] = Field(default=WaitExponentialJitter, exclude=True)
    before_sleep: Callable[[Any], None] = Field(default=log_before_sleep, exclude=True)


_NEVER_RETRIED = frozenset({grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INVALID_ARGUMENT,
                            grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.UNAUTHENTICATED,
                            grpc.StatusCode.PERMISSION_DENIED})


def should_retry(exc: BaseException, policy: TenacityConfig, method: str | None = None) -> bool:
    """Whether ``exc`` (from a gRPC call, or from a REST call with HTTP ``method``) is worth another try."""
    if isinstance(exc, grpc.RpcError):
        code = exc.code() if callable(getattr(exc, "code", None)) else None
        if code is grpc.StatusCode.NOT_FOUND:
            return policy.retry_not_found
        return code not in _NEVER_RETRIED
    if isinstance(exc, urllib.error.HTTPError):  # an answer: before URLError, its base class
        if exc.code == 429:
            return policy.retry_429
        return exc.code == 404 or exc.code >= 500
    if isinstance(exc, urllib.error.URLError | TimeoutError | ConnectionError | ssl.SSLError):
        return policy.retry_transport_errors and method is not None and method in policy.retry_transport_methods
    return False


def _next_wait(exc: BaseException, attempt: int, policy: TenacityConfig, wait: Callable[[Any], float],
               name: str, method: str | None) -> float | None:
    """Seconds to wait before the next attempt, or None to give up (after ``before_sleep``)."""
    if attempt >= policy.max_attempts or not should_retry(exc, policy, method):
        return None
    state = RetryState(fn=name, attempt_number=attempt, outcome=exc)
    seconds = wait(state)
    policy.before_sleep(state)
    return seconds


def call(fn: Callable[[], R], policy: TenacityConfig, *, name: str, method: str | None = None,
         sleep: Callable[[float], None] = time.sleep) -> R:
    """``fn()``, retried per ``policy``; the last error is raised as it is."""
    wait = policy.wait()
    attempt = 1
    while True:
        try:
            return fn()
        except Exception as exc:
            seconds = _next_wait(exc, attempt, policy, wait, name, method)
            if seconds is None:
                raise
        sleep(seconds)
        attempt += 1


async def aio_call(fn: Callable[[], Awaitable[R]], policy: TenacityConfig, *, name: str,
                   sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> R:
    """``await fn()``, retried per ``policy`` without blocking the loop while waiting."""
    wait = policy.wait()
    attempt = 1
    while True:
        try:
            return await fn()
        except Exception as exc:
            seconds = _next_wait(exc, attempt, policy, wait, name, None)
            if seconds is None:
                raise
        await sleep(seconds)
        attempt += 1
