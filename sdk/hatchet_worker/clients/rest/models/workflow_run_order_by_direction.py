"""``WorkflowRunOrderByDirection`` under the official module path."""

from hatchet_worker.clients.rest.models._enums import WorkflowRunOrderByDirection

__all__ = ["WorkflowRunOrderByDirection"]
