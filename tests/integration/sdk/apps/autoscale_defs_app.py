"""A worker for tests/integration/sdk/test_autoscale_definitions.py: tasks whose definitions the
autoscaler reads (required worker labels with EQUAL and integer comparators, a slot cost, a durable
task). Knobs: APP_SLOTS, APP_DURABLE_SLOTS; worker labels from HATCHET_CLIENT_WORKER_PRESET_LABELS."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from pydantic import BaseModel

from hatchet_worker import Context, DesiredWorkerLabel, DurableContext, Hatchet, WorkerLabelComparator

hatchet = Hatchet()


class Sleep(BaseModel):
    seconds: float = 0.1


@hatchet.task(name="gpu-work", input_validator=Sleep, execution_timeout="2m",
              desired_worker_labels={"gpu": DesiredWorkerLabel(value="yes", required=True),
                                     "zone": DesiredWorkerLabel(value="eu", weight=10)})
async def gpu_work(input: Sleep, ctx: Context) -> dict[str, Any]:
    await asyncio.sleep(input.seconds)
    return {"ok": True}


@hatchet.task(name="big-mem", input_validator=Sleep, execution_timeout="2m",
              desired_worker_labels={"mem": DesiredWorkerLabel(
                  value=16, required=True, comparator=WorkerLabelComparator.GREATER_THAN_OR_EQUAL)})
async def big_mem(input: Sleep, ctx: Context) -> dict[str, Any]:
    await asyncio.sleep(input.seconds)
    return {"ok": True}


@hatchet.task(name="heavy", input_validator=Sleep, execution_timeout="2m", slot_cost=2)
async def heavy(input: Sleep, ctx: Context) -> dict[str, Any]:
    await asyncio.sleep(input.seconds)
    return {"ok": True}


@hatchet.durable_task(name="dur", input_validator=Sleep, execution_timeout="2m")
async def dur(input: Sleep, ctx: DurableContext) -> dict[str, Any]:
    await asyncio.sleep(input.seconds)
    return {"ok": True}


def main() -> None:
    slots = int(os.environ.get("APP_SLOTS", "2"))
    durable = int(os.environ.get("APP_DURABLE_SLOTS", "1"))
    worker = hatchet.worker("defs-worker", slots=slots, durable_slots=durable,
                            workflows=[gpu_work, big_mem, heavy, dur])
    worker.start()


if __name__ == "__main__":
    main()
