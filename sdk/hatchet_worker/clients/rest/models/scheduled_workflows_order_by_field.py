"""``ScheduledWorkflowsOrderByField`` under the official module path."""

from hatchet_worker.clients.rest.models._enums import ScheduledWorkflowsOrderByField

__all__ = ["ScheduledWorkflowsOrderByField"]
