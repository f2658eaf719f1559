"""The runs client (``hatchet.runs``), written the way the official documentation writes it, run
under either SDK.

``APP_SDK`` picks the package (``hatchet_worker`` by default, or ``hatchet_sdk``); nothing else in this
file differs. ``t_runs`` (sync forms) and ``t_aio_runs`` (``aio_`` forms) trigger runs, then get,
list, replay and cancel them with the worker's own SDK and report what each call returned and what
the engine did, so the test compares both SDKs' answers.
"""

import asyncio
import importlib
import os
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

sdk = importlib.import_module(os.environ.get("APP_SDK", "hatchet_worker"))
Context = sdk.Context
EmptyModel = sdk.EmptyModel
BulkCancelReplayOpts = sdk.BulkCancelReplayOpts
RunFilter = sdk.RunFilter
TriggerWorkflowOptions = sdk.TriggerWorkflowOptions
V1TaskStatus = importlib.import_module(f"{sdk.__name__}.clients.rest.models.v1_task_status").V1TaskStatus

hatchet = sdk.Hatchet()
ran: Counter[str] = Counter()


class Key(BaseModel):
    key: str


target = hatchet.workflow(name="parity_runs_target", input_validator=Key)


@target.task()
def t_count(input: Key, ctx: Context) -> dict[str, Any]:
    ran[input.key] += 1
    return {"key": input.key}


slow = hatchet.workflow(name="parity_runs_slow", input_validator=Key)


@slow.task(execution_timeout="2m")
async def t_slow(input: Key, ctx: Context) -> dict[str, Any]:
    await asyncio.sleep(90)
    return {}


def wait_for(check: Any, what: str, timeout: float = 40) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(what)


def shape(details: Any) -> dict[str, Any]:
    """What a V1WorkflowRunDetails carries, without ids and times."""
    return {"type": type(details).__name__, "run": type(details.run).__name__,
            "status": details.run.status.value, "output_keys": sorted(details.run.output),
            "tasks": [(type(t).__name__, t.display_name.split("-")[0], t.status.value) for t in details.tasks],
            "shape": [s.task_name for s in details.shape]}


