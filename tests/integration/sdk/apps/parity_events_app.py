"""Pushing events with options and in bulk (``hatchet.event``), written the way the official
documentation writes it, run under either SDK.

``APP_SDK`` picks the package (``hatchet_worker`` by default, or ``hatchet_sdk``); nothing else in this
file differs. ``t_push`` (sync forms) and ``t_aio_push`` (``aio_`` forms) push events with the
worker's own SDK, report the ``Event`` each push returned, and what the run each event triggered saw
(its input, metadata and priority), found with ``hatchet.runs.list(triggering_event_external_id=)``.
"""

import asyncio
import importlib
import json
import os
import time
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

sdk = importlib.import_module(os.environ.get("APP_SDK", "hatchet_worker"))
Context = sdk.Context
EmptyModel = sdk.EmptyModel
PushEventOptions = sdk.PushEventOptions
BulkPushEventWithMetadata = importlib.import_module(f"{sdk.__name__}.clients.events").BulkPushEventWithMetadata

hatchet = sdk.Hatchet()


class Ping(BaseModel):
    n: int
    case: str


@hatchet.task(name="parity_ev_on", on_events=["parity-ev:go"], input_validator=Ping)
def t_on_event(input: Ping, ctx: Context) -> dict[str, Any]:
    # (the engine adds a random ``traceparent``; only its presence is compared)
    meta = {k: (v if k != "traceparent" else bool(v)) for k, v in ctx.additional_metadata.items()
            if not k.startswith("hatchet__")}
    return {"n": input.n, "meta": meta, "priority": ctx.priority}


def describe(event: Any) -> dict[str, Any]:
    """What an Event carries, without ids and times (the pushing run's ids only as present)."""
    meta = json.loads(event.additional_metadata) if event.additional_metadata else None
    return {"model": type(event).__name__, "key": event.key, "n": json.loads(event.payload)["n"],
            "meta": {k: (v if not k.startswith("hatchet__") else bool(v)) for k, v in (meta or {}).items()},
            "scope": event.scope, "seen_at": type(event.seen_at).__name__}


def triggered(event_id: str, since: datetime) -> Any:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        rows = hatchet.runs.list(since=since, triggering_event_external_id=event_id).rows
        if rows and all(r.status.value == "COMPLETED" for r in rows):
            return [r.output for r in rows]
        time.sleep(0.3)
    return None


@hatchet.task(execution_timeout="2m")
def t_push(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    since = datetime.now(tz=UTC) - timedelta(minutes=1)
    case = uuid.uuid4().hex
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = hatchet.event.push("parity-ev:go", {"n": 1, "case": case}, options=PushEventOptions(
            additional_metadata={"src": "options"}, priority=3, scope="s1"))
    second = hatchet.event.push("parity-ev:go", {"n": 2, "case": case},
                                options=PushEventOptions(additional_metadata={"src": "options"}, priority=3),
                                additional_metadata={"src": "keyword"}, priority=1, scope="s2")
    plain = hatchet.event.push("parity-ev:go", {"n": 3, "case": case})
    bulk = hatchet.event.bulk_push([
        BulkPushEventWithMetadata(key="parity-ev:go", payload={"n": 4, "case": case},
                                  additional_metadata={"b": "1"}, priority=2, scope="s3"),
        BulkPushEventWithMetadata(key="parity-ev:go", payload={"n": 5, "case": case})])
    events = [first, second, plain, *bulk]
    return {"warned": sorted({w.category.__name__ for w in caught}), "events": [describe(e) for e in events],
            "bulk": type(bulk).__name__, "runs": [triggered(e.event_id, since) for e in events]}


@hatchet.task(execution_timeout="2m")
async def t_aio_push(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    since = datetime.now(tz=UTC) - timedelta(minutes=1)
    case = uuid.uuid4().hex
    one = await hatchet.event.aio_push("parity-ev:go", {"n": 6, "case": case}, additional_metadata={"a": "x"},
                                       priority=2)
    many = await hatchet.event.aio_bulk_push([
        BulkPushEventWithMetadata(key="parity-ev:go", payload={"n": 7, "case": case}, scope="s4")])
    events = [one, *many]
    runs = [await asyncio.to_thread(triggered, e.event_id, since) for e in events]
    return {"events": [describe(e) for e in events], "runs": runs}


if __name__ == "__main__":
    hatchet.worker("parity-events-worker", slots=6, workflows=[t_on_event, t_push, t_aio_push]).start()
