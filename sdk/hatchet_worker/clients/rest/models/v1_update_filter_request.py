"""``V1UpdateFilterRequest`` under the official module path."""

from hatchet_worker.clients.rest.models.feature_parts import V1UpdateFilterRequest

__all__ = ["V1UpdateFilterRequest"]
