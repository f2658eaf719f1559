"""``V1WorkflowRunDetails``: a run with its tasks, events and shape (``hatchet.runs.get``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hatchet_worker.clients.rest.models.v1_task_event import V1TaskEvent
from hatchet_worker.clients.rest.models.v1_task_summary import V1TaskSummary
from hatchet_worker.clients.rest.models.v1_workflow_run import V1WorkflowRun
from hatchet_worker.clients.rest.models.workflow_run_shape_item_for_workflow_run_details import (
    WorkflowRunShapeItemForWorkflowRunDetails,
)


class V1WorkflowRunDetails(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    run: V1WorkflowRun
    task_events: list[V1TaskEvent] = Field(alias="taskEvents")
    shape: list[WorkflowRunShapeItemForWorkflowRunDetails]
    tasks: list[V1TaskSummary]
    workflow_config: dict[str, Any] | None = Field(default=None, alias="workflowConfig")
