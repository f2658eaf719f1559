"""OpenTelemetry, the parts that need no engine: attributes, metadata carrier, configuration, the hooks
with an in-memory exporter, and the SDK without the ``otel`` extra (the engine tests are in
``tests/integration/sdk/test_parity_otel.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from concurrent import futures
from datetime import UTC, datetime

import grpc
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from hatchet_worker import _otel_attributes as attrs
from hatchet_worker import _tracing
from hatchet_worker._otel_attributes import OpenTelemetryConfig, OTelAttribute
from hatchet_worker._proto import dispatcher_pb2, events_pb2, v1_trigger_pb2, workflows_pb2
from hatchet_worker.config import ClientConfig, ConfigError
from hatchet_worker.opentelemetry.instrumentor import HatchetInstrumentor, _EngineSpanExporter, _trace_service_probe
from hatchet_worker.runs import TriggerWorkflowOptions

from .test_config import TOKEN

TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
OFFICIAL_EMPTY_PAYLOAD = ('{"input": {}, "parents": {}, "overrides": {}, "user_data": {}, "step_run_errors": {}, '
                          '"triggered_by": null, "triggers": {}, "filter_payload": {}}')


def test_empty_and_excluded_values_are_left_out() -> None:
    config = OpenTelemetryConfig(excluded_attributes=[OTelAttribute.ACTION_PAYLOAD])
    got = attrs.select(config, {OTelAttribute.WORKFLOW_NAME: "wf", OTelAttribute.ACTION_PAYLOAD: '{"secret": 1}',
                                OTelAttribute.RETRY_COUNT: 0, OTelAttribute.CHILD_KEY: None,
                                OTelAttribute.ADDITIONAL_METADATA: "{}", OTelAttribute.PRIORITY: 3})
    assert got == {"instrumentor": "hatchet", "hatchet.workflow_name": "wf", "hatchet.priority": 3}


def test_traceparent_is_set_in_the_metadata_text_replacing_an_inherited_one() -> None:
    assert json.loads(attrs.with_traceparent('{"a": 1, "traceparent": "old"}', TP) or "") == {"a": 1,
                                                                                           "traceparent": TP}
    assert json.loads(attrs.with_traceparent(None, TP) or "") == {"traceparent": TP}
    assert attrs.with_traceparent('{"a": 1}', None) == '{"a": 1}'  # no span: unchanged
    assert attrs.traceparent_of(json.dumps({"traceparent": TP})) == TP
    assert attrs.traceparent_of("not json") is None and attrs.traceparent_of('{"traceparent": 5}') is None
    # The metadata attribute shows what the caller gave, not what the SDK added.
    assert attrs.metadata_text('{"k": "v", "traceparent": "x"}') == '{"k": "v"}'


def test_task_run_attributes_come_from_the_assignment() -> None:
    action = dispatcher_pb2.AssignedAction(
        tenant_id="t", workflow_run_id="run", task_id="step", task_run_external_id="task-run", action_id="wf:task",
        job_name="wf", task_name="task", retry_count=2, action_payload='{"input": {}}', parent_workflow_run_id="p",
        child_workflow_index=0, workflow_id="w", triggering_event_key="ev")
    assert attrs.task_run(OpenTelemetryConfig(), action, "worker") == {
        "instrumentor": "hatchet", "hatchet.tenant_id": "t", "hatchet.worker_id": "worker",
        "hatchet.workflow_run_id": "run", "hatchet.step_id": "step", "hatchet.step_run_id": "task-run",
        "hatchet.retry_count": 2, "hatchet.parent_workflow_run_id": "p", "hatchet.payload": OFFICIAL_EMPTY_PAYLOAD,
        "hatchet.workflow_name": "wf", "hatchet.action_name": "wf:task", "hatchet.step_name": "task",
        "hatchet.workflow_id": "w", "hatchet.triggering_event_key": "ev"}


def test_otel_settings_come_from_the_official_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HATCHET_CLIENT_OPENTELEMETRY_EXCLUDED_ATTRIBUTES", '["payload", "additional_metadata"]')
    monkeypatch.setenv("HATCHET_CLIENT_OPENTELEMETRY_INCLUDE_TASK_NAME_IN_START_STEP_RUN_SPAN_NAME", "true")
    otel = ClientConfig(token=TOKEN).otel
    assert otel.excluded_attributes == [OTelAttribute.ACTION_PAYLOAD, OTelAttribute.ADDITIONAL_METADATA]
    assert otel.include_task_name_in_start_step_run_span_name and not otel.individual_run_spans_for_bulk_run
    monkeypatch.setenv("HATCHET_CLIENT_OPENTELEMETRY_EXCLUDED_ATTRIBUTES", "payload")
    with pytest.raises(ConfigError, match="HATCHET_CLIENT_OPENTELEMETRY_EXCLUDED_ATTRIBUTES must be a JSON array"):
        ClientConfig(token=TOKEN)


def test_attribute_names_are_the_official_ones() -> None:
    code = "import json; from hatchet_sdk.utils.opentelemetry import OTelAttribute as A; " \
           "print(json.dumps({m.name: m.value for m in A}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout) == {m.name: m.value for m in OTelAttribute}


@pytest.fixture
def spans() -> Iterator[tuple[InMemorySpanExporter, HatchetInstrumentor]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    config = ClientConfig(token=TOKEN, namespace="ns", tls_config={"strategy": "none"},
                          otel={"individual_run_spans_for_bulk_run": True,
                                "include_task_name_in_start_step_run_span_name": True})
    instrumentor = HatchetInstrumentor(tracer_provider=provider, config=config, enable_hatchet_otel_collector=False)
    instrumentor.instrument()
    try:
        yield exporter, instrumentor
    finally:
        instrumentor.uninstrument()


def _traceparent(text: str) -> str:
    value = json.loads(text)["traceparent"]
    assert isinstance(value, str)
    return value


def _span_id(span: object) -> str:
    ctx = span.get_span_context()  # type: ignore[attr-defined]
    return f"{ctx.span_id:016x}"


def test_hooks_make_the_official_spans_and_carry_their_context(
        spans: tuple[InMemorySpanExporter, HatchetInstrumentor]) -> None:
    exporter, _ = spans
    hooks = _tracing.current()
    req = v1_trigger_pb2.TriggerWorkflowRequest(name="ns_wf", input='{"a": 1}', additional_metadata='{"k": "v"}')
    with hooks.trigger(req, TriggerWorkflowOptions(sticky=True)):
        pass
    (trigger,) = exporter.get_finished_spans()
    assert trigger.name == "hatchet.run_workflow" and trigger.kind.name == "PRODUCER"
    assert dict(trigger.attributes or {}) == {"instrumentor": "hatchet", "hatchet.workflow_name": "wf",
                                              "hatchet.payload": '{"a": 1}', "hatchet.additional_metadata":
                                              '{"k": "v"}', "hatchet.sticky": True}
    assert _traceparent(req.additional_metadata).split("-")[2] == _span_id(trigger)

    # The worker side: the run's span is the child of the context its metadata carries; a failure is recorded.
    action = dispatcher_pb2.AssignedAction(action_id="ns_wf:t", task_run_external_id="r",
                                           additional_metadata=req.additional_metadata)
    with hooks.task_run(action, "w") as failed:
        failed(ValueError("boom"))
    run = exporter.get_finished_spans()[-1]
    assert run.name == "hatchet.start_step_run.ns_wf:t" and run.kind.name == "CONSUMER"
    assert run.parent is not None and run.parent.span_id == trigger.get_span_context().span_id  # type: ignore[union-attr]
    assert run.status.status_code == StatusCode.ERROR and run.status.description == "boom"

    # A bulk trigger: one span, and (individual_run_spans_for_bulk_run) one child span per run.
    exporter.clear()
    reqs = [v1_trigger_pb2.TriggerWorkflowRequest(name="ns_wf", input="{}") for _ in range(2)]
    with hooks.trigger_many(reqs, [None, None]):
        pass
    *items, bulk = exporter.get_finished_spans()
    assert bulk.name == "hatchet.run_workflows"
    assert dict(bulk.attributes or {}) == {"instrumentor": "hatchet", "hatchet.num_workflows": 2,
                                           "hatchet.unique_workflow_names": json.dumps(str({"wf"}))}
    assert [s.name for s in items] == ["hatchet.run_workflow"] * 2
    assert [_traceparent(r.additional_metadata).split("-")[2] for r in reqs] == [_span_id(s) for s in items]

    # Schedules and events.
    exporter.clear()
    sched = workflows_pb2.ScheduleWorkflowRequest(name="ns_wf", input="{}")
    sched.schedules.add(seconds=int(datetime(2030, 1, 1, tzinfo=UTC).timestamp()))
    with hooks.schedule(sched, None):
        pass
    push = events_pb2.PushEventRequest(key="ns_ev", payload='{"p": 1}', additional_metadata=json.dumps(
        {"k": "v", "hatchet__source_workflow_run_id": "x", "hatchet__source_step_run_id": "y"}), scope="s")
    with hooks.push(push):
        pass
    bulk_push = events_pb2.BulkPushEventRequest(events=[events_pb2.PushEventRequest(key="ns_ev", payload="{}")])
    with hooks.bulk_push(bulk_push):
        pass
    with hooks.durable_wait("sleep:1s-0", 1, "task-run"):
        pass
    scheduled, pushed, bulk_pushed, waited = exporter.get_finished_spans()
    assert waited.name == "hatchet.durable.wait_for" and dict(waited.attributes or {}) == {
        "instrumentor": "hatchet", "hatchet.signal_key": "sleep:1s-0", "hatchet.num_conditions": 1,
        "hatchet.step_run_id": "task-run"}
    assert scheduled.name == "hatchet.schedule_workflow"
    assert (scheduled.attributes or {})["hatchet.run_at_timestamps"] == '["2030-01-01T00:00:00+00:00"]'
    assert pushed.name == "hatchet.push_event" and dict(pushed.attributes or {}) == {
        "instrumentor": "hatchet", "hatchet.event_key": "ev", "hatchet.payload": '{"p": 1}',
        "hatchet.additional_metadata": '{"k": "v"}', "hatchet.scope": "s"}
    assert bulk_pushed.name == "hatchet.bulk_push_event"
    for message, span in ((sched, scheduled), (push, pushed), (bulk_push.events[0], bulk_pushed)):
        assert _traceparent(message.additional_metadata).split("-")[2] == _span_id(span)


def test_uninstrument_removes_the_hooks(spans: tuple[InMemorySpanExporter, HatchetInstrumentor]) -> None:
    exporter, instrumentor = spans
    assert not isinstance(_tracing.current(), _tracing.NoTracing)
    instrumentor.uninstrument()
    assert isinstance(_tracing.current(), _tracing.NoTracing)
    req = v1_trigger_pb2.TriggerWorkflowRequest(name="wf", additional_metadata='{"k": "v"}')
    with _tracing.current().trigger(req, None):
        pass
    assert req.additional_metadata == '{"k": "v"}' and exporter.get_finished_spans() == ()
    instrumentor.instrument()
    # The class is a singleton: constructing it again keeps what uninstrument() has to remove.
    again = HatchetInstrumentor(tracer_provider=TracerProvider(), config=instrumentor.config,
                                enable_hatchet_otel_collector=False)
    assert again is instrumentor
    again.uninstrument()
    assert isinstance(_tracing.current(), _tracing.NoTracing)
    instrumentor.instrument()  # the fixture's uninstrument is then the last word again


def test_the_sdk_works_without_opentelemetry_and_the_instrumentor_names_the_extra() -> None:
    # ``opentelemetry`` made unimportable, as on a machine without the extra.
    code = """
