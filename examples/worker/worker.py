"""An example worker: two workflows, the way a user would write them.

Run it against an engine with ``HATCHET_CLIENT_TOKEN`` (and, for a local engine,
``HATCHET_CLIENT_TLS_STRATEGY=none``) set::

    python examples/worker/worker.py

Trigger runs from another shell::

    python examples/worker/worker.py trigger greet '{"name": "Ada"}'
    python examples/worker/worker.py trigger pipeline '{"numbers": [1, 2, 3]}'

In Kubernetes the ``HatchetWorker`` resource sets slots, labels, the worker name and the drain
timeout through the environment; the values in code below are only defaults.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncGenerator
from typing import Any

from pydantic import BaseModel

from hatchet_worker import Context, Hatchet

hatchet = Hatchet()


class GreetInput(BaseModel):
    name: str = "world"


class PipelineInput(BaseModel):
    numbers: list[int] = []
    delay_seconds: float = 0.0


# A standalone task: a one-task workflow.
@hatchet.task(name="greet", input_validator=GreetInput, retries=2)
def greet(input: GreetInput, ctx: Context) -> dict[str, Any]:
    prefix = ctx.lifespan["greeting"] if ctx.lifespan else "Hello"
    return {"message": f"{prefix}, {input.name}!"}


# A DAG: two parallel steps and a join.
pipeline = hatchet.workflow(name="pipeline", input_validator=PipelineInput)


@pipeline.task(execution_timeout="5m")
async def total(input: PipelineInput, ctx: Context) -> dict[str, Any]:
    await asyncio.sleep(input.delay_seconds)
    return {"total": sum(input.numbers)}


@pipeline.task()
def count(input: PipelineInput, ctx: Context) -> dict[str, Any]:
    return {"count": len(input.numbers)}


@pipeline.task(parents=[total, count])
def mean(input: PipelineInput, ctx: Context) -> dict[str, Any]:
    t = ctx.task_output(total)["total"]
    n = ctx.task_output(count)["count"]
    return {"mean": t / n if n else None}


async def lifespan() -> AsyncGenerator[dict[str, str], None]:
    # Open shared resources (clients, pools) here; they are closed after the last task drains.
    yield {"greeting": "Hello"}


def main(argv: list[str]) -> None:
    if len(argv) >= 2 and argv[0] == "trigger":
        workflows = {"greet": greet, "pipeline": pipeline}
        payload = json.loads(argv[2]) if len(argv) > 2 else {}
        print(json.dumps(workflows[argv[1]].run(payload)))
        return
    worker = hatchet.worker("example-worker", slots=10, workflows=[greet, pipeline], lifespan=lifespan)
    worker.start()


if __name__ == "__main__":
    main(sys.argv[1:])
