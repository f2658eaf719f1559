"""``hatchet_sdk.runnables.types`` names this SDK provides."""

from hatchet_worker.workflow import ConcurrencyExpression, EmptyModel, StickyStrategy, TaskDefaults

__all__ = ["ConcurrencyExpression", "EmptyModel", "StickyStrategy", "TaskDefaults"]
