"""``V1TaskStatus`` under the official module path."""

from hatchet_worker.clients.rest.models._enums import V1TaskStatus

__all__ = ["V1TaskStatus"]
