"""``ScheduledRunStatus`` under the official module path."""

from hatchet_worker.clients.rest.models._enums import ScheduledRunStatus

__all__ = ["ScheduledRunStatus"]
