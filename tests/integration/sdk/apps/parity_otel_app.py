"""Tasks traced with OpenTelemetry, written as the official documentation instruments a worker, under
either SDK (``APP_SDK``: ``hatchet_worker`` by default, or ``hatchet_sdk``).

Every finished span is appended, as one JSON line, to the file ``APP_SPANS`` (the test process reads
it: spans of a worker process cannot be held in the test's memory). Run with arguments
``trigger <name> <input json>`` it is a client instead: it triggers the standalone task ``name``
without waiting, prints the run id and exits, its spans written the same way.
"""

import asyncio
import importlib
import json
import os
import sys
import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

sdk = importlib.import_module(os.environ.get("APP_SDK", "hatchet_worker"))
instrumentor = importlib.import_module(sdk.__name__ + ".opentelemetry.instrumentor")
Context = sdk.Context
EmptyModel = sdk.EmptyModel


class JsonLinesExporter(SpanExporter):
    """Appends each span to a file, flushed at once (the worker may be stopped at any time)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for span in spans:
            ctx = span.get_span_context()
            assert ctx is not None
            lines.append(json.dumps({
                "name": span.name, "kind": span.kind.name, "trace_id": f"{ctx.trace_id:032x}",
                "span_id": f"{ctx.span_id:016x}",
                "parent_id": f"{span.parent.span_id:016x}" if span.parent is not None else None,
                "attributes": dict(span.attributes or {}), "status": span.status.status_code.name,
                "description": span.status.description,
                "events": [e.name for e in span.events], "pid": os.getpid()}, default=str))
        with self._lock, open(self._path, "a") as out:
            out.write("".join(line + "\n" for line in lines))
        return SpanExportResult.SUCCESS


provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(os.environ["APP_SPANS"])))
# With APP_ENGINE_COLLECTOR=1 the spans also go to the engine's trace service (the official default), every
# 200 ms; otherwise they are only checked from the file.
instrumentor.HatchetInstrumentor(tracer_provider=provider,
                                 enable_hatchet_otel_collector=os.environ.get("APP_ENGINE_COLLECTOR") == "1",
                                 schedule_delay_millis=200).instrument()
tracer = trace.get_tracer("parity-otel-app", tracer_provider=provider)

hatchet = sdk.Hatchet()


@hatchet.task(name="otel_ok")
async def otel_ok(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    # A span of the task's own: a child of the run's span.
    with tracer.start_as_current_span("user.work"):
        await asyncio.sleep(0)
    return {"ok": True}


@hatchet.task(name="otel_sync")
def otel_sync(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    with tracer.start_as_current_span("user.sync_work"):
        return {"sync": True}


@hatchet.task(name="otel_fail", retries=0)
async def otel_fail(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    raise ValueError("otel_fail failed on purpose")


@hatchet.task(name="otel_child")
async def otel_child(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    return {"child": True}


@hatchet.task(name="otel_parent")
async def otel_parent(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    return {"from_child": await otel_child.aio_run(EmptyModel())}


@hatchet.durable_task(name="otel_durable_parent")
async def otel_durable_parent(input: EmptyModel, ctx: sdk.DurableContext) -> dict[str, Any]:
    # Inside a durable task a wait and a child's spawn go through the task's event log.
    await ctx.aio_sleep_for(timedelta(seconds=1))
    return {"from_child": await otel_child.aio_run(EmptyModel())}


@hatchet.task(name="otel_slow")
async def otel_slow(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    await asyncio.sleep(60)
    return {"slow": True}


@hatchet.task(name="otel_on_event", on_events=["otel:event"])
async def otel_on_event(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    return {"event": True}


TASKS = {"otel_ok": otel_ok, "otel_sync": otel_sync, "otel_fail": otel_fail, "otel_parent": otel_parent}

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "trigger":
        ref = TASKS[sys.argv[2]].run_no_wait(EmptyModel())
        print(json.dumps({"run_id": ref.workflow_run_id}))
    else:
        hatchet.worker("parity-otel-worker", slots=10,
                       workflows=[otel_ok, otel_sync, otel_fail, otel_child, otel_parent, otel_durable_parent,
                                  otel_slow, otel_on_event]).start()
