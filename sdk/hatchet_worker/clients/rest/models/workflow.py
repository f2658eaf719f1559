"""``Workflow``, ``WorkflowList``, ``WorkflowVersion``: workflow declarations as the engine's REST API
returns them (``hatchet.workflows``).

Field names and JSON aliases as in the official SDK's models. Enum-valued fields (a concurrency
strategy, a paused workflow's queue behaviour) are kept as the engine's strings, so a value a newer
engine adds does not fail validation.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hatchet_worker.clients.rest.models.api_resource_meta import APIResourceMeta
from hatchet_worker.clients.rest.models.pagination_response import PaginationResponse


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class WorkflowTag(_Model):
    name: str
    color: str


class Step(_Model):
    metadata: APIResourceMeta
    readable_id: str = Field(alias="readableId")
    tenant_id: str = Field(alias="tenantId")
    job_id: str = Field(alias="jobId")
    action: str
    timeout: str | None = None
    is_durable: bool | None = Field(default=None, alias="isDurable")
    slot_requests: dict[str, int] | None = Field(default=None, alias="slotRequests")
    children: list[str] | None = None
    parents: list[str] | None = None


class Job(_Model):
    metadata: APIResourceMeta
    tenant_id: str = Field(alias="tenantId")
    version_id: str = Field(alias="versionId")
    name: str
    description: str | None = None
    steps: list[Step]
    timeout: str | None = None


class WorkflowTriggerEventRef(_Model):
    parent_id: str | None = None
    event_key: str | None = None


class WorkflowTriggerCronRef(_Model):
    parent_id: str | None = None
    cron: str | None = None


class WorkflowTriggers(_Model):
    metadata: APIResourceMeta | None = None
    workflow_version_id: str | None = None
    tenant_id: str | None = None
    events: list[WorkflowTriggerEventRef] | None = None
    crons: list[WorkflowTriggerCronRef] | None = None


class WorkflowConcurrency(_Model):
    max_runs: int = Field(alias="maxRuns")
    limit_strategy: str = Field(alias="limitStrategy")
    get_concurrency_group: str = Field(alias="getConcurrencyGroup")


class ConcurrencySetting(_Model):
    max_runs: int = Field(alias="maxRuns")
    limit_strategy: str = Field(alias="limitStrategy")
    expression: str
    step_readable_id: str | None = Field(default=None, alias="stepReadableId")
    scope: str


class WorkflowVersionMeta(_Model):
    metadata: APIResourceMeta
    version: str
    order: int
    workflow_id: str = Field(alias="workflowId")
    workflow: Workflow | None = None


class Workflow(_Model):
    metadata: APIResourceMeta
    name: str
    description: str | None = None
    is_paused: bool | None = Field(default=None, alias="isPaused")
    paused_workflow_cron_run_queue_behavior: str | None = Field(
        default=None, alias="pausedWorkflowCronRunQueueBehavior")
    paused_workflow_scheduled_run_queue_behavior: str | None = Field(
        default=None, alias="pausedWorkflowScheduledRunQueueBehavior")
    versions: list[WorkflowVersionMeta] | None = None
    tags: list[WorkflowTag] | None = None
    jobs: list[Job] | None = None
    tenant_id: str = Field(alias="tenantId")
    triggers: WorkflowTriggers | None = None


class WorkflowList(_Model):
    metadata: APIResourceMeta | None = None
    rows: list[Workflow] | None = None
    pagination: PaginationResponse | None = None


class WorkflowVersion(_Model):
    metadata: APIResourceMeta
    version: str
    order: int
    workflow_id: str = Field(alias="workflowId")
    sticky: str | None = None
    default_priority: int | None = Field(default=None, alias="defaultPriority")
    workflow: Workflow | None = None
    concurrency: WorkflowConcurrency | None = None
    triggers: WorkflowTriggers | None = None
    schedule_timeout: str | None = Field(default=None, alias="scheduleTimeout")
    jobs: list[Job] | None = None
    workflow_config: dict[str, Any] | None = Field(default=None, alias="workflowConfig")
    v1_concurrency: list[ConcurrencySetting] | None = Field(default=None, alias="v1Concurrency")
    input_json_schema: dict[str, Any] | None = Field(default=None, alias="inputJsonSchema")


WorkflowVersionMeta.model_rebuild()
