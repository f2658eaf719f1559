"""``CronWorkflows``: a cron trigger as the engine's REST API returns it (``workflow.create_cron``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hatchet_worker.clients.rest.models.api_resource_meta import APIResourceMeta
from hatchet_worker.clients.rest.models.cron_workflows_method import CronWorkflowsMethod


class CronWorkflows(BaseModel):
    """Field names and JSON aliases as in the official SDK's model."""

    model_config = ConfigDict(populate_by_name=True)

    metadata: APIResourceMeta
    tenant_id: str = Field(alias="tenantId")
    workflow_version_id: str = Field(alias="workflowVersionId")
    workflow_id: str = Field(alias="workflowId")
    workflow_name: str = Field(alias="workflowName")
    cron: str
    name: str | None = None
    input: dict[str, Any] | None = None
    additional_metadata: dict[str, Any] | None = Field(default=None, alias="additionalMetadata")
    enabled: bool
    method: CronWorkflowsMethod
    priority: int | None = Field(default=None, ge=1, le=3)