import sys
sys.modules["opentelemetry"] = None
import hatchet_worker
from hatchet_worker import Hatchet, ClientConfig
from hatchet_worker.utils.opentelemetry import OTelAttribute
import hatchet_worker._runner, hatchet_worker.worker, hatchet_worker.runs
try:
    import hatchet_worker.opentelemetry.instrumentor
except ModuleNotFoundError as exc:
    print(exc)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "`otel` extra" in out.stdout and "hatchet-kube[otel]" in out.stdout


class _CountingExporter(SpanExporter):
    def __init__(self) -> None:
        self.batches = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.batches += 1
        return SpanExportResult.SUCCESS


@pytest.mark.parametrize("has_service", [False, True])
def test_spans_go_to_the_engine_only_when_it_has_a_trace_service(has_service: bool) -> None:
    """An engine without the service (v0.104.7 by default) answers UNIMPLEMENTED to the probe: nothing is
    sent (the OTLP exporter would log an error per batch); one with it gets every batch."""
    probes: list[bytes] = []

    def export(request: bytes, context: grpc.ServicerContext) -> bytes:
        probes.append(request)
        return b""

    server = grpc.server(futures.ThreadPoolExecutor(2))
    if has_service:
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
            "opentelemetry.proto.collector.trace.v1.TraceService",
            {"Export": grpc.unary_unary_rpc_method_handler(export)})])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        config = ClientConfig(token=TOKEN, host_port=f"127.0.0.1:{port}", tls_config={"strategy": "none"})
        inner = _CountingExporter()
        exporter = _EngineSpanExporter(inner, _trace_service_probe(config))
        for _ in range(3):
            assert exporter.export([]) == SpanExportResult.SUCCESS
        assert inner.batches == (3 if has_service else 0)
        assert probes == ([b""] if has_service else [])  # probed once, with an empty (storing nothing) export
    finally:
        server.stop(None)


