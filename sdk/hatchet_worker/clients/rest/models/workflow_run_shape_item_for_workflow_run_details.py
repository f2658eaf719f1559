"""``WorkflowRunShapeItemForWorkflowRunDetails``: one task of a run's DAG and the steps after it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WorkflowRunShapeItemForWorkflowRunDetails(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    task_external_id: str = Field(alias="taskExternalId")
    step_id: str = Field(alias="stepId")
    children_step_ids: list[str] = Field(alias="childrenStepIds")
    task_name: str = Field(alias="taskName")
