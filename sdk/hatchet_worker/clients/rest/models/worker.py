"""``Worker``: a worker as the engine's REST API returns it (``hatchet.workers.get`` / ``list``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from hatchet_worker.clients.rest.models._enums import WorkerStatus, WorkerType
from hatchet_worker.clients.rest.models.api_resource_meta import APIResourceMeta
from hatchet_worker.clients.rest.models.worker_parts import (
    RecentStepRuns,
    RegisteredWorkflow,
    SemaphoreSlots,
    WorkerLabel,
    WorkerRuntimeInfo,
    WorkerSlotConfig,
)


class Worker(BaseModel):
    """Field names and JSON aliases as in the official SDK's model."""

    model_config = ConfigDict(populate_by_name=True)

    metadata: APIResourceMeta
    name: str
    type: WorkerType
    last_heartbeat_at: datetime | None = Field(default=None, alias="lastHeartbeatAt")
    last_listener_established: datetime | None = Field(default=None, alias="lastListenerEstablished")
    actions: list[str] | None = None
    registered_workflows: list[RegisteredWorkflow] | None = Field(default=None, alias="registeredWorkflows")
    slots: list[SemaphoreSlots] | None = None
    recent_step_runs: list[RecentStepRuns] | None = Field(default=None, alias="recentStepRuns")
    status: WorkerStatus | None = None
    slot_config: dict[str, WorkerSlotConfig] | None = Field(default=None, alias="slotConfig")
    dispatcher_id: str | None = Field(default=None, alias="dispatcherId")
    labels: list[WorkerLabel] | None = None
    webhook_url: str | None = Field(default=None, alias="webhookUrl")
    webhook_id: str | None = Field(default=None, alias="webhookId")
    runtime_info: WorkerRuntimeInfo | None = Field(default=None, alias="runtimeInfo")
    operator_id: str | None = Field(default=None, alias="operatorId")
    evicted_durable_task_count: int | None = Field(default=None, alias="evictedDurableTaskCount")
