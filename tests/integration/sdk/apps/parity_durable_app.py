"""Durable tasks written the way the official documentation writes them, run under either SDK.

``APP_SDK`` picks the package (``hatchet_worker`` by default, or ``hatchet_sdk``); nothing else in this
file differs. The tasks wait with ``aio_wait_for`` on or-groups of a sleep and an event, sleep with
``aio_sleep_for``/``aio_sleep_until``, read ``aio_now``, wait for scoped events (with a lookback
window), spawn children, and report what each call returned, so the test can compare the SDKs.
``d_resume`` is for the worker-death test: it writes a marker per start, spawns a child that writes
a marker per execution, then sleeps durably.
"""

import importlib
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

sdk = importlib.import_module(os.environ.get("APP_SDK", "hatchet_worker"))
Context = sdk.Context
DurableContext = sdk.DurableContext
EmptyModel = sdk.EmptyModel
SleepCondition = sdk.SleepCondition
UserEventCondition = sdk.UserEventCondition
or_ = sdk.or_
EvictionPolicy = sdk.EvictionPolicy

hatchet = sdk.Hatchet()
MARKERS = Path(os.environ.get("APP_MARKERS", "/tmp"))


def mark(name: str, line: str) -> None:
    with (MARKERS / name).open("a") as f:
        f.write(line + "\n")


