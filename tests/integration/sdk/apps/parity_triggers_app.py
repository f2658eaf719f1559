"""The cron and scheduled-run feature clients, written the way the official documentation writes
them, run under either SDK.

``APP_SDK`` picks the package (``hatchet_worker`` by default, or ``hatchet_sdk``); nothing else in this
file differs. ``t_manage`` uses the worker's own SDK's ``hatchet.cron`` / ``hatchet.scheduled`` and
reports what each call returned, so the test compares both SDKs' answers.
"""

import importlib
import os
from datetime import UTC, datetime, timedelta
from typing import Any

sdk = importlib.import_module(os.environ.get("APP_SDK", "hatchet_worker"))
Context = sdk.Context
EmptyModel = sdk.EmptyModel
ScheduledRunStatus = importlib.import_module(
    f"{sdk.__name__}.clients.rest.models.scheduled_run_status").ScheduledRunStatus

hatchet = sdk.Hatchet()

target = hatchet.workflow(name="parity_trig_target")


@target.task()
def t_target(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    return {"ran": True}


def shape(model: Any) -> dict[str, Any]:
    """What a returned model carries, without ids and times."""
    data = model.model_dump(mode="json")
    return {"type": type(model).__name__, "fields": sorted(data),
            **{k: data[k] for k in ("workflow_name", "cron", "name", "input", "additional_metadata", "enabled",
                                    "method", "priority") if k in data}}


@hatchet.task(execution_timeout="1m")
def t_manage(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # > crons
    cron = hatchet.cron.create(workflow_name="parity_trig_target", cron_name="nightly", expression="0 3 * * *",
                               input={"who": "cron"}, additional_metadata={"team": "a"})
    out["cron_created"] = shape(cron)
    out["cron_got"] = shape(hatchet.cron.get(cron_id=cron.metadata.id))
    listed = hatchet.cron.list(cron_name="nightly", additional_metadata={"team": "a"})
    out["cron_listed"] = {"type": type(listed).__name__,
                          "ids": [r.metadata.id == cron.metadata.id for r in listed.rows or []],
                          "pagination": type(listed.pagination).__name__}
    hatchet.cron.delete(cron_id=cron.metadata.id)
    out["cron_after_delete"] = len(hatchet.cron.list(cron_name="nightly").rows or [])
    # > scheduled runs
    at = datetime.now(tz=UTC) + timedelta(hours=1)
    run = hatchet.scheduled.create(workflow_name="parity_trig_target", trigger_at=at, input={"who": "sched"},
                                   additional_metadata={"team": "b"})
    out["sched_created"] = shape(run)
    out["sched_at"] = abs((run.trigger_at - at).total_seconds()) < 1
    moved = hatchet.scheduled.update(scheduled_id=run.metadata.id, trigger_at=at + timedelta(hours=1))
    out["sched_moved"] = abs((moved.trigger_at - at).total_seconds() - 3600) < 1
    got = hatchet.scheduled.get(scheduled_id=run.metadata.id)
    out["sched_got"] = shape(got)
    rows = hatchet.scheduled.list(workflow_id=run.workflow_id, statuses=[ScheduledRunStatus.SCHEDULED]).rows or []
    out["sched_listed"] = [r.metadata.id == run.metadata.id for r in rows]
    hatchet.scheduled.delete(scheduled_id=run.metadata.id)
    out["sched_after_delete"] = len(hatchet.scheduled.list(workflow_id=run.workflow_id).rows or [])
    return out


if __name__ == "__main__":
    hatchet.worker("parity-triggers-worker", slots=4, workflows=[target, t_manage]).start()
