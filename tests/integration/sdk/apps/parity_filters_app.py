"""Event filters, idempotency keys and the newer client calls, written the way the official
documentation writes them, run under either SDK.

``APP_SDK`` picks the package (``hatchet_worker`` by default, or ``hatchet_sdk``); nothing else in this
file differs. ``t_filters`` manages filters with ``hatchet.filters`` / ``workflow.create_filter`` and
pushes scoped events at a workflow declared with ``default_filters``, reporting which events started
a run. ``t_idempotency`` triggers an idempotent task twice (one by one and in bulk) and reports the
collisions. ``t_clients`` lists rate limits, changes scheduled runs in bulk, reads a failed run with
``hatchet.runs.get_details`` and what its on-failure task saw with ``ctx.get_task_run_error``;
``t_aio_clients`` does the same with the ``aio_`` forms.
"""

import asyncio
import importlib
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

sdk = importlib.import_module(os.environ.get("APP_SDK", "hatchet_worker"))
Context = sdk.Context
EmptyModel = sdk.EmptyModel
DefaultFilter = sdk.DefaultFilter
V1UpdateFilterRequest = importlib.import_module(
    f"{sdk.__name__}.clients.rest.models.v1_update_filter_request").V1UpdateFilterRequest

hatchet = sdk.Hatchet()
EVENT_KEY = "parity-filt:go"


class EventInput(BaseModel):
    n: int
    case: str
    should_skip: bool = False


# > Event trigger with filter (as in the official docs)
event_workflow = hatchet.workflow(
    name="parity_filt_wf",
    on_events=[EVENT_KEY],
    input_validator=EventInput,
    default_filters=[DefaultFilter(expression="input.should_skip == false", scope="decl-scope",
                                   payload={"main_character": "Anna", "location": "Moscow"})],
)


@event_workflow.task()
def filtered_task(input: EventInput, ctx: Context) -> dict[str, Any]:
    return {"n": input.n, "filter_payload": dict(ctx.filter_payload)}


class IdemInput(BaseModel):
    id: str


IDEM_EVENT = "parity-idem:go"


@hatchet.task(name="parity_idem", input_validator=IdemInput, on_events=[IDEM_EVENT],
              idempotency=sdk.TTLBasedIdempotencyConfig(key_expression="input.id", ttl=timedelta(minutes=1)))
async def idempotent_task(input: IdemInput, ctx: Context) -> dict[str, str]:
    return {"result": f"hello {input.id}"}


failing = hatchet.workflow(name="parity_filt_failing")


@failing.task(retries=0)
def explode(input: EmptyModel, ctx: Context) -> None:
    raise ValueError("kaboom: twice\nover")


