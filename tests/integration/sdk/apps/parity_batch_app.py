"""Batch tasks written the way the official documentation writes them, run under either SDK.

``APP_SDK`` picks the package (``hatchet_worker`` by default, or ``hatchet_sdk``); nothing else in this
file differs, so ``test_parity_batch`` runs the same program on both and compares what the engine does.
Every output says which batch it came from (its members' numbers, its size, when it ran), so the test
can tell how the engine formed the batches from the outputs alone.
"""

import asyncio
import importlib
import os
import time
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

sdk = importlib.import_module(os.environ.get("APP_SDK", "hatchet_worker"))
BatchMemberId = importlib.import_module(sdk.__name__ + ".runnables.types").BatchMemberId
Context = sdk.Context

hatchet = sdk.Hatchet()


class Item(BaseModel):
    n: int
    group: str = "g"
    mode: str = "ok"
    seconds: float = 0.0


class Doubled(BaseModel):
    n: int
    doubled: int
    members: list[int]
    size: int


def describe(inputs: dict[Any, Item]) -> dict[str, Any]:
    return {"members": sorted(i.n for i in inputs.values()), "size": len(inputs),
            "groups": sorted({i.group for i in inputs.values()})}


# -- full batches: a workflow's batch task, flushed only when 3 runs are buffered --------------------
full = hatchet.workflow(name="parity_batch_full", input_validator=Item)


@full.batch_task(name="double", batch_max_size=3)
async def double(inputs: dict[BatchMemberId, Item], ctx: Context) -> dict[BatchMemberId, Doubled]:
    members = sorted(i.n for i in inputs.values())
    return {member: Doubled(n=item.n, doubled=item.n * 2, members=members, size=len(inputs))
            for member, item in inputs.items()}


# -- a partial batch, flushed by the interval -------------------------------------------------------
@hatchet.batch_task(name="parity_batch_partial", input_validator=Item, batch_max_size=10,
                    batch_max_interval=timedelta(seconds=1))
def partial(inputs: dict[BatchMemberId, Item], ctx: Context) -> dict[BatchMemberId, dict[str, Any]]:
    # A sync batch function (a thread), as the async one above is a coroutine.
    return {member: {"n": item.n, **describe(inputs), "at": time.time()} for member, item in inputs.items()}


# -- group keys: runs of different groups never share a batch ---------------------------------------
@hatchet.batch_task(name="parity_batch_grouped", input_validator=Item, batch_max_size=2,
                    batch_max_interval=timedelta(seconds=3), batch_group_key="input.group")
async def grouped(inputs: dict[BatchMemberId, Item], ctx: Context) -> dict[BatchMemberId, dict[str, Any]]:
    return {member: {"n": item.n, "group": item.group, **describe(inputs)} for member, item in inputs.items()}


# -- batch_group_max_runs: one batch of a group at a time --------------------------------------------
@hatchet.batch_task(name="parity_batch_one_at_a_time", input_validator=Item, batch_max_size=1,
                    batch_group_key="input.group", batch_group_max_runs=1)
async def one_at_a_time(inputs: dict[BatchMemberId, Item], ctx: Context) -> dict[BatchMemberId, dict[str, Any]]:
    start = time.time()
    await asyncio.sleep(max(i.seconds for i in inputs.values()))
    return {member: {"n": item.n, "group": item.group, "start": start, "end": time.time()}
            for member, item in inputs.items()}


# -- broadcast: one output for every member ---------------------------------------------------------
@hatchet.batch_task(name="parity_batch_broadcast", input_validator=Item, batch_max_size=3, broadcast_output=True)
async def broadcast(inputs: dict[BatchMemberId, Item], ctx: Context) -> dict[str, Any]:
    return {"total": sum(i.n for i in inputs.values()), **describe(inputs)}


# -- what fails: the function raises, or returns the wrong shape --------------------------------------
@hatchet.batch_task(name="parity_batch_failing", input_validator=Item, batch_max_size=2,
                    batch_max_interval=timedelta(seconds=2), batch_group_key="input.mode")
async def failing(inputs: dict[BatchMemberId, Item], ctx: Context) -> Any:
    mode = next(iter(inputs.values())).mode
    if mode == "raise":
        raise ValueError("batch boom")
    if mode == "list":
        return [{"n": i.n} for i in inputs.values()]
    outputs = {member: {"n": item.n} for member, item in inputs.items()}
    if mode == "extra":  # one output too many, for a run that is not a member
        return {**outputs, "00000000-0000-0000-0000-000000000000": {"n": -1}}
    if mode == "empty":  # n == 0 gets an empty output: that member alone fails
        return {member: ({} if item.n == 0 else {"n": item.n}) for member, item in inputs.items()}
    return outputs


def main() -> None:
    worker = hatchet.worker("parity-batch-worker", slots=10,
                            workflows=[full, partial, grouped, one_at_a_time, broadcast, failing])
    worker.start()


if __name__ == "__main__":
    main()
