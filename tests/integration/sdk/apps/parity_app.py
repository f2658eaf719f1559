"""A worker written the way the official documentation writes one, run under either SDK.

``APP_SDK`` picks the package (``hatchet_worker`` by default, or ``hatchet_sdk``); nothing else in
this file differs, so the parity tests run the same program on both and compare what they return.
``APP_LABELS`` (JSON) labels the worker.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

sdk = importlib.import_module(os.environ.get("APP_SDK", "hatchet_worker"))
Context = sdk.Context
EmptyModel = sdk.EmptyModel

hatchet = sdk.Hatchet()


class DagInput(BaseModel):
    value: int


class FirstOutput(BaseModel):
    n: int
    tag: str


@dataclasses.dataclass
class SecondOutput:
    total: int
    items: list[int]


parity_dag = hatchet.workflow(name="parity_dag", input_validator=DagInput)


@parity_dag.task()
def first(input: DagInput, ctx: Context) -> FirstOutput:
    return FirstOutput(n=input.value + 1, tag="first")


@parity_dag.task(parents=[first])
def second(input: DagInput, ctx: Context) -> SecondOutput:
    parent = ctx.task_output(first)
    return SecondOutput(total=parent.n * 10, items=[parent.n, input.value])


@parity_dag.task(parents=[first, second])
async def join(input: DagInput, ctx: Context) -> dict[str, Any]:
    a = ctx.task_output(first)
    b = ctx.task_output(second)
    return {"first_type": type(a).__name__, "second_type": type(b).__name__, "sum": a.n + b.total,
            "tag": a.tag, "items": b.items}


@dataclasses.dataclass
class DataclassInput:
    a: int
    names: list[str]


@hatchet.task(name="parity_dataclass_input", input_validator=DataclassInput)
def dataclass_input(input: DataclassInput, ctx: Context) -> dict[str, Any]:
    return {"type": type(input).__name__, "a": input.a, "names": input.names}


@hatchet.task(name="parity_dict_input", input_validator=dict)
def dict_input(input: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return {"type": type(input).__name__, "input": input}


class ModelOutput(BaseModel):
    doubled: int
    note: str = "default"


@hatchet.task(name="parity_model_output", input_validator=DagInput)
def model_output(input: DagInput, ctx: Context) -> ModelOutput:
    return ModelOutput(doubled=input.value * 2)


@hatchet.task(name="parity_where")
def where(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    return {"worker": ctx.worker_id, "metadata": dict(ctx.additional_metadata)}


@hatchet.task(name="parity_sticky_where", sticky=sdk.StickyStrategy.SOFT)
def sticky_where(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    return {"worker": ctx.worker_id, "metadata": dict(ctx.additional_metadata)}


@hatchet.task(name="parity_spawner", execution_timeout="60s")
async def spawner(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    """Three children with sticky=True: each must run on this task's worker. (The engine honours a
    run's sticky worker only for a workflow declared with a sticky strategy, with either SDK.)"""
    outs = [await sticky_where.aio_run(sticky=True, additional_metadata={"i": str(i)}) for i in range(3)]
    return {"me": ctx.worker_id, "children": [o["worker"] for o in outs],
            "metadata": [o["metadata"].get("i") for o in outs]}


# -- task conditions (the official documentation's shapes) ---------------------------------------
conditions = hatchet.workflow(name="parity_conditions", input_validator=DagInput)


@conditions.task()
def c_start(input: DagInput, ctx: Context) -> FirstOutput:
    return FirstOutput(n=input.value, tag="start")


@conditions.task(parents=[c_start], skip_if=[sdk.ParentCondition(parent=c_start, expression="output.n > 0")])
def c_skipped(input: DagInput, ctx: Context) -> FirstOutput:
    return FirstOutput(n=-1, tag="ran")


@conditions.task(parents=[c_start], wait_for=[sdk.or_(sdk.SleepCondition(timedelta(seconds=2)),
                                                      sdk.UserEventCondition(event_key="parity:never"))])
def c_waited(input: DagInput, ctx: Context) -> dict[str, Any]:
    return {"waited": True}


@conditions.task(parents=[c_start, c_skipped, c_waited])
def c_join(input: DagInput, ctx: Context) -> dict[str, Any]:
    return {"skipped": ctx.was_skipped(c_skipped), "start": ctx.task_output(c_start).n,
            "waited": ctx.task_output(c_waited)["waited"]}


gated = hatchet.workflow(name="parity_gated")


@gated.task()
def g_start(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    return {"started": True}


# (The engine evaluates a task's conditions once its parents finished; in our tests an event wait on
# a root task was never released, with either SDK.)
@gated.task(parents=[g_start],
            wait_for=[sdk.UserEventCondition(event_key="parity:go", expression="input.ok == true")])
def g_task(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    return {"triggers": dict(ctx.trigger_data)}


cancelled = hatchet.workflow(name="parity_cancel_if", input_validator=DagInput)


@cancelled.task()
def k_start(input: DagInput, ctx: Context) -> FirstOutput:
    return FirstOutput(n=input.value, tag="start")


@cancelled.task(parents=[k_start], cancel_if=[sdk.ParentCondition(parent=k_start, expression="output.n > 0")])
def k_victim(input: DagInput, ctx: Context) -> dict[str, Any]:
    return {"ran": True}


WORKFLOWS = [conditions, gated, cancelled, parity_dag, dataclass_input, dict_input, model_output, where,
             sticky_where, spawner]

if __name__ == "__main__":
    labels = json.loads(os.environ.get("APP_LABELS", "{}"))
    hatchet.worker(f"parity-{sdk.__name__}", slots=10, labels=labels, workflows=WORKFLOWS).start()
