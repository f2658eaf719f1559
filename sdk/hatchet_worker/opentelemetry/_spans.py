"""The spans of the tracing hooks (``hatchet_worker._tracing``), with the official SDK's names and kinds.

Worker side: one CONSUMER span per task run, ``hatchet.start_step_run``, whose parent is the trace
context in the run's ``traceparent`` metadata (a root span without one), current while the task's
code runs; ``hatchet.cancel_step_run`` for an engine cancel. Client side: a PRODUCER span per
trigger (``hatchet.run_workflow``, ``hatchet.run_workflows``, ``hatchet.schedule_workflow``) and push
(``hatchet.push_event``, ``hatchet.bulk_push_event``), and an INTERNAL span for a durable wait
(``hatchet.durable.wait_for``), whose context is written into the request's
``traceparent`` metadata just before it is sent. A worker of either SDK reads it from there, so
traces cross between the two SDKs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from hatchet_worker import _otel_attributes as attrs
from hatchet_worker._otel_attributes import TRACEPARENT, Attributes, OpenTelemetryConfig
from hatchet_worker._tracing import ErrorRecorder

task_span_attributes: ContextVar[Attributes | None] = ContextVar("hatchet_worker_task_span_attributes",
                                                                 default=None)
"""The running task's ``hatchet.*`` attributes, copied onto every span started inside it (see the
instrumentor's span processor)."""

_PROPAGATOR = TraceContextTextMapPropagator()


def traceparent(span: Span | None = None) -> str | None:
    """The W3C ``traceparent`` of ``span``, else of the current span; None without a valid one."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=set_span_in_context(span) if span is not None else None)
    return carrier.get(TRACEPARENT)


def context_from(value: str | None) -> Context | None:
    """The trace context a ``traceparent`` value names (None when absent)."""
    return _PROPAGATOR.extract({TRACEPARENT: value}) if value else None


def _inject(message: Any, span: Span | None = None) -> None:
    """Write the trace context into a request's ``additional_metadata`` (JSON text) in place."""
    current = message.additional_metadata if message.HasField("additional_metadata") else None
    text = attrs.with_traceparent(current, traceparent(span))
    if text is not None:
        message.additional_metadata = text


def _failed(span: Span, exc: BaseException) -> None:
    span.record_exception(exc)
    span.set_status(StatusCode.ERROR, str(exc))


class SpanHooks:
    """Implements ``hatchet_worker._tracing.Tracing`` with a tracer."""

    def __init__(self, tracer: Tracer, otel: OpenTelemetryConfig, namespace: str) -> None:
        self._tracer = tracer
        self._otel = otel
        self._ns = namespace

    @contextlib.contextmanager
    def task_run(self, action: Any, worker_id: str) -> Iterator[ErrorRecorder]:
        attributes = attrs.task_run(self._otel, action, worker_id)
        name = "hatchet.start_step_run"
        if self._otel.include_task_name_in_start_step_run_span_name:
            name += f".{action.action_id}"
        meta = action.additional_metadata if action.HasField("additional_metadata") else None
        # No traceparent: a trace of its own, whatever context the worker's loop happens to carry.
        parent = context_from(attrs.traceparent_of(meta)) or Context()
        token = task_span_attributes.set(attributes)
        try:
            with self._tracer.start_as_current_span(name, context=parent, kind=SpanKind.CONSUMER,
                                                    attributes=attributes) as span:
                yield lambda exc: _failed(span, exc)
        finally:
            task_span_attributes.reset(token)

    @contextlib.contextmanager
    def task_cancel(self, action: Any) -> Iterator[None]:
        with self._tracer.start_as_current_span(
                "hatchet.cancel_step_run", kind=SpanKind.CONSUMER,
                attributes={"instrumentor": "hatchet", "hatchet.step_run_id": action.task_run_external_id}):
            yield

    @contextlib.contextmanager
    def trigger(self, request: Any, options: Any) -> Iterator[None]:
        with self._tracer.start_as_current_span("hatchet.run_workflow", kind=SpanKind.PRODUCER,
                                                attributes=attrs.trigger(self._otel, self._ns, request, options)):
            _inject(request)
            yield

    @contextlib.contextmanager
    def trigger_many(self, requests: Sequence[Any], options: Sequence[Any]) -> Iterator[None]:
        with (self._tracer.start_as_current_span("hatchet.run_workflows", kind=SpanKind.PRODUCER,
                                                 attributes=attrs.trigger_many(self._ns, requests)),
              self._runs(requests, options)):
            yield

    @contextlib.contextmanager
    def _runs(self, requests: Sequence[Any], options: Sequence[Any]) -> Iterator[None]:
        """Each run of a bulk trigger gets the bulk span's context, or (``individual_run_spans_for_bulk_run``)
        a span of its own, ended when the bulk call returns and failed with it."""
        if not self._otel.individual_run_spans_for_bulk_run:
            for request in requests:
                _inject(request)
            yield
            return
        spans = []
        for request, opts in zip(requests, options, strict=False):
            span = self._tracer.start_span("hatchet.run_workflow", kind=SpanKind.PRODUCER,
                                           attributes=attrs.trigger(self._otel, self._ns, request, opts))
            spans.append(span)
            _inject(request, span)
        try:
            yield
        except BaseException as exc:
            for span in spans:
                _failed(span, exc)
            raise
        finally:
            for span in spans:
                span.end()

    @contextlib.contextmanager
    def spawn(self, requests: Sequence[Any], options: Sequence[Any]) -> Iterator[None]:
        # As the official SDK names a durable task's spawn: one run, or many.
        if len(requests) == 1:
            with self.trigger(requests[0], options[0] if options else None):
                yield
            return
        with self._tracer.start_as_current_span("hatchet.run_workflows", kind=SpanKind.PRODUCER,
                                                attributes=attrs.trigger_many(self._ns, requests)):
            for request in requests:
                _inject(request)
            yield

    @contextlib.contextmanager
    def schedule(self, request: Any, options: Any) -> Iterator[None]:
        with self._tracer.start_as_current_span("hatchet.schedule_workflow", kind=SpanKind.PRODUCER,
                                                attributes=attrs.schedule(self._otel, self._ns, request, options)):
            _inject(request)
            yield

    @contextlib.contextmanager
    def durable_wait(self, signal_key: str, conditions: int, task_run_id: str) -> Iterator[None]:
        with self._tracer.start_as_current_span(
                "hatchet.durable.wait_for", kind=SpanKind.INTERNAL,
                attributes=attrs.durable_wait(self._otel, signal_key, conditions, task_run_id)):
            yield

    @contextlib.contextmanager
    def push(self, request: Any) -> Iterator[None]:
        with self._tracer.start_as_current_span("hatchet.push_event", kind=SpanKind.PRODUCER,
                                                attributes=attrs.push(self._otel, self._ns, request)):
            _inject(request)
            yield

    @contextlib.contextmanager
    def bulk_push(self, request: Any) -> Iterator[None]:
        with self._tracer.start_as_current_span("hatchet.bulk_push_event", kind=SpanKind.PRODUCER,
                                                attributes=attrs.bulk_push(self._ns, request)):
            for event in request.events:
                _inject(event)
            yield
