"""``V1CreateFilterRequest`` under the official module path."""

from hatchet_worker.clients.rest.models.feature_parts import V1CreateFilterRequest

__all__ = ["V1CreateFilterRequest"]
