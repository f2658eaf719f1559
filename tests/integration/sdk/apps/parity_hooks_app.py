"""Lifecycle hooks, dependency injection and task defaults, written the way the official
documentation writes them, run under either SDK.

``APP_SDK`` picks the package (``hatchet_worker`` by default, or ``hatchet_sdk``); nothing else in this
file differs, so the parity tests run the same program on both and compare what they return.
"""

import asyncio
import importlib
import os
from collections.abc import AsyncGenerator, Generator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel

sdk = importlib.import_module(os.environ.get("APP_SDK", "hatchet_worker"))
Context = sdk.Context
DurableContext = sdk.DurableContext
EmptyModel = sdk.EmptyModel
Depends = sdk.Depends

hatchet = sdk.Hatchet()


class HookInput(BaseModel):
    fail: bool = False


# -- on_success_task: runs last, after every leaf task succeeded --------------------------------------
hooks = hatchet.workflow(name="parity_hooks", input_validator=HookInput)


@hooks.task()
def h_first(input: HookInput, ctx: Context) -> dict[str, Any]:
    return {"n": 1}


@hooks.task(parents=[h_first])
def h_second(input: HookInput, ctx: Context) -> dict[str, Any]:
    if input.fail:
        raise ValueError("h_second failed on purpose")
    return {"n": ctx.task_output(h_first)["n"] + 1}


@hooks.durable_task()
async def h_durable(input: HookInput, ctx: DurableContext) -> dict[str, Any]:
    return {"durable": True}


@hooks.on_success_task()
def h_done(input: HookInput, ctx: Context) -> dict[str, Any]:
    def visible(task: Any) -> bool:
        try:
            ctx.task_output(task)
        except Exception:
            return False
        return True

    return {"second": ctx.task_output(h_second), "durable": ctx.task_output(h_durable),
            "sees_first": visible(h_first), "worker": ctx.worker_id}


# The hook may be declared before the tasks: its parents are the leaves when the worker registers.
early = hatchet.workflow(name="parity_hooks_early")


@early.on_success_task(name="early_done", retries=1)
async def early_done(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    return {"only": ctx.task_output(only)}


@early.task()
async def only(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    return {"ran": True}


# -- on_failure_task: runs when a task of the run failed ---------------------------------------------
failing = hatchet.workflow(name="parity_failure", input_validator=HookInput)


@failing.task()
def f_step(input: HookInput, ctx: Context) -> dict[str, Any]:
    if input.fail:
        raise ValueError("f_step failed on purpose")
    return {"ok": True}


@failing.on_failure_task(retries=1)
def f_cleanup(input: HookInput, ctx: Context) -> dict[str, Any]:
    errors = ctx.task_run_errors
    return {"failed": sorted(errors), "says": "f_step failed on purpose" in errors.get("f_step", ""),
            "worker": ctx.worker_id}


# -- dependency injection: Annotated[T, Depends(fn)] -------------------------------------------------
CLEANUPS: list[str] = []  # context managers' exits, in order, across runs in this worker process


async def async_dep(input: EmptyModel, ctx: Context) -> str:
    return f"async:{getattr(input, 'who', '?')}"


def sync_dep(input: EmptyModel, ctx: Context) -> str:
    return "sync"


@asynccontextmanager
async def async_cm_dep(input: EmptyModel, ctx: Context,
                       inner: Annotated[str, Depends(async_dep)]) -> AsyncGenerator[str, None]:
    try:
        yield "async_cm+" + inner
    finally:
        CLEANUPS.append("async_cm")


@contextmanager
def sync_cm_dep(input: EmptyModel, ctx: Context,
                inner: Annotated[str, Depends(sync_dep)]) -> Generator[str, None, None]:
    try:
        yield "sync_cm+" + inner
    finally:
        CLEANUPS.append("sync_cm")


def chained_dep(input: EmptyModel, ctx: Context, base: Annotated[str, Depends(sync_cm_dep)]) -> str:
    return "chained+" + base


SyncDep = Annotated[str, Depends(sync_dep)]  # a type alias works too


class DepsOutput(BaseModel):
    async_dep: str
    sync_dep: str
    async_cm: str
    sync_cm: str
    chained: str
    alias: str
    cleanups_before_return: list[str]


@hatchet.task(name="parity_di_async")
async def di_async(input: EmptyModel, ctx: Context,
                   a: Annotated[str, Depends(async_dep)], s: Annotated[str, Depends(sync_dep)],
                   acm: Annotated[str, Depends(async_cm_dep)], scm: Annotated[str, Depends(sync_cm_dep)],
                   chained: Annotated[str, Depends(chained_dep)], alias: SyncDep) -> DepsOutput:
    return DepsOutput(async_dep=a, sync_dep=s, async_cm=acm, sync_cm=scm, chained=chained, alias=alias,
                      cleanups_before_return=list(CLEANUPS))


@hatchet.task(name="parity_di_sync")
def di_sync(input: EmptyModel, ctx: Context, a: Annotated[str, Depends(async_dep)],
            scm: Annotated[str, Depends(sync_cm_dep)]) -> dict[str, Any]:
    return {"async_dep": a, "sync_cm": scm}


@hatchet.task(name="parity_di_cleanups")
def di_cleanups(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    out = {"cleanups": list(CLEANUPS)}
    CLEANUPS.clear()
    return out


def broken_dep(input: EmptyModel, ctx: Context) -> str:
    raise ValueError("broken_dep failed on purpose")


@hatchet.task(name="parity_di_broken")
async def di_broken(input: EmptyModel, ctx: Context, b: Annotated[str, Depends(broken_dep)]) -> dict[str, Any]:
    return {"unreachable": b}


@hatchet.task(name="parity_retry_after", retries=1)
def retry_after(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    if ctx.retry_count == 0:
        raise sdk.RetryAfterException("not yet", after=timedelta(seconds=1))
    return {"attempt": ctx.retry_count + 1}


# -- task_defaults: values for the options a task leaves at their defaults -------------------------
defaults = hatchet.workflow(name="parity_defaults",
                            task_defaults=sdk.TaskDefaults(retries=2, execution_timeout=timedelta(seconds=3)))


@defaults.task()
def d_flaky(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    if ctx.retry_count < 2:
        raise ValueError(f"attempt {ctx.retry_count + 1} fails on purpose")
    return {"attempt": ctx.retry_count + 1}


@defaults.task(execution_timeout=timedelta(seconds=30), retries=1)
async def d_own(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    await asyncio.sleep(4)  # longer than the workflow's default timeout: the task's own value applies
    return {"attempt": ctx.retry_count + 1}


timeouts = hatchet.workflow(name="parity_defaults_timeout",
                            task_defaults=sdk.TaskDefaults(execution_timeout=timedelta(seconds=2)))


@timeouts.task()
async def d_slow(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    await asyncio.sleep(8)
    return {"finished": True}


if __name__ == "__main__":
    hatchet.worker("parity-hooks-worker", slots=10,
                   workflows=[hooks, early, failing, di_async, di_sync, di_cleanups, di_broken, retry_after, defaults,
                              timeouts]).start()
