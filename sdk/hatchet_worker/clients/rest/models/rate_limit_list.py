"""``RateLimitList`` under the official module path."""

from hatchet_worker.clients.rest.models.feature_parts import RateLimitList

__all__ = ["RateLimitList"]
