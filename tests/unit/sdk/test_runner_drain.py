"""The runner once the drain has ended: an assignment is neither started nor reported.

The process is about to exit, so a task started then would be killed with it; left unreported, it
stays assigned to this worker and the engine reassigns it once the heartbeats stop. Before the end
of the drain, an assignment still runs (the engine's scheduler sees a pause a few seconds late).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

import grpc.aio

from hatchet_worker import ClientConfig, Context, Hatchet, _events
from hatchet_worker._proto import dispatcher_pb2 as pb
from hatchet_worker._register import all_tasks
from hatchet_worker._runner import Runner
from hatchet_worker._stats import Stats

from .two_sdks import TOKEN


class Sent:
    """Collects what the runner reports (the parts of ``_events.EventSender`` it uses)."""

    max_send = 4 << 20
    payload_limit = _events.payload_limit(max_send)

    def __init__(self) -> None:
        self.events: list[Any] = []

    def put(self, event: Any) -> None:
        self.events.append(event)


def assign(runner_state: str) -> tuple[int, list[int], list[str]]:
    """Hand one START_STEP_RUN to a runner in ``runner_state``; (tasks in flight, events, calls)."""
    hatchet = Hatchet(config=ClientConfig(token=TOKEN))
    calls: list[str] = []

    @hatchet.task(name="job")
    async def job(input: Any, ctx: Context) -> dict[str, Any]:
        calls.append(ctx.task_run_id)
        return {}

    async def main() -> tuple[int, list[int], list[str]]:
        sent = Sent()
        channel = grpc.aio.insecure_channel("127.0.0.1:9")
        tasks = {wf.action_id(t): t for wf, t in all_tasks([job])}
        runner = Runner(tasks, cast(Any, sent), Stats(), channel, (), threads=1)
        if runner_state in ("draining", "drained"):
            runner.draining_since = time.monotonic()
        runner.accepting = runner_state != "drained"
        [action_id] = tasks
        runner.handle(pb.AssignedAction(action_type=pb.START_STEP_RUN, action_id=action_id,
                                        task_run_external_id="run-1", action_payload='{"input": {}}')
                      .SerializeToString())
        in_flight = runner.in_flight
        assert await runner.wait_idle(5), "the task did not finish"
        await channel.close()
        runner.close()
        return in_flight, [e.kind for e in sent.events], calls

    return asyncio.run(main())


def test_an_assignment_after_the_drain_is_not_started_and_not_reported() -> None:
    assert assign("drained") == (0, [], [])


def test_an_assignment_during_the_drain_still_runs() -> None:
    in_flight, kinds, calls = assign("draining")
    assert (in_flight, calls) == (1, ["run-1"])
    assert kinds == [_events.STARTED, _events.COMPLETED]
