"""``WorkerType`` under the official module path."""

from hatchet_worker.clients.rest.models._enums import WorkerType

__all__ = ["WorkerType"]
