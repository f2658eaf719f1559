"""``WorkerStatus`` under the official module path."""

from hatchet_worker.clients.rest.models._enums import WorkerStatus

__all__ = ["WorkerStatus"]
