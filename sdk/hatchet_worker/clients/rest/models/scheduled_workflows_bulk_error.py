"""``ScheduledWorkflowsBulkError`` under the official module path."""

from hatchet_worker.clients.rest.models.feature_parts import ScheduledWorkflowsBulkError

__all__ = ["ScheduledWorkflowsBulkError"]
