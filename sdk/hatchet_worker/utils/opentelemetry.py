"""``hatchet_sdk.utils.opentelemetry``: the span attribute names (usable without OpenTelemetry installed)."""

from hatchet_worker._otel_attributes import OTelAttribute

__all__ = ["OTelAttribute"]
