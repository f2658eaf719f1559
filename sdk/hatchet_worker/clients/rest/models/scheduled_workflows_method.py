"""``ScheduledWorkflowsMethod`` under the official module path."""

from hatchet_worker.clients.rest.models._enums import ScheduledWorkflowsMethod

__all__ = ["ScheduledWorkflowsMethod"]
