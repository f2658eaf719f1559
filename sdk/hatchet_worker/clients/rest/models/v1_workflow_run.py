"""``V1WorkflowRun``: the run part of ``V1WorkflowRunDetails`` (``hatchet.runs.get``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hatchet_worker.clients.rest.models._enums import V1TaskStatus
from hatchet_worker.clients.rest.models.api_resource_meta import APIResourceMeta


class V1WorkflowRun(BaseModel):
    """Field names and JSON aliases as in the official SDK's model."""

    model_config = ConfigDict(populate_by_name=True)

    metadata: APIResourceMeta
    status: V1TaskStatus
    started_at: datetime | None = Field(default=None, alias="startedAt")
    finished_at: datetime | None = Field(default=None, alias="finishedAt")
    duration: int | None = None
    tenant_id: str = Field(alias="tenantId")
    additional_metadata: dict[str, Any] | None = Field(default=None, alias="additionalMetadata")
    display_name: str = Field(alias="displayName")
    workflow_id: str = Field(alias="workflowId")
    output: dict[str, Any]
    error_message: str | None = Field(default=None, alias="errorMessage")
    workflow_version_id: str | None = Field(default=None, alias="workflowVersionId")
    input: dict[str, Any]
    created_at: datetime | None = Field(default=None, alias="createdAt")
    parent_task_external_id: str | None = Field(default=None, alias="parentTaskExternalId")
    payloads_restricted: bool | None = Field(default=None, alias="payloadsRestricted")