def shape(value: Any) -> Any:
    """A returned value with ids and times replaced by their type, so the SDKs' answers compare."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return type(value).__name__ if not isinstance(value, str) or len(value) > 20 else value


class Case(BaseModel):
    case: str = ""
    scope: str = ""


class Payment(BaseModel):
    n: int
    case: str


@hatchet.durable_task(name="d_or_sleep", input_validator=Case, execution_timeout=timedelta(minutes=1))
async def d_or_sleep(input: Case, ctx: DurableContext) -> dict[str, Any]:
    start = time.monotonic()
    result = await ctx.aio_wait_for(
        "sleep-or-event",
        or_(SleepCondition(timedelta(seconds=2)), UserEventCondition(event_key="parity-d:never")),
    )
    return {"result": shape(result), "waited": time.monotonic() - start}


@hatchet.durable_task(name="d_or_event", input_validator=Case, execution_timeout=timedelta(minutes=1))
async def d_or_event(input: Case, ctx: DurableContext) -> dict[str, Any]:
    mark(f"waiting-{input.case}", "or_event")
    result = await ctx.aio_wait_for(
        "event-or-sleep",
        or_(SleepCondition(timedelta(seconds=50)),
            UserEventCondition(event_key="parity-d:go", expression=f"input.case == '{input.case}' && input.n == 2")),
    )
    return {"result": result}


@hatchet.durable_task(name="d_all", input_validator=Case, execution_timeout=timedelta(minutes=1))
async def d_all(input: Case, ctx: DurableContext) -> dict[str, Any]:
    """Two separate conditions (no or-group): both must be met."""
    mark(f"waiting-{input.case}", "all")
    result = await ctx.aio_wait_for(
        "sleep-and-event",
        SleepCondition(timedelta(seconds=1)),
        UserEventCondition(event_key="parity-d:go", expression=f"input.case == '{input.case}'"),
    )
    return {"result": shape(result)}


@hatchet.durable_task(name="d_sleeps", input_validator=Case, execution_timeout=timedelta(minutes=1))
async def d_sleeps(input: Case, ctx: DurableContext) -> dict[str, Any]:
    start = time.monotonic()
    slept = await ctx.aio_sleep_for(timedelta(seconds=2))
    first = time.monotonic() - start
    now = await ctx.aio_now()
    again = await ctx.aio_now()
    until = await ctx.aio_sleep_until(now + timedelta(seconds=3))
    # (each aio_now call is an entry of its own: the second records a later time)
    return {"slept": [type(slept).__name__, slept.duration.total_seconds()], "first": first,
            "now": [type(now).__name__, now.tzinfo is not None, again == now],
            "until": [type(until).__name__, until.duration.total_seconds()], "total": time.monotonic() - start}


@hatchet.durable_task(name="d_scoped", input_validator=Case, execution_timeout=timedelta(minutes=1))
async def d_scoped(input: Case, ctx: DurableContext) -> dict[str, Any]:
    mark(f"waiting-{input.case}", "scoped")
    payload = await ctx.aio_wait_for_event("parity-d:scoped", f"input.case == '{input.case}'",
                                           payload_validator=Payment, scope=input.scope,
                                           lookback_window=timedelta(minutes=1))
    return {"type": type(payload).__name__, "n": payload.n}


@hatchet.durable_task(name="d_lookback", input_validator=Case, execution_timeout=timedelta(minutes=1))
async def d_lookback(input: Case, ctx: DurableContext) -> dict[str, Any]:
    start = time.monotonic()
    payload = await ctx.aio_wait_for_event("parity-d:early", scope=input.scope,
                                           lookback_window=timedelta(minutes=5))
    return {"payload": payload, "waited": time.monotonic() - start}


@hatchet.durable_task(name="d_bad_args", input_validator=Case, execution_timeout=timedelta(seconds=30))
async def d_bad_args(input: Case, ctx: DurableContext) -> dict[str, Any]:
    out = {}
    for name, kwargs in {"scope": {"scope": "x"}, "lookback": {"lookback_window": timedelta(seconds=5)}}.items():
        try:
            await ctx.aio_wait_for_event("parity-d:never", **kwargs)
        except ValueError as exc:
            out[name] = str(exc)
    return out


@hatchet.task(name="d_child", input_validator=Case, execution_timeout=timedelta(seconds=30))
async def d_child(input: Case, ctx: Context) -> dict[str, Any]:
    mark(f"child-{input.case}", ctx.workflow_run_id)
    return {"child": input.case}


@hatchet.durable_task(name="d_spawn", input_validator=Case, execution_timeout=timedelta(minutes=1))
async def d_spawn(input: Case, ctx: DurableContext) -> dict[str, Any]:
    one = await d_child.aio_run(Case(case=input.case + "-a"))
    many = await d_child.aio_run_many([d_child.create_bulk_run_item(Case(case=input.case + f"-{i}"))
                                       for i in range(3)])
    ref = await d_child.aio_run(Case(case=input.case + "-ref"), wait_for_result=False)
    return {"one": one, "many": many, "ref": type(ref).__name__, "ref_result": await ref.aio_result()}


@hatchet.durable_task(name="d_resume", input_validator=Case, execution_timeout=timedelta(minutes=3))
async def d_resume(input: Case, ctx: DurableContext) -> dict[str, Any]:
    mark(f"body-{input.case}", f"{os.getpid()} {time.time()}")
    child = await d_child.aio_run(Case(case=input.case))
    slept = await ctx.aio_sleep_for(timedelta(seconds=15))
    mark(f"body-{input.case}", "after-sleep")
    return {"child": child, "slept": slept.duration.total_seconds(), "pid": os.getpid(),
            "invocation": getattr(ctx, "invocation_count", None)}


@hatchet.durable_task(name="d_evict", input_validator=Case, execution_timeout=timedelta(minutes=2),
                      eviction_policy=EvictionPolicy(ttl=timedelta(seconds=2), allow_capacity_eviction=False))
async def d_evict(input: Case, ctx: DurableContext) -> dict[str, Any]:
    mark(f"evict-{input.case}", f"{os.getpid()} {ctx.invocation_count}")
    payload = await ctx.aio_wait_for_event("parity-d:evict", f"input.case == '{input.case}'")
    return {"payload": payload, "invocation": ctx.invocation_count}


@hatchet.durable_task(name="d_hold", input_validator=Case, execution_timeout=timedelta(minutes=2),
                      eviction_policy=None)
async def d_hold(input: Case, ctx: DurableContext) -> dict[str, Any]:
    """Never evicted for time: only a shutdown evicts it."""
    mark(f"hold-{input.case}", f"{os.getpid()} {ctx.invocation_count}")
    payload = await ctx.aio_wait_for_event("parity-d:hold", f"input.case == '{input.case}'")
    return {"payload": payload, "invocation": ctx.invocation_count}


def main() -> None:
    worker = hatchet.worker("parity-durable", workflows=[d_or_sleep, d_or_event, d_all, d_sleeps, d_scoped,
                                                         d_lookback, d_bad_args, d_child, d_spawn, d_resume,
                                                         d_evict, d_hold])
    worker.start()


if __name__ == "__main__":
    main()
