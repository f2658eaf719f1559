"""A worker application used by the SDK integration tests (one process per worker).

Knobs (environment): APP_SLOTS, APP_DURABLE_SLOTS, APP_LABELS (JSON), APP_LIFESPAN (ok|fail),
APP_MARKERS (a folder for marker files), APP_TAG (identifies this worker in task outputs).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shlex
import subprocess
import time
from collections.abc import AsyncGenerator
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from hatchet_worker import (
    ConcurrencyExpression,
    ConcurrencyLimitStrategy,
    Context,
    DesiredWorkerLabel,
    DurableContext,
    Hatchet,
    NonRetryableException,
)

hatchet = Hatchet()
TAG = os.environ.get("APP_TAG", "")
MARKERS = Path(os.environ.get("APP_MARKERS", "/tmp"))


def mark(name: str, line: str) -> None:
    with (MARKERS / name).open("a") as f:
        f.write(line + "\n")


class EchoInput(BaseModel):
    value: Any = None


class SleepInput(BaseModel):
    seconds: float = 0.5
    sync: bool = False
    until: float | None = None
    """Wall-clock time to sleep until (overrides ``seconds``): lets a test end tasks at a chosen moment."""

    def duration(self) -> float:
        return max(0.0, self.until - time.time()) if self.until is not None else self.seconds


class FlakyInput(BaseModel):
    succeed_on: int = 2
    key: str = "flaky"


@hatchet.task(name="echo", input_validator=EchoInput)
def echo(input: EchoInput, ctx: Context) -> dict[str, Any]:
    return {"value": input.value, "tag": TAG, "lifespan": ctx.lifespan, "retry_count": ctx.retry_count,
            "worker_id": ctx.worker_id, "pid": os.getpid()}


@hatchet.task(name="aecho", input_validator=EchoInput)
async def aecho(input: EchoInput, ctx: Context) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"value": input.value, "tag": TAG, "async": True}


dag = hatchet.workflow(name="dag", input_validator=EchoInput)


class NumberOut(BaseModel):
    n: int


@dataclasses.dataclass
class NumberData:
    n: int


@dag.task()
def first(input: EchoInput, ctx: Context) -> NumberOut:  # a pydantic model as output
    return NumberOut(n=int(input.value or 0) + 1)


@dag.task()
async def second(input: EchoInput, ctx: Context) -> NumberData:  # a dataclass as output
    return NumberData(n=int(input.value or 0) * 10)


@dag.task(parents=[first, second])
def join(input: EchoInput, ctx: Context) -> dict[str, Any]:
    return {"sum": ctx.task_output(first).n + ctx.task_output(second).n}  # typed, as the official SDK gives them


@hatchet.task(name="flaky", input_validator=FlakyInput, retries=3, backoff_factor=1.5, backoff_max_seconds=2)
def flaky(input: FlakyInput, ctx: Context) -> dict[str, Any]:
    mark(input.key, f"attempt {ctx.attempt_number}")
    if ctx.retry_count < input.succeed_on:
        raise RuntimeError(f"flaky failure on attempt {ctx.attempt_number}")
    return {"attempts": ctx.attempt_number}


@hatchet.task(name="broken", input_validator=FlakyInput, retries=1)
def broken(input: FlakyInput, ctx: Context) -> dict[str, Any]:
    mark(input.key, f"attempt {ctx.attempt_number}")
    raise ValueError(f"boom from attempt {ctx.attempt_number}")


@hatchet.task(name="fatal", input_validator=FlakyInput, retries=3)
def fatal(input: FlakyInput, ctx: Context) -> dict[str, Any]:
    mark(input.key, f"attempt {ctx.attempt_number}")
    raise NonRetryableException("do not retry me")


@hatchet.task(name="sleepy", input_validator=SleepInput, execution_timeout="2m")
async def sleepy(input: SleepInput, ctx: Context) -> dict[str, Any]:
    start = time.time()
    if input.sync:
        await asyncio.to_thread(time.sleep, input.seconds)
    else:
        await asyncio.sleep(input.seconds)
    return {"start": start, "end": time.time(), "tag": TAG}


@hatchet.task(name="blocking", input_validator=SleepInput, execution_timeout="2m")
def blocking(input: SleepInput, ctx: Context) -> dict[str, Any]:
    start = time.time()
    time.sleep(input.seconds)  # a sync task that blocks its thread: heartbeats must go on
    return {"start": start, "end": time.time(), "tag": TAG}


@hatchet.task(name="cancellable", input_validator=FlakyInput, execution_timeout="2m")
async def cancellable(input: FlakyInput, ctx: Context) -> dict[str, Any]:
    mark(input.key, "started")
    try:
        for _ in range(1200):
            await asyncio.sleep(0.1)
            if ctx.is_cancelled:
                mark(input.key, "saw is_cancelled")
    except asyncio.CancelledError:
        mark(input.key, "cancelled")
        raise
    return {"finished": True}


@hatchet.task(name="labelled", desired_worker_labels={"model": DesiredWorkerLabel(value="b", required=True)})
def labelled(input: EchoInput, ctx: Context) -> dict[str, Any]:
    return {"tag": TAG}


@hatchet.durable_task(name="durable", input_validator=EchoInput)
async def durable(input: EchoInput, ctx: DurableContext) -> dict[str, Any]:
    slept = None
    if input.value:
        start = time.time()
        await ctx.aio_sleep_for(f"{input.value}s")  # the engine keeps the timer
        slept = time.time() - start
    return {"durable": True, "tag": TAG, "slept": slept}


@hatchet.task(name="releaser", input_validator=SleepInput, execution_timeout="2m")
async def releaser(input: SleepInput, ctx: Context) -> dict[str, Any]:
    start = time.time()
    await ctx.aio_release_slot()  # frees the slot: another task may start while this one sleeps
    await asyncio.sleep(input.seconds)
    return {"start": start, "end": time.time()}


@hatchet.task(name="refresher", input_validator=SleepInput, execution_timeout="3s")
def refresher(input: SleepInput, ctx: Context) -> dict[str, Any]:
    ctx.refresh_timeout("30s")  # without this the engine would cancel the run after 3 s
    ctx.log("refreshed the timeout")
    time.sleep(input.seconds)
    return {"slept": input.seconds}


evented = hatchet.workflow(name="evented", on_events=["app:ping"])


@evented.task()
def on_ping(input: Any, ctx: Context) -> dict[str, Any]:
    mark("evented", json.dumps({"input": dict(ctx.workflow_input), "by_event": ctx.was_triggered_by_event,
                               "key": ctx.triggering_event_key}))
    return {}


@hatchet.task(name="spawner", input_validator=EchoInput, execution_timeout="2m")
async def spawner(input: EchoInput, ctx: Context) -> dict[str, Any]:
    child = await echo.aio_run({"value": input.value})  # a child run of this task's run
    return {"child": child}


class SizeInput(BaseModel):
    size: int = 0
    key: str = "sized"


@hatchet.task(name="sized", input_validator=SizeInput, retries=2, execution_timeout="2m")
def sized(input: SizeInput, ctx: Context) -> dict[str, Any]:
    """Returns an output of exactly ``size`` bytes of JSON; records each execution."""
    mark(input.key, f"{ctx.workflow_run_id} {ctx.retry_count}")
    return {"pad": "x" * max(0, input.size - len('{"pad":""}'))}


def record(run_id: str, attempt: int) -> None:
    """One row per execution in the test's own PostgreSQL database (APP_PSQL, APP_PG_ARGS)."""
    sql = (f"INSERT INTO executions (run_id, attempt, pid, tag) "
           f"VALUES ('{run_id}', {attempt}, {os.getpid()}, '{TAG}')")
    subprocess.run([os.environ["APP_PSQL"], *shlex.split(os.environ["APP_PG_ARGS"]), "-qAt", "-c", sql],
                   check=True, timeout=60, capture_output=True)


