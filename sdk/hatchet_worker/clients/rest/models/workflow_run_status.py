"""``WorkflowRunStatus`` under the official module path."""

from hatchet_worker.clients.rest.models._enums import WorkflowRunStatus

__all__ = ["WorkflowRunStatus"]
