"""``V1TaskEvent``: one entry of a run's event log (``V1WorkflowRunDetails.task_events``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from hatchet_worker.clients.rest.models._enums import V1TaskEventType


class V1TaskEvent(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: int
    task_id: str = Field(alias="taskId")
    timestamp: datetime
    event_type: V1TaskEventType = Field(alias="eventType")
    message: str
    error_message: str | None = Field(default=None, alias="errorMessage")
    output: str | None = None
    worker_id: str | None = Field(default=None, alias="workerId")
    task_display_name: str | None = Field(default=None, alias="taskDisplayName")
    retry_count: int | None = Field(default=None, alias="retryCount")
    attempt: int | None = None
