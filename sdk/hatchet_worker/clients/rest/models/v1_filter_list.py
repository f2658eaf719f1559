"""``V1FilterList`` under the official module path."""

from hatchet_worker.clients.rest.models.feature_parts import V1FilterList

__all__ = ["V1FilterList"]