@hatchet.task(execution_timeout="3m")
def t_runs(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    case = uuid.uuid4().hex
    since = datetime.now(tz=UTC) - timedelta(minutes=1)
    # > get and get_status
    refs = [target.run_no_wait(Key(key=f"{case}-{i}"), options=TriggerWorkflowOptions(
        additional_metadata={"case": case})) for i in range(2)]
    for ref in refs:
        ref.result()
    # The engine's read tables follow the run's end by a moment; wait for them to show it.
    wait_for(lambda: all(hatchet.runs.get(r.workflow_run_id).run.status == "COMPLETED" for r in refs),
             "the runs to read as completed")
    status = hatchet.runs.get_status(refs[0].workflow_run_id)
    out["status"] = [type(status).__name__, status == V1TaskStatus.COMPLETED, status == "COMPLETED"]
    details = hatchet.runs.get(refs[0].workflow_run_id)
    out["get"] = shape(details)
    # > list
    listed = hatchet.runs.list(since=since, additional_metadata={"case": case},
                               workflow_ids=[details.run.workflow_id])
    out["list"] = {"type": type(listed).__name__, "pagination": type(listed.pagination).__name__,
                   "rows": sorted((type(r).__name__, r.status.value, r.type.value, r.workflow_run_external_id
                                   in {x.workflow_run_id for x in refs}) for r in listed.rows)}
    out["list_completed"] = len(hatchet.runs.list(since=since, additional_metadata={"case": case},
                                                  statuses=[V1TaskStatus.COMPLETED]).rows)
    out["list_failed"] = len(hatchet.runs.list(since=since, additional_metadata={"case": case},
                                               statuses=[V1TaskStatus.FAILED]).rows)
    # > replay one, then both in bulk
    hatchet.runs.replay(refs[0].workflow_run_id)
    wait_for(lambda: ran[f"{case}-0"] == 2, "the replayed run to run again")
    hatchet.runs.bulk_replay(BulkCancelReplayOpts(ids=[r.workflow_run_id for r in refs]))
    wait_for(lambda: ran[f"{case}-0"] == 3 and ran[f"{case}-1"] == 2, "the bulk-replayed runs to run again")
    wait_for(lambda: all(hatchet.runs.get_status(r.workflow_run_id) == "COMPLETED" for r in refs),
             "the replayed runs to complete")
    out["ran"] = [ran[f"{case}-0"], ran[f"{case}-1"]]
    # > bulk cancel by filter
    slow_refs = [slow.run_no_wait(Key(key=case), options=TriggerWorkflowOptions(
        additional_metadata={"slow": case})) for _ in range(2)]
    # The engine's filter reads its read tables, which follow a run's start by a moment: wait for them.
    wait_for(lambda: all(hatchet.runs.get(r.workflow_run_id).run.status == "RUNNING" for r in slow_refs),
             "the slow runs to read as started")
    hatchet.runs.bulk_cancel(BulkCancelReplayOpts(filters=RunFilter(
        since=since, additional_metadata={"slow": case}, statuses=[V1TaskStatus.RUNNING])))
    wait_for(lambda: all(hatchet.runs.get_status(r.workflow_run_id) == "CANCELLED" for r in slow_refs),
             "the slow runs to be cancelled")
    out["cancelled"] = [hatchet.runs.get_status(r.workflow_run_id).value for r in slow_refs]
    # > create over REST, then its result and its task
    created = hatchet.runs.create("parity_runs_target", {"key": f"{case}-c"}, additional_metadata={"case": case})
    wait_for(lambda: hatchet.runs.get(created.run.metadata.id).run.status == "COMPLETED", "the created run")
    task = hatchet.runs.get_task_run(hatchet.runs.get(created.run.metadata.id).tasks[0].task_external_id)
    result = hatchet.runs.get_result(created.run.metadata.id)
    out["created"] = [type(created).__name__, ran[f"{case}-c"], sorted(result), type(task).__name__,
                      task.status.value, sorted(task.output)]
    out["completed_untouched"] = [hatchet.runs.get_status(r.workflow_run_id).value for r in refs]
    return out


@hatchet.task(execution_timeout="3m")
async def t_aio_runs(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    case = uuid.uuid4().hex
    since = datetime.now(tz=UTC) - timedelta(minutes=1)
    ref = await target.aio_run_no_wait(Key(key=case), options=TriggerWorkflowOptions(
        additional_metadata={"case": case}))
    await ref.aio_result()
    for _ in range(200):
        if (await hatchet.runs.aio_get(ref.workflow_run_id)).run.status == "COMPLETED":
            break
        await asyncio.sleep(0.2)
    status = await hatchet.runs.aio_get_status(ref.workflow_run_id)
    out["status"] = [type(status).__name__, status.value]
    out["get"] = shape(await hatchet.runs.aio_get(ref.workflow_run_id))
    listed = await hatchet.runs.aio_list(since=since, additional_metadata={"case": case})
    out["list"] = [(r.workflow_run_external_id == ref.workflow_run_id, r.status.value) for r in listed.rows]
    await hatchet.runs.aio_replay(ref.workflow_run_id)
    for _ in range(200):
        if ran[case] == 2:
            break
        await asyncio.sleep(0.2)
    await hatchet.runs.aio_bulk_replay(BulkCancelReplayOpts(ids=[ref.workflow_run_id]))
    for _ in range(200):
        if ran[case] == 3:
            break
        await asyncio.sleep(0.2)
    out["ran"] = ran[case]
    slow_ref = await slow.aio_run_no_wait(Key(key=case))
    for _ in range(200):
        if await hatchet.runs.aio_get_status(slow_ref.workflow_run_id) == "RUNNING":
            break
        await asyncio.sleep(0.2)
    await hatchet.runs.aio_bulk_cancel(BulkCancelReplayOpts(ids=[slow_ref.workflow_run_id]))
    for _ in range(200):
        if await hatchet.runs.aio_get_status(slow_ref.workflow_run_id) == "CANCELLED":
            break
        await asyncio.sleep(0.2)
    out["cancelled"] = (await hatchet.runs.aio_get_status(slow_ref.workflow_run_id)).value
    return out


if __name__ == "__main__":
    hatchet.worker("parity-runs-worker", slots=8, workflows=[target, slow, t_runs, t_aio_runs]).start()