def test_the_instrumentor_api_is_the_official_one() -> None:
    """Constructor parameters (names, order, defaults), public methods and the module's public helpers."""
    code = """
import inspect, json, importlib
mod = importlib.import_module(f"{PKG}.opentelemetry.instrumentor")
cls = mod.HatchetInstrumentor
sig = inspect.signature(cls.__init__)
print(json.dumps({
    "init": [(p.name, repr(p.default)) for p in sig.parameters.values()],
    "methods": sorted(n for n in dir(cls) if not n.startswith("_") and callable(getattr(cls, n))),
    "helpers": sorted(n for n in ("create_traceparent", "parse_carrier_from_metadata",
                                  "inject_traceparent_into_metadata", "OTEL_TRACEPARENT_KEY") if hasattr(mod, n)),
    "key": mod.OTEL_TRACEPARENT_KEY}))
"""
    found = {}
    for pkg in ("hatchet_sdk", "hatchet_worker"):
        out = subprocess.run([sys.executable, "-c", code.replace("{PKG}", pkg)], capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        found[pkg] = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["hatchet_worker"] == found["hatchet_sdk"]
    assert HatchetInstrumentor.extract_bound_args(None, lambda a, b=2, *, c=3: None, (1,), {}) == [1, 2, 3]  # type: ignore[arg-type]
