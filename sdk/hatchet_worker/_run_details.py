"""``hatchet.runs.get_details``: a run read with ``v1.AdminService/GetRunDetails``, as the official
``WorkflowRunDetail`` (the run's status, input, metadata and each task's output or error)."""

from __future__ import annotations

import json
from enum import Enum
from typing import Any

from pydantic import BaseModel

from hatchet_worker._proto import v1_workflows_pb2
from hatchet_worker.clients.rest.models._enums import V1TaskStatus


class RunStatus(str, Enum):  # noqa: UP042 (str() as in the official SDK)
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"

    @staticmethod
    def from_proto(status: int) -> RunStatus:
        # An evicted durable run is still running (the engine reports it as RUNNING already).
        name = v1_workflows_pb2.RunStatus.Name(status)
        return RunStatus.RUNNING if name == "EVICTED" else RunStatus(name)

    def to_v1_task_status(self) -> V1TaskStatus:
        return V1TaskStatus(self.value)


class TaskRunDetail(BaseModel):
    external_id: str
    readable_id: str
    output: dict[str, Any] | None = None
    error: str | None = None
    status: V1TaskStatus
    is_evicted: bool = False


class WorkflowRunDetail(BaseModel):
    external_id: str
    status: RunStatus
    input: dict[str, Any] | None = None
    additional_metadata: dict[str, Any] | None = None
    task_runs: dict[str, TaskRunDetail]
    done: bool = False


def _json(raw: bytes) -> Any:
    return json.loads(raw.decode()) if raw else None


def from_proto(external_id: str, msg: v1_workflows_pb2.GetRunDetailsResponse) -> WorkflowRunDetail:
    """The official model from the engine's answer (empty JSON fields as None, as there)."""
    return WorkflowRunDetail(
        external_id=external_id, input=_json(msg.input), additional_metadata=_json(msg.additional_metadata),
        status=RunStatus.from_proto(msg.status), done=msg.done,
        task_runs={name: TaskRunDetail(readable_id=name, external_id=task.external_id, output=_json(task.output),
                                       error=task.error or None,
                                       status=RunStatus.from_proto(task.status).to_v1_task_status(),
                                       is_evicted=task.is_evicted)
                   for name, task in msg.task_runs.items()})
