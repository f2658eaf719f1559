"""``HatchetInstrumentor``: OpenTelemetry traces of task runs, triggers and event pushes.

The official SDK's public API (same import path, constructor, ``instrument``/``uninstrument``, span
names and attributes, ``traceparent`` propagation through additional metadata), on this SDK's own
hook points (``hatchet_worker._tracing``) instead of wrapping methods. Needs the ``otel`` extra; importing
this module without it raises ``ModuleNotFoundError`` naming the extra, and the rest of the SDK never
imports it.

By default (``enable_hatchet_otel_collector=True``) spans also go to the engine's OTLP trace service on
its gRPC address, with the client's token and TLS settings. An engine without that service (v0.104.7
has it only with ``SERVER_OBSERVABILITY_ENABLED``) answers UNIMPLEMENTED: the OTLP exporter would log
an error for every batch, so the service is first probed with an empty export, and while it is
missing the spans are dropped quietly and it is probed again every five minutes.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    from opentelemetry.context import Context
    from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
        BaseInstrumentor,
    )
    from opentelemetry.metrics import MeterProvider, NoOpMeterProvider, get_meter
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace import Span as SDKSpan
    from opentelemetry.sdk.trace import TracerProvider as SDKTracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.trace import (
        NoOpTracerProvider,
        TracerProvider,
        get_tracer,
        get_tracer_provider,
        set_tracer_provider,
    )
except ImportError as exc:  # the optional extra is not installed
    raise ModuleNotFoundError(
        "HatchetInstrumentor needs the OpenTelemetry packages of the `otel` extra: "
        "pip install 'hatchet-kube[otel]'") from exc

from hatchet_worker import _channel, _tracing
from hatchet_worker._otel_attributes import TRACEPARENT
from hatchet_worker.config import ClientConfig
from hatchet_worker.opentelemetry import _spans

log = logging.getLogger("hatchet_worker.opentelemetry")
OTEL_TRACEPARENT_KEY = TRACEPARENT
InstrumentKwargs = TracerProvider | MeterProvider | None
_PAUSE_AFTER_UNIMPLEMENTED = timedelta(minutes=5)

try:
    _VERSION = version("hatchet-kube")
except PackageNotFoundError:  # running from a source tree
    _VERSION = "0"


_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


class _EngineSpanExporter(SpanExporter):
    """Sends to the engine's OTLP service while the engine has one: an engine without it costs nothing
    and one that gains it is used within minutes, without a worker restart.

    ``probe`` answers whether the service exists; it runs before the first export, after a failed one
    and when a pause ends.
    """

    def __init__(self, inner: SpanExporter, probe: Callable[[], bool]) -> None:
        self._inner = inner
        self._probe = probe
        self._known = False
        self._paused_until: datetime | None = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._paused_until is not None and datetime.now(UTC) < self._paused_until:
            return SpanExportResult.SUCCESS
        if not self._known:
            try:
                present = self._probe()
            except Exception as exc:  # the engine unreachable: let the exporter try (and report)
                log.debug("probing the engine's trace service failed: %r", exc)
                present = True
            if not present:
                if self._paused_until is None:
                    log.warning("the Hatchet engine has no OpenTelemetry trace service (engine setting "
                                "SERVER_OBSERVABILITY_ENABLED): spans are not sent to it; checking again every "
                                "%d minutes", _PAUSE_AFTER_UNIMPLEMENTED.seconds // 60)
                self._paused_until = datetime.now(UTC) + _PAUSE_AFTER_UNIMPLEMENTED
                return SpanExportResult.SUCCESS
            self._known, self._paused_until = True, None
        try:
            result = self._inner.export(spans)
        except Exception as exc:
            if not _unimplemented(exc):
                raise
            self._known = False
            return SpanExportResult.SUCCESS
        if result != SpanExportResult.SUCCESS:
            self._known = False  # check the service again before the next batch
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


def _trace_service_probe(config: ClientConfig) -> Callable[[], bool]:
    """An empty ``TraceService/Export`` on a channel of the client's settings: False when the engine
    answers UNIMPLEMENTED (an empty export stores nothing)."""
    import grpc

    channel: list[grpc.Channel] = []

    def probe() -> bool:
        if not channel:
            channel.append(_channel.sync_channel(config.listener_settings()))
        call = channel[0].unary_unary(_EXPORT)
        try:
            call(b"", timeout=10.0, metadata=_channel.auth_metadata(config.token))
        except grpc.RpcError as exc:
            if _unimplemented(exc):
                return False
            raise
        return True

    return probe


def _unimplemented(exc: Exception) -> bool:
    import grpc

    if isinstance(exc, grpc.RpcError):
        code = getattr(exc, "code", None)
        return callable(code) and code() == grpc.StatusCode.UNIMPLEMENTED
    return "UNIMPLEMENTED" in str(exc)


class _TaskAttributesProcessor(BatchSpanProcessor):
    """Puts the running task's ``hatchet.*`` attributes on every span started inside it (a user's own
    spans included), so they can be found by the same run and task ids."""

    def on_start(self, span: SDKSpan, parent_context: Context | None = None) -> None:
        found = _spans.task_span_attributes.get()
        if found and span.is_recording():
            present = span.attributes or {}
            for key, value in found.items():
                if key not in present:
                    span.set_attribute(key, value)
        super().on_start(span, parent_context)


def create_traceparent() -> str | None:
    """The current span's W3C ``traceparent`` (deprecated in the official SDK: the instrumentor adds it)."""
    log.warning("create_traceparent is not needed: the instrumentor adds the traceparent itself")
    return _spans.traceparent()


