"""Workflow-level settings (priority, stickiness, concurrency, typed inputs), written the way the
official documentation writes them, run under either SDK.

``APP_SDK`` picks the package (``hatchet_worker`` by default, or ``hatchet_sdk``); nothing else in this
file differs, so the parity tests compare what the engine records for each.
"""

import asyncio
import importlib
import os
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

sdk = importlib.import_module(os.environ.get("APP_SDK", "hatchet_worker"))
Context = sdk.Context
EmptyModel = sdk.EmptyModel
ConcurrencyExpression = sdk.ConcurrencyExpression
ConcurrencyLimitStrategy = sdk.ConcurrencyLimitStrategy

hatchet = sdk.Hatchet()


@dataclass
class Order:
    sku: str
    qty: int = 1


class Job(BaseModel):
    group: str
    seconds: float = 0.0


# Every option left at its default: the engine records what each SDK sends unasked.
plain = hatchet.workflow(name="parity_settings_plain")


@plain.task()
def s_plain(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    return {"ok": True}


# A dataclass input and explicit settings.
orders = hatchet.workflow(name="parity_settings_orders", input_validator=Order, default_priority=sdk.Priority.HIGH,
                          sticky=sdk.StickyStrategy.SOFT)


@orders.task()
def s_order(input: Order, ctx: Context) -> dict[str, Any]:
    return {"sku": input.sku, "qty": input.qty}


# One concurrency expression for the workflow: at most one run per group; a newer run of a busy group
# is cancelled.
limited = hatchet.workflow(name="parity_settings_limited", input_validator=Job, concurrency=ConcurrencyExpression(
    expression="input.group", max_runs=1, limit_strategy=ConcurrencyLimitStrategy.CANCEL_NEWEST))


@limited.task()
async def s_limited(input: Job, ctx: Context) -> dict[str, Any]:
    await asyncio.sleep(input.seconds)
    return {"group": input.group}


# A list of expressions and an int on a standalone task.
listed = hatchet.workflow(name="parity_settings_listed", input_validator=Job, concurrency=[
    ConcurrencyExpression(expression="input.group", max_runs=2,
                          limit_strategy=ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN)])


@listed.task()
def s_listed(input: Job, ctx: Context) -> dict[str, Any]:
    return {"group": input.group}


@hatchet.task(name="parity_settings_standalone", concurrency=3, default_priority=2)
def s_standalone(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    return {"ok": True}


if __name__ == "__main__":
    hatchet.worker("parity-settings-worker", slots=10,
                   workflows=[plain, orders, limited, listed, s_standalone]).start()
