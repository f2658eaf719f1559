"""``WorkerRuntimeInfo`` under the official module path."""

from hatchet_worker.clients.rest.models.worker_parts import WorkerRuntimeInfo

__all__ = ["WorkerRuntimeInfo"]
