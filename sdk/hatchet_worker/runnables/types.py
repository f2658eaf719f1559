"""``hatchet_sdk.runnables.types`` names this SDK provides."""

from hatchet_worker._batch import BatchMemberId, BatchTaskConfig
from hatchet_worker.workflow import ConcurrencyExpression, EmptyModel, StickyStrategy, TaskDefaults

__all__ = ["BatchMemberId", "BatchTaskConfig", "ConcurrencyExpression", "EmptyModel", "StickyStrategy",
           "TaskDefaults"]
