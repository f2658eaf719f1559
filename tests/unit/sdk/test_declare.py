"""``_declare.declare``: which engine answers are retried, how often, and with what waits (``_retry``'s policy)."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from hatchet_worker._declare import declare
from hatchet_worker._retry import TenacityConfig


def rpc_error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=f"{code.name} detail")


def run(answers: list[grpc.StatusCode | None], policy: TenacityConfig | None = None
        ) -> tuple[list[float], int, BaseException | None]:
    """Declare against a ``put`` answering ``answers`` in turn (None: accepted); the waits slept, the
    calls made and what ``declare`` raised. Waits are the attempt number (no jitter) unless ``policy``."""
    waits: list[float] = []
    calls = 0

    async def put(request: Any, **options: Any) -> None:
        nonlocal calls
        assert options["wait_for_ready"] is True and options["timeout"] > 0 and options["metadata"] == "md"
        answer = answers[calls]
        calls += 1
        if answer is not None:
            raise rpc_error(answer)

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    policy = policy or TenacityConfig(wait=lambda: lambda state: float(state.attempt_number))
    try:
        asyncio.run(declare(put, "request", name="wf", metadata="md", policy=policy, sleep=sleep))
    except grpc.aio.AioRpcError as exc:
        return waits, calls, exc
    return waits, calls, None


@pytest.mark.parametrize("code", [grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNAVAILABLE,
                                  grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED,
                                  grpc.StatusCode.RESOURCE_EXHAUSTED])
def test_transient_and_engine_side_errors_are_retried_with_the_policy_waits(code: grpc.StatusCode) -> None:
    waits, calls, raised = run([code, code, code, None])
    assert raised is None and calls == 4
    assert waits == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("code", [grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.PERMISSION_DENIED,
                                  grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.NOT_FOUND,
                                  grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.UNIMPLEMENTED])
def test_a_rejection_fails_at_once(code: grpc.StatusCode) -> None:
    waits, calls, raised = run([code, None])
    assert isinstance(raised, grpc.aio.AioRpcError) and raised.code() == code
    assert calls == 1 and waits == []


def test_gives_up_after_the_last_attempt_with_the_last_error() -> None:
    waits, calls, raised = run([grpc.StatusCode.INTERNAL] * 5 + [None])
    assert isinstance(raised, grpc.aio.AioRpcError) and raised.code() == grpc.StatusCode.INTERNAL
    assert calls == 5 and len(waits) == 4


def test_default_waits_grow_exponentially_with_up_to_a_second_of_jitter() -> None:
    waits, calls, raised = run([grpc.StatusCode.INTERNAL] * 4 + [None], TenacityConfig())
    assert raised is None and calls == 5
    assert all(2 ** n <= w <= 2 ** n + 1 for n, w in enumerate(waits)), waits


def test_the_configured_attempts_apply_and_each_retry_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    waits, calls, raised = run([grpc.StatusCode.INTERNAL] * 3, TenacityConfig(max_attempts=2, wait=lambda: lambda s: 0))
    assert isinstance(raised, grpc.aio.AioRpcError) and calls == 2 and waits == [0]
    assert "declaring workflow wf failed (INTERNAL: INTERNAL detail); retrying (attempt 1 of 2)" in caplog.text
