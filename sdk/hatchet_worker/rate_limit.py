"""``hatchet_sdk.rate_limit`` names this SDK provides."""

from hatchet_worker.workflow import RateLimit

__all__ = ["RateLimit"]