@hatchet.task(name="recorded", input_validator=SleepInput, execution_timeout="3m")
async def recorded(input: SleepInput, ctx: Context) -> dict[str, Any]:
    await asyncio.to_thread(record, ctx.workflow_run_id, ctx.retry_count)
    if input.sync:
        await asyncio.to_thread(time.sleep, input.duration())
    else:
        await asyncio.sleep(input.duration())
    return {"pid": os.getpid(), "tag": TAG}


@hatchet.task(name="stuck", input_validator=SleepInput, execution_timeout="15m")
def stuck(input: SleepInput, ctx: Context) -> dict[str, Any]:
    """A sync task that ignores cancellation and blocks its thread for ``seconds``."""
    mark("stuck", "started")
    time.sleep(input.seconds)
    mark("stuck", "returned")
    return {}


@hatchet.task(name="recorded_sync", input_validator=SleepInput, execution_timeout="3m")
def recorded_sync(input: SleepInput, ctx: Context) -> dict[str, Any]:
    record(ctx.workflow_run_id, ctx.retry_count)
    time.sleep(input.duration())
    return {"pid": os.getpid(), "tag": TAG}


class GroupInput(BaseModel):
    group: str = "a"


@hatchet.task(name="limited", input_validator=GroupInput,
              concurrency=ConcurrencyExpression(expression="input.group", max_runs=1,
                                                limit_strategy=ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN))
