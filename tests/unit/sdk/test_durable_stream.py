"""The worker's durable-task stream (``_durable.DurableStream``) against a scripted engine: acks and
completions routed by entry, a completion that overtakes its waiter kept for it, a waiter re-announced
to the engine, the engine's errors and eviction notices turned into exceptions (no network)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from hatchet_worker._durable import DurableStream, EvictedError
from hatchet_worker._proto import v1_dispatcher_pb2 as pb
from hatchet_worker.exceptions import NonDeterminismError

RUN = "11111111-1111-1111-1111-111111111111"


class FakeEngine:
    """Plays the engine's side of one ``DurableTask`` stream with ``answer(request) -> [responses]``."""

    def __init__(self, answer: Callable[[Any], list[Any]]) -> None:
        self.answer = answer
        self.requests: list[Any] = []

    def stream_stream(self, *args: Any, **kwargs: Any) -> Callable[..., AsyncIterator[Any]]:
        return self.call

    async def call(self, requests: AsyncIterator[Any], metadata: Any = None) -> AsyncIterator[Any]:
        async for request in requests:
            self.requests.append(request)
            for response in self.answer(request):
                yield response


def ref(node: int) -> Any:
    return pb.DurableEventLogEntryRef(durable_task_external_id=RUN, invocation_count=1, branch_id=1, node_id=node)


def stream_for(engine: FakeEngine, evicted: list[tuple[str, int]] | None = None) -> DurableStream:
    return DurableStream(engine, (), lambda: "worker-1",  # type: ignore[arg-type]
                         lambda run, inv: (evicted if evicted is not None else []).append((run, inv)))


def test_a_completion_sent_before_its_waiter_is_kept_and_acks_route_by_task() -> None:
    def answer(request: Any) -> list[Any]:
        if request.HasField("wait_for"):  # already satisfied (a replay): ack, then completion at once
            return [pb.DurableTaskResponse(wait_for_ack=pb.DurableTaskEventWaitForAckResponse(ref=ref(1))),
                    pb.DurableTaskResponse(entry_completed=pb.DurableTaskEventLogEntryCompletedResponse(
                        ref=ref(1), payload=b'{"CREATE": {}}'))]
        return []

    async def main() -> Any:
        stream = stream_for(FakeEngine(answer))
        entry = await stream.wait_for(RUN, 1, None, "lbl")
        await asyncio.sleep(0.05)  # the completion arrives before anyone waits for it
        done = await asyncio.wait_for(stream.result(RUN, 1, entry.branch_id, entry.node_id), 2)
        await stream.close()
        return done

    assert asyncio.run(main()).payload == b'{"CREATE": {}}'


def test_a_waiter_is_announced_and_released_by_the_engines_answer() -> None:
    engine: FakeEngine

    def answer(request: Any) -> list[Any]:
        if request.HasField("worker_status"):
            entries = request.worker_status.waiting_entries
            return [pb.DurableTaskResponse(entry_completed=pb.DurableTaskEventLogEntryCompletedResponse(
                ref=ref(e.node_id), payload=b"{}")) for e in entries]
        return []

    engine = FakeEngine(answer)

    async def main() -> Any:
        stream = stream_for(engine)
        stream._locks[(RUN, 1)] = asyncio.Lock()
        stream._ensure_started()
        done = await asyncio.wait_for(stream.result(RUN, 1, 1, 7), 2)
        await stream.close()
        return done

    assert asyncio.run(main()).ref.node_id == 7
    kinds = [r.WhichOneof("message") for r in engine.requests]
    assert kinds[0] == "register_worker" and "worker_status" in kinds
    assert engine.requests[0].register_worker.worker_id == "worker-1"


def test_engine_errors_and_evictions_fail_the_calls() -> None:
    evicted: list[tuple[str, int]] = []

    def answer(request: Any) -> list[Any]:
        if request.HasField("memo"):
            return [pb.DurableTaskResponse(error=pb.DurableTaskErrorResponse(
                ref=ref(3), error_type=pb.DURABLE_TASK_ERROR_TYPE_NONDETERMINISM, error_message="changed"))]
        if request.HasField("worker_status"):
            return [pb.DurableTaskResponse(server_evict=pb.DurableTaskServerEvictNotice(
                durable_task_external_id=RUN, invocation_count=1, reason="stale"))]
        return []

    async def main() -> None:
        stream = stream_for(FakeEngine(answer), evicted)
        with pytest.raises(NonDeterminismError) as exc:
            await stream.memo(RUN, 1, b"k")
        assert (exc.value.node_id, exc.value.message) == (3, "changed")
        with pytest.raises(EvictedError):
            await asyncio.wait_for(stream.result(RUN, 1, 1, 9), 2)
        await stream.close()

    asyncio.run(main())
    assert evicted == [(RUN, 1)]
