"""The parts of a ``Worker`` as the engine's REST API returns it, each re-exported under its official
module path (``worker_label``, ``registered_workflow``, ...)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from hatchet_worker.clients.rest.models._enums import StepRunStatus, WorkerRuntimeSDKs
from hatchet_worker.clients.rest.models.api_resource_meta import APIResourceMeta


class WorkerLabel(BaseModel):
    """A label as the engine reports it: ``value`` is text even for an int label."""

    model_config = ConfigDict(populate_by_name=True)

    metadata: APIResourceMeta
    key: str
    value: str | None = None


class RegisteredWorkflow(BaseModel):
    id: str
    name: str


class SemaphoreSlots(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    step_run_id: str = Field(alias="stepRunId")
    action_id: str = Field(alias="actionId")
    started_at: datetime | None = Field(default=None, alias="startedAt")
    timeout_at: datetime | None = Field(default=None, alias="timeoutAt")
    workflow_run_id: str = Field(alias="workflowRunId")
    status: StepRunStatus | None = None


class RecentStepRuns(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    metadata: APIResourceMeta
    action_id: str = Field(alias="actionId")
    status: StepRunStatus
    started_at: datetime | None = Field(default=None, alias="startedAt")
    finished_at: datetime | None = Field(default=None, alias="finishedAt")
    cancelled_at: datetime | None = Field(default=None, alias="cancelledAt")
    workflow_run_id: str = Field(alias="workflowRunId")


class WorkerSlotConfig(BaseModel):
    """Slot availability and limit of one slot type (``default``, ``durable``)."""

    available: int | None = None
    limit: int


class WorkerRuntimeInfo(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    sdk_version: str | None = Field(default=None, alias="sdkVersion")
    language: WorkerRuntimeSDKs | None = None
    language_version: str | None = Field(default=None, alias="languageVersion")
    os: str | None = None
    runtime_extra: str | None = Field(default=None, alias="runtimeExtra")


class UpdateWorkerRequest(BaseModel):
    """The body of ``hatchet.workers.update``: only pausing exists."""

    model_config = ConfigDict(populate_by_name=True)

    is_paused: bool | None = Field(default=None, alias="isPaused")