async def limited(input: GroupInput, ctx: Context) -> dict[str, Any]:
    start = time.time()
    await asyncio.sleep(0.5)
    return {"start": start, "end": time.time(), "group": input.group}


guarded = hatchet.workflow(name="guarded")


@guarded.task()
def explode(input: Any, ctx: Context) -> dict[str, Any]:
    raise RuntimeError("kaboom")


@guarded.on_failure_task()
def cleanup(input: Any, ctx: Context) -> dict[str, Any]:
    mark("guarded", json.dumps(dict(ctx.task_run_errors)))
    return {"cleaned": True}


@hatchet.durable_task(name="waiter", execution_timeout="2m")
async def waiter(input: EchoInput, ctx: DurableContext) -> dict[str, Any]:
    mark("waiter", "waiting")
    # The lookback window also counts an event pushed just before the wait registered (it needs a
    # scope, as in the official SDK: only events pushed with that scope count).
    event = await ctx.aio_wait_for_event("app:go", "input.ok == true", scope="app",
                                         lookback_window=timedelta(minutes=1))
    return {"event": event}


async def lifespan() -> AsyncGenerator[dict[str, Any], None]:
    mode = os.environ.get("APP_LIFESPAN", "")
    if mode == "fail":
        raise RuntimeError("database unreachable")
    mark("lifespan", "setup")
    yield {"db": "connected", "tag": TAG}
    mark("lifespan", "teardown")


WORKFLOWS = [echo, aecho, dag, flaky, broken, fatal, sleepy, blocking, cancellable, labelled, releaser, refresher,
             evented, spawner, guarded, limited, sized, recorded, recorded_sync, stuck]


def main() -> None:
    slots = int(os.environ["APP_SLOTS"]) if os.environ.get("APP_SLOTS") else None
    labels = json.loads(os.environ.get("APP_LABELS", "{}"))
    workflows = list(WORKFLOWS)
    if os.environ.get("APP_DURABLE"):
        workflows += [durable, waiter]
    worker = hatchet.worker("test-worker", slots=slots, labels=labels, workflows=workflows[:3],
                            lifespan=lifespan if os.environ.get("APP_LIFESPAN") else None)
    worker.register_workflows(workflows[3:])  # registering after construction works too
    worker.start()


if __name__ == "__main__":
    main()
