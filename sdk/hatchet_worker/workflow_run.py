"""``hatchet_sdk.workflow_run``: the reference to a triggered run."""

from hatchet_worker.runs import WorkflowRunRef

__all__ = ["WorkflowRunRef"]
