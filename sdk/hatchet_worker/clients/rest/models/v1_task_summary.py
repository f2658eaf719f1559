"""``V1TaskSummary``: one task run as the engine's REST API lists it (``hatchet.runs.list``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hatchet_worker.clients.rest.models._enums import V1TaskStatus, V1WorkflowType
from hatchet_worker.clients.rest.models.api_resource_meta import APIResourceMeta


class V1TaskSummary(BaseModel):
    """Field names and JSON aliases as in the official SDK's model."""

    model_config = ConfigDict(populate_by_name=True)

    metadata: APIResourceMeta
    action_id: str | None = Field(default=None, alias="actionId")
    retry_count: int | None = Field(default=None, alias="retryCount")
    attempt: int | None = None
    additional_metadata: dict[str, Any] | None = Field(default=None, alias="additionalMetadata")
    children: list[V1TaskSummary] | None = None
    created_at: datetime = Field(alias="createdAt")
    display_name: str = Field(alias="displayName")
    duration: int | None = None
    is_durable: bool | None = Field(default=None, alias="isDurable")
    error_message: str | None = Field(default=None, alias="errorMessage")
    finished_at: datetime | None = Field(default=None, alias="finishedAt")
    input: dict[str, Any]
    num_spawned_children: int = Field(alias="numSpawnedChildren")
    output: dict[str, Any]
    status: V1TaskStatus
    is_evicted: bool | None = Field(default=None, alias="isEvicted")
    started_at: datetime | None = Field(default=None, alias="startedAt")
    step_id: str | None = Field(default=None, alias="stepId")
    task_external_id: str = Field(alias="taskExternalId")
    task_id: int = Field(alias="taskId")
    task_inserted_at: datetime = Field(alias="taskInsertedAt")
    tenant_id: str = Field(alias="tenantId")
    type: V1WorkflowType
    workflow_id: str = Field(alias="workflowId")
    workflow_name: str | None = Field(default=None, alias="workflowName")
    workflow_run_external_id: str = Field(alias="workflowRunExternalId")
    workflow_version_id: str | None = Field(default=None, alias="workflowVersionId")
    workflow_config: dict[str, Any] | None = Field(default=None, alias="workflowConfig")
    parent_task_external_id: str | None = Field(default=None, alias="parentTaskExternalId")
    idempotency_key: str | None = Field(default=None, alias="idempotencyKey")
    payloads_restricted: bool | None = Field(default=None, alias="payloadsRestricted")
