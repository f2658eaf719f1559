"""``V1WorkflowType`` under the official module path."""

from hatchet_worker.clients.rest.models._enums import V1WorkflowType

__all__ = ["V1WorkflowType"]
