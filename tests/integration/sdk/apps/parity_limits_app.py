"""Worker labels changed at run time, concurrency strategies and rate limits, written the way the
official documentation writes them, run under either SDK.

``APP_SDK`` picks the package (``hatchet_worker`` by default, or ``hatchet_sdk``); nothing else in this
file differs, so the parity tests run the same program on both and compare what the engine does.
"""

import asyncio
import importlib
import os
import time
from typing import Any

from pydantic import BaseModel

sdk = importlib.import_module(os.environ.get("APP_SDK", "hatchet_worker"))
Context = sdk.Context
EmptyModel = sdk.EmptyModel
ConcurrencyExpression = sdk.ConcurrencyExpression
ConcurrencyLimitStrategy = sdk.ConcurrencyLimitStrategy
RateLimit = sdk.RateLimit
RateLimitDuration = sdk.RateLimitDuration
DesiredWorkerLabel = sdk.DesiredWorkerLabel

hatchet = sdk.Hatchet()

# Rate limit keys are tenant-wide (not namespaced): the test's namespace keeps them apart.
STATIC_KEY = hatchet.namespace + "parity-static"


class Job(BaseModel):
    group: str = "g"
    user: str = "u"
    seconds: float = 0.0


def stamp(input: Job) -> dict[str, Any]:
    return {"group": input.group, "user": input.user, "at": time.time()}


# -- labels ------------------------------------------------------------------------------------------
@hatchet.task()
def relabel(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    ctx.upsert_worker_labels({"model": "fancy", "memory": 512})
    return {"labels": ctx.worker_labels, "worker": ctx.worker_id}


@hatchet.task()
async def aio_relabel(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    await ctx.aio_upsert_worker_labels({"stage": "two"})
    return {"labels": ctx.worker_labels}


@hatchet.task(desired_worker_labels={"model": DesiredWorkerLabel(value="fancy", required=True)})
def needs_fancy(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    return {"ran": True}


# -- concurrency strategies --------------------------------------------------------------------------
cancel_in_progress = hatchet.workflow(name="parity_cancel_in_progress", input_validator=Job, concurrency=[
    ConcurrencyExpression(expression="input.group", max_runs=1,
                          limit_strategy=ConcurrencyLimitStrategy.CANCEL_IN_PROGRESS)])


@cancel_in_progress.task()
async def cip_task(input: Job, ctx: Context) -> dict[str, Any]:
    await asyncio.sleep(input.seconds)
    return stamp(input)


@hatchet.task(name="parity_round_robin", input_validator=Job, concurrency=ConcurrencyExpression(
    expression="input.group", max_runs=1, limit_strategy=ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN))
async def round_robin(input: Job, ctx: Context) -> dict[str, Any]:
    start = time.time()
    await asyncio.sleep(input.seconds)
    return {**stamp(input), "start": start}


# -- rate limits -------------------------------------------------------------------------------------
@hatchet.task(name="parity_static_limited", input_validator=Job,
              rate_limits=[RateLimit(static_key=STATIC_KEY, units=1)])
def static_limited(input: Job, ctx: Context) -> dict[str, Any]:
    return stamp(input)


@hatchet.task(name="parity_dynamic_limited", input_validator=Job,
              rate_limits=[RateLimit(dynamic_key="input.user", units=1, limit=1, duration=RateLimitDuration.SECOND)])
def dynamic_limited(input: Job, ctx: Context) -> dict[str, Any]:
    return stamp(input)


if __name__ == "__main__":
    hatchet.rate_limits.put(STATIC_KEY, 1, RateLimitDuration.SECOND)
    hatchet.worker("parity-limits-worker", slots=10,
                   workflows=[relabel, aio_relabel, needs_fancy, cancel_in_progress, round_robin, static_limited,
                              dynamic_limited]).start()
