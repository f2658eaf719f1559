"""``hatchet_sdk.runnables.eviction`` names this SDK provides."""

from hatchet_worker._eviction import DEFAULT_DURABLE_TASK_EVICTION_POLICY, EvictionPolicy

__all__ = ["DEFAULT_DURABLE_TASK_EVICTION_POLICY", "EvictionPolicy"]
