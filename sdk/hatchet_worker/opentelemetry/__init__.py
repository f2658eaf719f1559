"""OpenTelemetry support (the ``otel`` extra): ``hatchet_worker.opentelemetry.instrumentor.HatchetInstrumentor``.

Kept out of this package's ``__init__`` so that importing the SDK never needs OpenTelemetry.
"""
