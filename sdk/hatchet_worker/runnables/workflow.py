"""``hatchet_sdk.runnables.workflow`` names this SDK provides."""

from hatchet_worker.runs import TaskRunRef
from hatchet_worker.workflow import Standalone, Workflow

BaseWorkflow = Workflow
"""The common base of workflows and standalone tasks (here ``Standalone`` subclasses ``Workflow``)."""

__all__ = ["BaseWorkflow", "Standalone", "TaskRunRef", "Workflow"]
