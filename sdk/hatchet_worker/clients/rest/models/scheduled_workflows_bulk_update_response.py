"""``ScheduledWorkflowsBulkUpdateResponse`` under the official module path."""

from hatchet_worker.clients.rest.models.feature_parts import ScheduledWorkflowsBulkUpdateResponse

__all__ = ["ScheduledWorkflowsBulkUpdateResponse"]
