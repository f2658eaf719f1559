"""``hatchet_sdk.runnables.types`` names this SDK provides."""

from hatchet_worker.workflow import ConcurrencyExpression, EmptyModel, StickyStrategy

__all__ = ["ConcurrencyExpression", "EmptyModel", "StickyStrategy"]
