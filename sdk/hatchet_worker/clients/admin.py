"""``hatchet_sdk.clients.admin`` names this SDK provides."""

from hatchet_worker._run_details import RunStatus, TaskRunDetail, WorkflowRunDetail
from hatchet_worker.runs import TriggerWorkflowOptions

__all__ = ["RunStatus", "TaskRunDetail", "TriggerWorkflowOptions", "WorkflowRunDetail"]
