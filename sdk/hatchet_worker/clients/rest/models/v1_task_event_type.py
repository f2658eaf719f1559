"""``V1TaskEventType`` under the official module path."""

from hatchet_worker.clients.rest.models._enums import V1TaskEventType

__all__ = ["V1TaskEventType"]
