"""``hatchet_sdk.features.workers`` names: the workers client."""

from hatchet_worker._workers_client import WorkersClient

__all__ = ["WorkersClient"]
