"""``RateLimitOrderByDirection`` under the official module path."""

from hatchet_worker.clients.rest.models.feature_parts import RateLimitOrderByDirection

__all__ = ["RateLimitOrderByDirection"]
