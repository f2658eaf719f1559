"""``UpdateWorkerRequest`` under the official module path."""

from hatchet_worker.clients.rest.models.worker_parts import UpdateWorkerRequest

__all__ = ["UpdateWorkerRequest"]
