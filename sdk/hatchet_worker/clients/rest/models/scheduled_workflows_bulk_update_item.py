"""``ScheduledWorkflowsBulkUpdateItem`` under the official module path."""

from hatchet_worker.clients.rest.models.feature_parts import ScheduledWorkflowsBulkUpdateItem

__all__ = ["ScheduledWorkflowsBulkUpdateItem"]
