"""``WorkerSlotConfig`` under the official module path."""

from hatchet_worker.clients.rest.models.worker_parts import WorkerSlotConfig

__all__ = ["WorkerSlotConfig"]
