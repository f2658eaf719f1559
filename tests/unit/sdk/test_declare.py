"""``_declare.declare``: which engine answers are retried, how often, and with what waits."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from hatchet_worker._declare import ATTEMPTS, declare


def rpc_error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=f"{code.name} detail")


def run(answers: list[grpc.StatusCode | None], jitter: float = 0.5
        ) -> tuple[list[float], int, BaseException | None]:
    """Declare against a ``put`` answering ``answers`` in turn (None: accepted); the waits slept, the
    calls made and what ``declare`` raised."""
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

    try:
        asyncio.run(declare(put, "request", name="wf", metadata="md", sleep=sleep, jitter=lambda: jitter))
    except grpc.aio.AioRpcError as exc:
        return waits, calls, exc
    return waits, calls, None


@pytest.mark.parametrize("code", [grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNAVAILABLE,
                                  grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED])
def test_transient_and_engine_side_errors_are_retried_with_growing_waits(code: grpc.StatusCode) -> None:
    waits, calls, raised = run([code, code, code, None])
    assert raised is None and calls == 4
    assert waits == [0.5, 1.0, 2.0]  # first_delay 0.5 doubling; jitter 0.5 -> factor 1


@pytest.mark.parametrize("code", [grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.PERMISSION_DENIED,
                                  grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.NOT_FOUND,
                                  grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNIMPLEMENTED])
def test_a_rejection_fails_at_once(code: grpc.StatusCode) -> None:
    waits, calls, raised = run([code, None])
    assert isinstance(raised, grpc.aio.AioRpcError) and raised.code() == code
    assert calls == 1 and waits == []


def test_gives_up_after_the_last_attempt_with_the_last_error() -> None:
    waits, calls, raised = run([grpc.StatusCode.INTERNAL] * ATTEMPTS + [None])
    assert isinstance(raised, grpc.aio.AioRpcError) and raised.code() == grpc.StatusCode.INTERNAL
    assert calls == ATTEMPTS and len(waits) == ATTEMPTS - 1


def test_jitter_spreads_the_wait_between_half_and_one_and_a_half_times_the_delay() -> None:
    assert run([grpc.StatusCode.INTERNAL, None], jitter=0.0)[0] == [0.25]
    assert run([grpc.StatusCode.INTERNAL, None], jitter=0.999)[0] == [pytest.approx(0.7495)]
