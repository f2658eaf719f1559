"""``hatchet_sdk.runnables.task`` names this SDK provides."""

from hatchet_worker._di import Depends
from hatchet_worker.workflow import Task

__all__ = ["Depends", "Task"]
