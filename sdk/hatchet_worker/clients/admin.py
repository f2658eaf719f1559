"""``hatchet_sdk.clients.admin`` names this SDK provides."""

from hatchet_worker.runs import TriggerWorkflowOptions

__all__ = ["TriggerWorkflowOptions"]
