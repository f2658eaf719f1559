"""``RateLimit`` under the official module path."""

from hatchet_worker.clients.rest.models.feature_parts import RateLimit

__all__ = ["RateLimit"]
