"""OpenTelemetry: the instrumentor's spans on the real engine, and traces shared with the official SDK.

The worker runs ``apps/parity_otel_app.py`` (instrumented as the official documentation does it), which
writes each finished span to a file; the test's own client is instrumented with an in-memory
exporter. A run's span on the worker must be the child of the span that triggered it, across
processes and, both ways, across the two SDKs: that is what the ``traceparent`` in the run's
additional metadata is for.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from harness.hatchet import HatchetEngine
from hatchet_worker import Hatchet
from hatchet_worker.exceptions import FailedTaskRunExceptionGroup
from hatchet_worker.opentelemetry.instrumentor import HatchetInstrumentor

from .conftest import APP, standalone, wait_until

OTEL_APP = APP.parent / "parity_otel_app.py"
needs_official = pytest.mark.skipif(importlib.util.find_spec("hatchet_sdk") is None, reason="needs the official SDK")
# The payload attribute of a task run's span, as the official worker shows the engine's action payload.
PAYLOAD = ('{"input": {"x": 1}, "parents": {}, "overrides": {}, "user_data": {}, "step_run_errors": {}, '
           '"triggered_by": "manual", "triggers": {"filter_payload": null}, "filter_payload": {}}')
# The keys of a task run's span: those the official worker sets, for the same run of the same engine.
TASK_KEYS = {"instrumentor", "hatchet.tenant_id", "hatchet.worker_id", "hatchet.workflow_run_id", "hatchet.step_id",
             "hatchet.step_run_id", "hatchet.payload", "hatchet.workflow_name", "hatchet.action_name",
             "hatchet.step_name"}


@pytest.fixture
def client_spans(client: Hatchet) -> Iterator[InMemorySpanExporter]:
    """Our client, instrumented for the test; uninstrumented after it (the hooks are process-wide)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = HatchetInstrumentor(tracer_provider=provider, config=client.config,
                                       enable_hatchet_otel_collector=False)
    instrumentor.instrument()
    try:
        yield exporter
    finally:
        instrumentor.uninstrument()


