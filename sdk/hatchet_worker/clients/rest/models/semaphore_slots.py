"""``SemaphoreSlots`` under the official module path."""

from hatchet_worker.clients.rest.models.worker_parts import SemaphoreSlots

__all__ = ["SemaphoreSlots"]
