"""``ScheduledWorkflowsBulkDeleteResponse`` under the official module path."""

from hatchet_worker.clients.rest.models.feature_parts import ScheduledWorkflowsBulkDeleteResponse

__all__ = ["ScheduledWorkflowsBulkDeleteResponse"]