def read_spans(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_span(path: Path, what: str, match: Callable[[dict[str, Any]], bool], timeout: float = 30.0) -> dict[str, Any]:
    """The first span of the file that ``match``es (bounded wait: a span is written when it ends)."""
    found: dict[str, Any] = wait_until(lambda: next((s for s in read_spans(path) if match(s)), None), timeout,
                                       f"{what} in {path.name} (spans so far: {[s['name'] for s in read_spans(path)]})")
    return found


def task_span(path: Path, run_id: str) -> dict[str, Any]:
    return wait_span(path, f"the task span of run {run_id}", lambda s: s["name"] == "hatchet.start_step_run"
                     and s["attributes"].get("hatchet.workflow_run_id") == run_id)


def ids(span: ReadableSpan) -> tuple[str, str]:
    ctx = span.get_span_context()
    assert ctx is not None
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"


def only(spans: Any, name: str) -> ReadableSpan:
    named = [s for s in spans if s.name == name]
    assert len(named) == 1, [s.name for s in spans]
    return named[0]


def test_task_run_spans_continue_the_trigger_trace(client: Hatchet, start_worker: Any, tmp_path: Path,
                                                   client_spans: InMemorySpanExporter) -> None:
    worker_file = tmp_path / "worker-spans.jsonl"
    start_worker(script=OTEL_APP, APP_SPANS=str(worker_file))
    ns = client.config.namespace

    # A task that succeeds: the run's span is a CONSUMER child of the trigger's PRODUCER span.
    ref = standalone(client, "otel_ok").run({"x": 1}, wait_for_result=False)
    assert ref.result(timeout=60) == {"ok": True}
    trigger = only(client_spans.get_finished_spans(), "hatchet.run_workflow")
    assert trigger.kind.name == "PRODUCER"
    assert dict(trigger.attributes or {}) == {"instrumentor": "hatchet", "hatchet.workflow_name": "otel_ok",
                                              "hatchet.payload": "{\"x\": 1}"}
    trace_id, trigger_id = ids(trigger)
    run = task_span(worker_file, ref.workflow_run_id)
    assert (run["trace_id"], run["parent_id"], run["kind"], run["status"]) == (trace_id, trigger_id, "CONSUMER",
                                                                                 "UNSET")
    attributes = run["attributes"]
    assert set(attributes) >= TASK_KEYS, sorted(attributes)
    assert attributes["hatchet.action_name"] == f"{ns}otel_ok:otel_ok"
    assert attributes["hatchet.workflow_name"] == "otel_ok"  # the job name the engine sends
    assert attributes["hatchet.tenant_id"] == client.config.tenant_id
    assert "hatchet.retry_count" not in attributes  # 0 is left out, as in the official SDK
    assert attributes["hatchet.payload"] == PAYLOAD
    # The task's own span is a child of the run's span, for an async task and for a sync one (on a thread).
    user = wait_span(worker_file, "user.work", lambda s: s["name"] == "user.work")
    assert (user["trace_id"], user["parent_id"]) == (trace_id, run["span_id"])
    sync_ref = standalone(client, "otel_sync").run({}, wait_for_result=False)
    assert sync_ref.result(timeout=60) == {"sync": True}
    sync_run = task_span(worker_file, sync_ref.workflow_run_id)
    sync_user = wait_span(worker_file, "user.sync_work", lambda s: s["name"] == "user.sync_work")
    assert (sync_user["trace_id"], sync_user["parent_id"]) == (sync_run["trace_id"], sync_run["span_id"])

    # A task that fails: its span has status ERROR, the error and the exception event.
    failing = standalone(client, "otel_fail").run({}, wait_for_result=False)
    with pytest.raises(FailedTaskRunExceptionGroup, match="failed on purpose"):
        failing.result(timeout=60)
    failed = task_span(worker_file, failing.workflow_run_id)
    assert failed["status"] == "ERROR" and "otel_fail failed on purpose" in failed["description"]
    assert failed["events"] == ["exception"]


def test_a_child_run_joins_its_parent_trace(client: Hatchet, start_worker: Any, tmp_path: Path,
                                            client_spans: InMemorySpanExporter) -> None:
    worker_file = tmp_path / "worker-spans.jsonl"
    start_worker(script=OTEL_APP, APP_SPANS=str(worker_file))
    ref = standalone(client, "otel_parent").run({}, wait_for_result=False)
    assert ref.result(timeout=60) == {"from_child": {"child": True}}
    trace_id, _ = ids(only(client_spans.get_finished_spans(), "hatchet.run_workflow"))
    parent = task_span(worker_file, ref.workflow_run_id)
    # trigger (test) -> parent's run (worker) -> the child's trigger (inside the parent) -> the child's run.
    spawn = wait_span(worker_file, "the child's trigger", lambda s: s["name"] == "hatchet.run_workflow")
    assert (spawn["trace_id"], spawn["parent_id"], spawn["kind"]) == (trace_id, parent["span_id"], "PRODUCER")
    assert spawn["attributes"]["hatchet.workflow_name"] == "otel_child"
    assert spawn["attributes"]["hatchet.parent_id"] == ref.workflow_run_id
    assert spawn["attributes"]["hatchet.parent_step_run_id"] == parent["attributes"]["hatchet.step_run_id"]
    child = wait_span(worker_file, "the child's run", lambda s: s["name"] == "hatchet.start_step_run"
                      and s["attributes"]["hatchet.action_name"].endswith("otel_child:otel_child"))
    assert (child["trace_id"], child["parent_id"]) == (trace_id, spawn["span_id"])
    assert child["attributes"]["hatchet.parent_workflow_run_id"] == ref.workflow_run_id


def test_an_event_push_is_the_parent_of_the_runs_it_triggers(client: Hatchet, start_worker: Any, tmp_path: Path,
                                                              client_spans: InMemorySpanExporter) -> None:
    worker_file = tmp_path / "worker-spans.jsonl"
    start_worker(script=OTEL_APP, APP_SPANS=str(worker_file))
    client.event.push("otel:event", {"n": 1}, additional_metadata={"who": "test"})
    push = only(client_spans.get_finished_spans(), "hatchet.push_event")
    assert push.kind.name == "PRODUCER"
    assert dict(push.attributes or {}) == {"instrumentor": "hatchet", "hatchet.event_key": "otel:event",
                                           "hatchet.payload": '{"n": 1}',
                                           "hatchet.additional_metadata": '{"who": "test"}'}
    trace_id, push_id = ids(push)
    run = wait_span(worker_file, "the event's run", lambda s: s["name"] == "hatchet.start_step_run"
                    and s["attributes"]["hatchet.action_name"].endswith("otel_on_event:otel_on_event"), timeout=60)
    assert (run["trace_id"], run["parent_id"]) == (trace_id, push_id)


@needs_official
def test_official_worker_joins_our_trigger_trace(client: Hatchet, start_worker: Any, tmp_path: Path,
                                                 client_spans: InMemorySpanExporter) -> None:
    worker_file = tmp_path / "official-worker-spans.jsonl"
    start_worker(script=OTEL_APP, APP_SDK="hatchet_sdk", APP_SPANS=str(worker_file))
    ref = standalone(client, "otel_ok").run({"x": 1}, wait_for_result=False)
    assert ref.result(timeout=60) == {"ok": True}
    trace_id, trigger_id = ids(only(client_spans.get_finished_spans(), "hatchet.run_workflow"))
    run = task_span(worker_file, ref.workflow_run_id)
    assert (run["trace_id"], run["parent_id"], run["kind"]) == (trace_id, trigger_id, "CONSUMER")
    # The official worker's span carries the keys and the payload ours does (checked above on the same task).
    assert set(run["attributes"]) >= TASK_KEYS, sorted(run["attributes"])
    assert run["attributes"]["hatchet.payload"] == PAYLOAD


@needs_official
def test_our_worker_joins_the_official_trigger_trace(start_worker: Any, worker_env: Any, tmp_path: Path) -> None:
    worker_file = tmp_path / "worker-spans.jsonl"
    client_file = tmp_path / "official-client-spans.jsonl"
    start_worker(script=OTEL_APP, APP_SPANS=str(worker_file))
    env = worker_env(APP_SDK="hatchet_sdk", APP_SPANS=str(client_file))
    proc = subprocess.run([sys.executable, str(OTEL_APP), "trigger", "otel_ok"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_id = json.loads(proc.stdout.strip().splitlines()[-1])["run_id"]
    trigger = wait_span(client_file, "the official trigger span", lambda s: s["name"] == "hatchet.run_workflow")
    assert trigger["kind"] == "PRODUCER" and trigger["attributes"]["hatchet.workflow_name"] == "otel_ok"
    run = task_span(worker_file, run_id)
    assert (run["trace_id"], run["parent_id"], run["kind"]) == (trigger["trace_id"], trigger["span_id"], "CONSUMER")


@pytest.mark.parametrize("sdk", ["hatchet_worker", pytest.param("hatchet_sdk", marks=needs_official)])
def test_spans_reach_the_engine_trace_service(client: Hatchet, hatchet: HatchetEngine, start_worker: Any,
                                              tmp_path: Path, sdk: str) -> None:
    """``enable_hatchet_otel_collector``: the worker's spans, its task's own span included, are stored by the
    engine under the run (the engine finds them by the ``hatchet.*`` attributes of each span)."""
    start_worker(script=OTEL_APP, APP_SDK=sdk, APP_SPANS=str(tmp_path / "spans.jsonl"), APP_ENGINE_COLLECTOR="1")
    ref = standalone(client, "otel_ok").run({"x": 1}, wait_for_result=False)
    assert ref.result(timeout=60) == {"ok": True}
    path = f"/api/v1/stable/tenants/{client.config.tenant_id}/traces?run_external_id={ref.workflow_run_id}"

    def stored() -> dict[str, Any] | None:
        spans = {s["spanName"]: s for s in hatchet.rest("GET", path).get("rows") or []}
        return spans if {"hatchet.start_step_run", "user.work"} <= set(spans) else None

    spans = wait_until(stored, 30, "the worker's spans in the engine")
    run, user = spans["hatchet.start_step_run"], spans["user.work"]
    assert run["spanKind"] == "CONSUMER" and user["parentSpanId"] == run["spanId"]
    assert run["spanAttributes"]["hatchet.workflow_run_id"] == ref.workflow_run_id
    # The task's attributes were put on its own span too.
    assert user["spanAttributes"]["hatchet.step_run_id"] == run["spanAttributes"]["hatchet.step_run_id"]


def test_bulk_runs_durable_spawns_and_cancels_have_their_spans(client: Hatchet, start_worker: Any, tmp_path: Path,
                                                               client_spans: InMemorySpanExporter) -> None:
    worker_file = tmp_path / "worker-spans.jsonl"
    start_worker(script=OTEL_APP, APP_SPANS=str(worker_file))
    # run_many: one hatchet.run_workflows span, the parent of each run's span.
    ok = standalone(client, "otel_ok")
    refs = ok.run_many([ok.create_bulk_run_item(input={"i": i}) for i in range(3)], wait_for_result=False)
    bulk = only(client_spans.get_finished_spans(), "hatchet.run_workflows")
    assert dict(bulk.attributes or {}) == {"instrumentor": "hatchet", "hatchet.num_workflows": 3,
                                           "hatchet.unique_workflow_names": json.dumps(str({"otel_ok"}))}
    trace_id, bulk_id = ids(bulk)
    for ref in refs:
        ref.result(timeout=60)
        run = task_span(worker_file, ref.workflow_run_id)
        assert (run["trace_id"], run["parent_id"]) == (trace_id, bulk_id)

    # A durable task's wait and the child it spawns: their spans are children of the task's span.
    durable = standalone(client, "otel_durable_parent").run({}, wait_for_result=False)
    assert durable.result(timeout=60) == {"from_child": {"child": True}}
    parent = task_span(worker_file, durable.workflow_run_id)
    wait = wait_span(worker_file, "the durable wait", lambda s: s["name"] == "hatchet.durable.wait_for")
    assert (wait["parent_id"], wait["kind"]) == (parent["span_id"], "INTERNAL")
    assert wait["attributes"]["hatchet.signal_key"].startswith("sleep:1s")
    assert wait["attributes"]["hatchet.num_conditions"] == 1
    assert wait["attributes"]["hatchet.step_run_id"] == parent["attributes"]["hatchet.step_run_id"]
    spawn = wait_span(worker_file, "the durable spawn", lambda s: s["name"] == "hatchet.run_workflow"
                      and s["parent_id"] == parent["span_id"])
    assert spawn["attributes"]["hatchet.workflow_name"] == "otel_child"
    wait_span(worker_file, "the spawned child's run", lambda s: s["name"] == "hatchet.start_step_run"
              and s["parent_id"] == spawn["span_id"] and s["trace_id"] == parent["trace_id"])

    # An engine cancel: hatchet.cancel_step_run, naming the task run.
    slow = standalone(client, "otel_slow").run({}, wait_for_result=False)
    started = wait_until(lambda: client.runs.get_details(slow.workflow_run_id).task_runs["otel_slow"].status.value
                         == "RUNNING", 30, "otel_slow to run")
    assert started
    client.runs.cancel(slow.workflow_run_id)
    cancel = wait_span(worker_file, "the cancel span", lambda s: s["name"] == "hatchet.cancel_step_run")
    slow_run = task_span(worker_file, slow.workflow_run_id)  # ended by the cancel, well before its 60 s
    assert cancel["kind"] == "CONSUMER"
    assert cancel["attributes"]["hatchet.step_run_id"] == slow_run["attributes"]["hatchet.step_run_id"]
