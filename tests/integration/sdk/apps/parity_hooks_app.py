"""Lifecycle hooks, written the way the official documentation
writes them, run under either SDK.

``APP_SDK`` picks the package (``hatchet_worker`` by default, or ``hatchet_sdk``); nothing else in this
file differs, so the parity tests run the same program on both and compare what they return.
"""

import importlib
import os
from typing import Any

from pydantic import BaseModel

sdk = importlib.import_module(os.environ.get("APP_SDK", "hatchet_worker"))
Context = sdk.Context
DurableContext = sdk.DurableContext
EmptyModel = sdk.EmptyModel

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


if __name__ == "__main__":
    hatchet.worker("parity-hooks-worker", slots=10, workflows=[hooks, early]).start()
