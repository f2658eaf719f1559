"""``RecentStepRuns`` under the official module path."""

from hatchet_worker.clients.rest.models.worker_parts import RecentStepRuns

__all__ = ["RecentStepRuns"]