def parse_carrier_from_metadata(metadata: Mapping[str, Any] | None) -> Context | None:
    """The trace context of a run's metadata (deprecated in the official SDK: the instrumentor reads it)."""
    log.warning("parse_carrier_from_metadata is not needed: the instrumentor reads the traceparent itself")
    value = (metadata or {}).get(TRACEPARENT)
    return _spans.context_from(value if isinstance(value, str) else None)


def inject_traceparent_into_metadata(metadata: dict[str, str], traceparent: str | None = None) -> dict[str, str]:
    """``metadata`` with the (current span's) ``traceparent`` (deprecated in the official SDK)."""
    log.warning("inject_traceparent_into_metadata is not needed: the instrumentor adds the traceparent itself")
    value = traceparent or _spans.traceparent()
    return {**metadata, TRACEPARENT: value} if value else metadata


class HatchetInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """OpenTelemetry instrumentation of this SDK (the official ``HatchetInstrumentor``'s API).

    Args:
        tracer_provider: the provider of the spans; default: the global one when it is an SDK provider,
            else (with ``enable_hatchet_otel_collector``) a new SDK provider made global.
        meter_provider: kept for the official API; no metric is recorded (as there).
        config: the client configuration (engine address, token, TLS, ``otel`` settings); default:
            ``ClientConfig()`` from the environment.
        enable_hatchet_otel_collector: also export spans to the engine's OTLP trace service.
        schedule_delay_millis, max_export_batch_size, max_queue_size: the batch processor settings of
            that export (OpenTelemetry's defaults when not given).

    ``instrument()`` installs the hooks process-wide: every client and worker of this SDK in the
    process traces; ``uninstrument()`` removes them.
    """

    def __init__(self, tracer_provider: TracerProvider | None = None, meter_provider: MeterProvider | None = None,
                 config: ClientConfig | None = None, enable_hatchet_otel_collector: bool = True,
                 schedule_delay_millis: int | None = None, max_export_batch_size: int | None = None,
                 max_queue_size: int | None = None) -> None:
        self.config = config or ClientConfig()
        self._batch_settings = (schedule_delay_millis, max_export_batch_size, max_queue_size)
        if tracer_provider is not None:
            self.tracer_provider = tracer_provider
        else:
            existing = get_tracer_provider()
            if isinstance(existing, SDKTracerProvider) or not enable_hatchet_otel_collector:
                self.tracer_provider = existing
            else:
                self.tracer_provider = SDKTracerProvider()
                set_tracer_provider(self.tracer_provider)
        if enable_hatchet_otel_collector:
            self._export_to_engine()
        self.meter_provider = meter_provider or NoOpMeterProvider()
        # The class is a singleton (BaseInstrumentor): constructing it again must not forget the hooks
        # installed by an earlier instrument(), or uninstrument() could no longer remove them.
        self._hooks: _spans.SpanHooks | None = getattr(self, "_hooks", None)
        super().__init__()

    def _export_to_engine(self) -> None:
        if not isinstance(self.tracer_provider, SDKTracerProvider):
            log.warning("enable_hatchet_otel_collector needs an opentelemetry.sdk.trace.TracerProvider (one that "
                        "takes span processors); spans are not sent to the Hatchet engine")
            return
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise ModuleNotFoundError("enable_hatchet_otel_collector needs the OTLP gRPC exporter of the `otel` "
                                      "extra: pip install 'hatchet-kube[otel]'") from exc
        config = self.config
        settings = config.listener_settings()
        insecure = config.tls_config.strategy == "none"
        extra: dict[str, Any] = {}
        if not insecure and "channel_options" in inspect.signature(OTLPSpanExporter).parameters:
            # The TLS name the client's own channels verify (it may differ from the host dialled).
            extra["channel_options"] = (("grpc.ssl_target_name_override", settings["server_name"]),)
        exporter = OTLPSpanExporter(endpoint=config.host_port, insecure=insecure,
                                    credentials=_channel._credentials(settings),
                                    headers=(("authorization", f"Bearer {config.token}"),), **extra)
        delay, batch, queue = self._batch_settings  # None: OpenTelemetry's default (or its environment variable)
        self.tracer_provider.add_span_processor(_TaskAttributesProcessor(
            _EngineSpanExporter(exporter, _trace_service_probe(config)), schedule_delay_millis=delay,
            max_export_batch_size=batch, max_queue_size=queue))

    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    def extract_bound_args(self, wrapped_func: Callable[..., Any], args: tuple[Any, ...],
                           kwargs: dict[str, Any]) -> list[Any]:
        """The values of every parameter of ``wrapped_func`` for this call, defaults included, in order
        (public in the official instrumentor, which uses it on the methods it wraps; kept for its API)."""
        bound = inspect.signature(wrapped_func).bind(*args, **kwargs)
        bound.apply_defaults()
        return list(bound.arguments.values())

    def _instrument(self, **kwargs: InstrumentKwargs) -> None:
        provider = kwargs.get("tracer_provider")
        if isinstance(provider, TracerProvider):
            self.tracer_provider = provider
        meters = kwargs.get("meter_provider")
        if isinstance(meters, MeterProvider):
            self.meter_provider = meters
        self._tracer = get_tracer(__name__, _VERSION, self.tracer_provider)
        self._meter = get_meter(__name__, _VERSION, self.meter_provider)
        self._hooks = _spans.SpanHooks(self._tracer, self.config.otel, self.config.namespace)
        _tracing.install(self._hooks)

    def _uninstrument(self, **kwargs: InstrumentKwargs) -> None:
        if self._hooks is not None:
            _tracing.uninstall(self._hooks)
            self._hooks = None
        self.tracer_provider = NoOpTracerProvider()
        self.meter_provider = NoOpMeterProvider()


__all__ = ["OTEL_TRACEPARENT_KEY", "HatchetInstrumentor", "create_traceparent", "inject_traceparent_into_metadata",
           "parse_carrier_from_metadata"]