@failing.on_failure_task()
def report(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    error = ctx.get_task_run_error(explode)
    return {"type": type(error).__name__, "exc": error.exc, "exc_type": error.exc_type,
            "trace_starts": error.trace.split("\n")[0], "trace_has_raise": "kaboom" in error.trace,
            "run_id_is_explode": error.task_run_external_id is not None}


def describe_filter(f: Any) -> dict[str, Any]:
    return {"model": type(f).__name__, "expression": f.expression, "scope": f.scope, "payload": f.payload,
            "declarative": f.is_declarative, "workflow_matches": f.workflow_id == event_workflow.id}


def triggered(event_id: str, since: datetime, expect: bool) -> Any:
    """The outputs of the runs an event started (waits for them; a run not started is looked for 6 s)."""
    deadline = time.monotonic() + (40 if expect else 6)
    rows: list[Any] = []
    while time.monotonic() < deadline:
        rows = hatchet.runs.list(since=since, triggering_event_external_id=event_id).rows
        if rows and all(r.status.value == "COMPLETED" for r in rows):
            return sorted((r.output for r in rows), key=str)
        time.sleep(0.3)
    return [r.status.value for r in rows]


@hatchet.task(execution_timeout="3m")
def t_filters(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    since = datetime.now(tz=UTC) - timedelta(minutes=1)
    case = uuid.uuid4().hex
    scope = f"prog-{case}"
    workflow_id = event_workflow.id
    created = event_workflow.create_filter(expression="input.n > 5", scope=scope, payload={"who": "Stiva"})
    listed = hatchet.filters.list(workflow_ids=[workflow_id], scopes=[scope])
    declared = hatchet.filters.list(workflow_ids=[workflow_id], scopes=["decl-scope"])
    got = hatchet.filters.get(created.metadata.id)
    updated = hatchet.filters.update(created.metadata.id, V1UpdateFilterRequest(expression="input.n > 10"))

    def push(n: int, scope: str | None, should_skip: bool = False) -> Any:
        return hatchet.event.push(EVENT_KEY, {"n": n, "case": case, "should_skip": should_skip}, scope=scope)

    pushes = [(push(1, "decl-scope"), True), (push(2, "decl-scope", should_skip=True), False),
              (push(20, scope), True), (push(7, scope), False), (push(30, None), False),
              (push(40, "no-such-scope"), False)]
    runs = [triggered(event.event_id, since, expect) for event, expect in pushes]
    deleted = hatchet.filters.delete(created.metadata.id)
    after = hatchet.filters.list(workflow_ids=[workflow_id], scopes=[scope])
    return {"created": describe_filter(created), "listed": [describe_filter(f) for f in listed.rows or []],
            "list_model": type(listed).__name__, "declared": [describe_filter(f) for f in declared.rows or []],
            "got": describe_filter(got), "updated": describe_filter(updated), "deleted": describe_filter(deleted),
            "after_delete": len(after.rows or []), "runs": runs}


@hatchet.task(execution_timeout="2m")
async def t_aio_filters(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    scope = f"aio-{uuid.uuid4().hex}"
    workflow_id = event_workflow.id
    created = await hatchet.filters.aio_create(workflow_id=workflow_id, expression="true", scope=scope)
    via_workflow = await event_workflow.aio_create_filter(expression="false", scope=scope, payload={"a": 1})
    listed = await hatchet.filters.aio_list(workflow_ids=[workflow_id], scopes=[scope])
    got = await hatchet.filters.aio_get(via_workflow.metadata.id)
    updated = await hatchet.filters.aio_update(created.metadata.id, V1UpdateFilterRequest(scope=scope + "-2"))
    for f in (created, via_workflow):
        await hatchet.filters.aio_delete(f.metadata.id)
    return {"created": describe_filter(created), "listed": sorted(f.expression for f in listed.rows or []),
            "got": describe_filter(got), "updated_scope_moved": updated.scope == scope + "-2"}


@hatchet.task(execution_timeout="2m")
async def t_idempotency(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    since = datetime.now(tz=UTC) - timedelta(minutes=1)
    key = uuid.uuid4().hex
    meta = {"case": key}
    first = await idempotent_task.aio_run(IdemInput(id=key), wait_for_result=False, additional_metadata=meta)
    try:
        await idempotent_task.aio_run(IdemInput(id=key), wait_for_result=False, additional_metadata=meta)
        single: Any = "no collision"
    except sdk.IdempotencyCollisionError as e:
        single = {"existing_is_first": e.existing_run_external_id == first.workflow_run_id}
    sync_second: Any
    try:
        idempotent_task.run_no_wait(IdemInput(id=key), additional_metadata=meta)
        sync_second = "no collision"
    except sdk.IdempotencyCollisionError as e:
        sync_second = {"existing_is_first": e.existing_run_external_id == first.workflow_run_id}
    bulk_key = uuid.uuid4().hex
    try:
        await idempotent_task.aio_run_many([idempotent_task.create_bulk_run_item(input=IdemInput(id=bulk_key))
                                            for _ in range(2)], wait_for_result=False)
        bulk: Any = "no collision"
    except sdk.BulkTriggerIdempotencyCollisionError as e:
        bulk = {"successes": len(e.successful_workflow_run_external_ids), "collisions": len(e.collisions)}
    other = await idempotent_task.aio_run(IdemInput(id=uuid.uuid4().hex))
    # Two events carrying one key: the engine starts one run (the second finds the key held).
    event_key = uuid.uuid4().hex
    events = [await hatchet.event.aio_push(IDEM_EVENT, {"id": event_key}, additional_metadata={"case": event_key})
              for _ in range(2)]


    async def started(event_id: str) -> int:
        return len((await hatchet.runs.aio_list(since=since, triggering_event_external_id=event_id)).rows or [])

    deadline = time.monotonic() + 30
    while await started(events[0].event_id) == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.3)  # the engine's read tables follow a run by a moment
    await asyncio.sleep(3)  # time for a second run to appear, were one started
    triggered_runs = [await started(e.event_id) for e in events]
    runs_by_key = len((await hatchet.runs.aio_list(since=since, additional_metadata=meta)).rows)
    return {"first": await first.aio_result(), "single": single, "sync": sync_second, "bulk": bulk,
            "other_key_runs": "result" in other, "runs_with_key": runs_by_key, "event_runs": triggered_runs}


@hatchet.task(execution_timeout="3m")
def t_clients(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    case = uuid.uuid4().hex
    key = f"parity-rl-{case}"
    hatchet.rate_limits.put(key, 7, sdk.RateLimitDuration.MINUTE)
    limits = hatchet.rate_limits.list(search=key)
    limit = (limits.rows or [None])[0]
    later = datetime.now(tz=UTC) + timedelta(days=3)
    made = [hatchet.scheduled.create(workflow_name="parity_filt_failing", trigger_at=later, input={},
                                     additional_metadata={"case": case, "i": str(i)}) for i in range(4)]
    ids = [m.metadata.id for m in made]
    moved = hatchet.scheduled.bulk_update([(ids[0], later + timedelta(hours=1))])
    moved_at = hatchet.scheduled.get(ids[0]).trigger_at
    by_id = hatchet.scheduled.bulk_delete(scheduled_ids=[ids[1]])
    by_filter = hatchet.scheduled.bulk_delete(workflow_id=failing.id, additional_metadata={"case": case, "i": "2"})
    left = hatchet.scheduled.list(workflow_id=failing.id, additional_metadata={"case": case})
    try:
        hatchet.scheduled.bulk_delete()
        refused: Any = "accepted"
    except ValueError as e:
        refused = type(e).__name__
    hatchet.scheduled.bulk_delete(scheduled_ids=[ids[0], ids[3]])
    ref = failing.run_no_wait()
    try:
        ref.result()
    except Exception as e:
        failed_with = type(e).__name__
    deadline = time.monotonic() + 40
    while True:
        details = hatchet.runs.get_details(ref.workflow_run_id)
        hook = [name for name in details.task_runs if name != "explode"]
        if (hook and details.task_runs[hook[0]].status.value == "COMPLETED") or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    return {
        "limit": {"model": type(limits).__name__, "count": len(limits.rows or []), "key": limit.key,
                  "limit_value": limit.limit_value, "window": limit.window, "value": limit.value},
        "bulk_update": {"model": type(moved).__name__, "updated": moved.updated_ids == [ids[0]],
                        "errors": moved.errors, "moved": abs((moved_at - later).total_seconds() - 3600) < 1},
        "bulk_delete": {"model": type(by_id).__name__, "by_id": by_id.deleted_ids == [ids[1]],
                        "by_filter": by_filter.deleted_ids == [ids[2]], "errors": by_id.errors + by_filter.errors,
                        "left": sorted(s.additional_metadata["i"] for s in left.rows or []), "refused": refused},
        "details": {"model": type(details).__name__, "failed_with": failed_with, "status": str(details.status.value),
                    "external_id_is_run": details.external_id == ref.workflow_run_id, "done": details.done,
                    "tasks": sorted(details.task_runs),
                    "explode": {"status": details.task_runs["explode"].status.value,
                                "has_error": "kaboom" in (details.task_runs["explode"].error or ""),
                                "output": details.task_runs["explode"].output},
                    "hook_output": details.task_runs[hook[0]].output if hook else None},
    }


@hatchet.task(execution_timeout="2m")
async def t_aio_clients(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    case = uuid.uuid4().hex
    key = f"parity-rl-aio-{case}"
    await hatchet.rate_limits.aio_put(key, 3)
    limits = await hatchet.rate_limits.aio_list(search=key, limit=5)
    later = datetime.now(tz=UTC) + timedelta(days=2)
    made = [await hatchet.scheduled.aio_create(workflow_name="parity_filt_failing", trigger_at=later, input={},
                                               additional_metadata={"case": case}) for _ in range(2)]
    ids = [m.metadata.id for m in made]
    moved = await hatchet.scheduled.aio_bulk_update([(i, later + timedelta(minutes=5)) for i in ids])
    deleted = await hatchet.scheduled.aio_bulk_delete(workflow_id=failing.id, additional_metadata={"case": case})
    ref = await idempotent_task.aio_run(IdemInput(id=case), wait_for_result=False)
    await ref.aio_result()
    details = await hatchet.runs.aio_get_details(ref.workflow_run_id)
    task = next(iter(details.task_runs.values()))
    return {"limits": [(r.key == key, r.limit_value, r.window) for r in limits.rows or []],
            "moved": sorted(moved.updated_ids) == sorted(ids), "deleted": sorted(deleted.deleted_ids) == sorted(ids),
            "details": {"model": type(details).__name__, "status": details.status.value,
                        "input": details.input, "tasks": sorted(details.task_runs),
                        "output": task.output, "error": task.error, "task_status": task.status.value}}


if __name__ == "__main__":
    hatchet.worker("parity-filters-worker", slots=8,
                   workflows=[event_workflow, idempotent_task, failing, t_filters, t_aio_filters, t_idempotency,
                              t_clients, t_aio_clients]).start()
