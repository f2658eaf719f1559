"""``V1Filter`` under the official module path."""

from hatchet_worker.clients.rest.models.feature_parts import V1Filter

__all__ = ["V1Filter"]
