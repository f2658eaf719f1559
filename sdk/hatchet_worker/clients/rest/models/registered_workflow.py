"""``RegisteredWorkflow`` under the official module path."""

from hatchet_worker.clients.rest.models.worker_parts import RegisteredWorkflow

__all__ = ["RegisteredWorkflow"]
