"""``WorkerLabel`` under the official module path."""

from hatchet_worker.clients.rest.models.worker_parts import WorkerLabel

__all__ = ["WorkerLabel"]
