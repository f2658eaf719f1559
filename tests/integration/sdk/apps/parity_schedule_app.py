"""Scheduled runs and crons, written the way the official documentation writes them, run under either SDK.

``APP_SDK`` picks the package (``hatchet_worker`` by default, or ``hatchet_sdk``); nothing else in this
file differs. The scheduling calls are made from inside a task, so each SDK's own client creates the
schedules on the real engine. Every run that a schedule or a cron starts writes a marker file
(``APP_MARKERS``) with its input and metadata, for the test to read.
"""

import importlib
import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

sdk = importlib.import_module(os.environ.get("APP_SDK", "hatchet_worker"))
Context = sdk.Context
EmptyModel = sdk.EmptyModel
MARKERS = Path(os.environ["APP_MARKERS"])

hatchet = sdk.Hatchet()


class Job(BaseModel):
    n: int = 0


def record(kind: str, input: Job, ctx: Any) -> dict[str, Any]:
    # Without the keys the engine adds on its own (hatchet__*, a traceparent).
    seen = {"n": input.n, "metadata": {k: v for k, v in ctx.additional_metadata.items()
                                       if not k.startswith("hatchet__") and k != "traceparent"}}
    (MARKERS / f"{kind}-{uuid.uuid4().hex}.json").write_text(json.dumps(seen))
    return seen


later = hatchet.workflow(name="parity_later", input_validator=Job, default_additional_metadata={"from": "default"})


@later.task()
def later_task(input: Job, ctx: Context) -> dict[str, Any]:
    return record("later", input, ctx)


cron_target = hatchet.workflow(name="parity_cron_target", input_validator=Job)


@cron_target.task()
def cron_task(input: Job, ctx: Context) -> dict[str, Any]:
    return record("cron", input, ctx)


declared = hatchet.workflow(name="parity_declared_cron", input_validator=Job, on_crons=["* * * * *"],
                            cron_input=Job(n=7))


@declared.task()
def declared_task(input: Job, ctx: Context) -> dict[str, Any]:
    return record("declared", input, ctx)


@hatchet.task(name="parity_scheduler")
async def scheduler(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    run_at = datetime.now(UTC) + timedelta(seconds=3)
    version = await later.aio_schedule(run_at, Job(n=5), additional_metadata={"k": "v"})
    again = later.schedule(run_at + timedelta(seconds=1), Job(n=6), priority=3)
    cron = await cron_target.aio_create_cron("every-minute", "* * * * *", Job(n=9), additional_metadata={"c": "1"},
                                             priority=2)
    scheduled = [v.scheduled_workflows[0] for v in (version, again)]
    return {
        "versions": [type(v).__name__ for v in (version, again)],
        "same_version": version.id == again.id != "",
        "scheduled_ids": [bool(s.id) for s in scheduled],
        "trigger_at_ms": [round((s.trigger_at.ToDatetime(tzinfo=UTC) - run_at).total_seconds() * 1000)
                          for s in scheduled],
        "cron": {"type": type(cron).__name__, "name": cron.name, "cron": cron.cron, "input": cron.input,
                 "additional_metadata": cron.additional_metadata, "enabled": cron.enabled,
                 "method": cron.method.value, "priority": cron.priority,
                 "workflow_name": cron.workflow_name.removeprefix(hatchet.namespace), "has_id": bool(cron.metadata.id)},
    }


if __name__ == "__main__":
    hatchet.worker("parity-schedule-worker", slots=10,
                   workflows=[later, cron_target, declared, scheduler]).start()
