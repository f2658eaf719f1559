"""``RateLimitOrderByField`` under the official module path."""

from hatchet_worker.clients.rest.models.feature_parts import RateLimitOrderByField

__all__ = ["RateLimitOrderByField"]
