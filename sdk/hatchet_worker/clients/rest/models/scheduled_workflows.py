"""``ScheduledWorkflows``: a run scheduled for a time, as the engine's REST API returns it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hatchet_worker.clients.rest.models._enums import ScheduledWorkflowsMethod, WorkflowRunStatus
from hatchet_worker.clients.rest.models.api_resource_meta import APIResourceMeta


class ScheduledWorkflows(BaseModel):
    """Field names and JSON aliases as in the official SDK's model."""

    model_config = ConfigDict(populate_by_name=True)

    metadata: APIResourceMeta
    tenant_id: str = Field(alias="tenantId")
    workflow_version_id: str = Field(alias="workflowVersionId")
    workflow_id: str = Field(alias="workflowId")
    workflow_name: str = Field(alias="workflowName")
    trigger_at: datetime = Field(alias="triggerAt")
    input: dict[str, Any] | None = None
    additional_metadata: dict[str, Any] | None = Field(default=None, alias="additionalMetadata")
    workflow_run_created_at: datetime | None = Field(default=None, alias="workflowRunCreatedAt")
    workflow_run_name: str | None = Field(default=None, alias="workflowRunName")
    workflow_run_status: WorkflowRunStatus | None = Field(default=None, alias="workflowRunStatus")
    workflow_run_id: str | None = Field(default=None, alias="workflowRunId", min_length=36, max_length=36)
    method: ScheduledWorkflowsMethod
    priority: int | None = Field(default=None, ge=1, le=3)
