"""Runs at a given time and runs on a cron, created from the client: ``workflow.schedule`` / ``create_cron``.

As in the official SDK, ``schedule`` is ``WorkflowService/ScheduleWorkflow`` (gRPC) and returns the
engine's ``WorkflowVersion`` with the scheduled run in ``scheduled_workflows``; ``create_cron`` is
``POST /api/v1/tenants/{tenant}/workflows/{workflow}/crons`` (REST) and returns the created
``CronWorkflows``. Neither makes the new run a child of the task that calls it (the official SDK does
not either; pass ``options`` with ``parent_id`` for that). A workflow's declared crons get their input
from ``cron_input`` (sent with the workflow, see ``_register``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

import grpc

from hatchet_worker import _rest, _tracing
from hatchet_worker._proto import workflows_pb2
from hatchet_worker.clients.rest.models.cron_workflows import CronWorkflows
from hatchet_worker.exceptions import DedupeViolationError, UnsupportedFeatureError
from hatchet_worker.runs import TriggerWorkflowOptions, _dump_input, merge_options

if TYPE_CHECKING:
    from hatchet_worker.client import Hatchet
    from hatchet_worker.workflow import Workflow

_CRON_ALIASES = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@hourly"}
_PLACEMENT = ("sticky", "desired_worker_id", "desired_worker_label", "desired_worker_labels", "key")
"""Trigger options a scheduled run cannot carry: the engine's schedule request has no such fields."""


def schedule_request(workflow_name: str, run_at: datetime, input: Any, options: TriggerWorkflowOptions,
                     default_metadata: Mapping[str, Any]) -> workflows_pb2.ScheduleWorkflowRequest:
    """The ``ScheduleWorkflow`` request for one run of ``workflow_name`` at ``run_at``.

    A naive ``run_at`` is read as local time (``datetime.timestamp``), as the official SDK does.

    Raises:
        UnsupportedFeatureError: ``options`` sets a field the schedule request cannot carry.
    """
    for field in _PLACEMENT:
        value = getattr(options, field)
        if value not in (None, False, {}, []):
            raise UnsupportedFeatureError(f"Workflow.schedule(options.{field}=...)",
                                          "the engine's schedule request has no worker placement or key; "
                                          "the run is placed when it starts")
    if options.namespace is not None:
        raise UnsupportedFeatureError("Workflow.schedule(options.namespace=...)",
                                      "set the namespace on ClientConfig")
    req = workflows_pb2.ScheduleWorkflowRequest(name=workflow_name, input=_dump_input(input),
                                                additional_metadata=json.dumps(
                                                    {**default_metadata, **options.additional_metadata},
                                                    default=str))
    at = run_at.timestamp()
    req.schedules.add(seconds=int(at), nanos=int(at % 1 * 1e9))
    for field in ("parent_id", "child_index", "child_key", "priority"):
        if (value := getattr(options, field)) is not None:
            setattr(req, field, value)
    if options.parent_step_run_id is not None:
        req.parent_task_run_external_id = options.parent_step_run_id
    return req


def check_cron_expression(expression: str) -> str:
    """The expression as the official SDK accepts it: an alias, or 5-6 fields of digits, ``*``, ``*/n``,
    ranges and lists.

    Raises:
        ValueError: anything else (the engine would refuse it later, or never fire).
    """
    if not expression:
        raise ValueError("Cron expression is required")
    if expression.strip() in _CRON_ALIASES:
        return expression.strip()
    parts = expression.split()
    if len(parts) not in (5, 6):
        raise ValueError("a cron expression has 5 or 6 fields: minute hour day month weekday")
    for part in parts:
        if part != "*" and not part.replace("*/", "").replace("-", "").replace(",", "").isdigit():
            raise ValueError(f"invalid cron expression field: {part!r}")
    return expression



def _raise_duplicate(exc: grpc.RpcError) -> NoReturn:
    """A schedule refused ``ALREADY_EXISTS`` raises ``DedupeViolationError``, whatever the message, as
    in the official SDK; other errors as they came."""
    if exc.code() == grpc.StatusCode.ALREADY_EXISTS:
        raise DedupeViolationError(exc.details()) from exc
    raise exc

class SchedulesClient:
    """What ``Workflow.schedule`` / ``create_cron`` (and their ``aio_`` forms) call, on the client's
    connections."""

    def __init__(self, client: Hatchet) -> None:
        self._client = client

    def _request(self, workflow: Workflow[Any], run_at: datetime, input: Any,
                 options: TriggerWorkflowOptions | None, child_key: str | None,
                 additional_metadata: Mapping[str, Any] | None,
                 priority: int | None) -> workflows_pb2.ScheduleWorkflowRequest:
        opts = merge_options(options, child_key=child_key, additional_metadata=dict(additional_metadata or {}),
                             priority=int(priority) if priority is not None else None)
        return schedule_request(workflow.name, run_at, input, opts, workflow.default_additional_metadata)

    def schedule(self, workflow: Workflow[Any], run_at: datetime, input: Any,
                 options: TriggerWorkflowOptions | None, child_key: str | None,
                 additional_metadata: Mapping[str, Any] | None, priority: int | None) -> workflows_pb2.WorkflowVersion:
        req = self._request(workflow, run_at, input, options, child_key, additional_metadata, priority)
        runs = self._client.runs
        try:
            with _tracing.current().schedule(req, options):
                version: workflows_pb2.WorkflowVersion = runs._retrying(
                    "ScheduleWorkflow", lambda: runs._calls()["schedule"](req, timeout=30.0, metadata=runs._md()))
        except grpc.RpcError as exc:
            _raise_duplicate(exc)
        return version

    async def aio_schedule(self, workflow: Workflow[Any], run_at: datetime, input: Any,
                           options: TriggerWorkflowOptions | None, child_key: str | None,
                           additional_metadata: Mapping[str, Any] | None,
                           priority: int | None) -> workflows_pb2.WorkflowVersion:
        req = self._request(workflow, run_at, input, options, child_key, additional_metadata, priority)
        runs = self._client.runs
        try:
            with _tracing.current().schedule(req, options):
                version: workflows_pb2.WorkflowVersion = await runs._aio_retrying(
                    "ScheduleWorkflow", lambda: runs._aio_calls()["schedule"](req, timeout=30.0, metadata=runs._md()))
        except grpc.RpcError as exc:
            _raise_duplicate(exc)
        return version

    def create_cron(self, workflow: Workflow[Any], cron_name: str, expression: str, input: Any,
                    additional_metadata: Mapping[str, Any] | None, priority: int | None) -> CronWorkflows:
        """Create the cron trigger ``cron_name`` of ``workflow`` (its ``default_additional_metadata`` is
        not merged in, as in the official SDK).

        Raises:
            ValueError: a malformed expression.
            OSError: the engine refused the request or could not be reached.
        """
        body: dict[str, Any] = {"input": json.loads(_dump_input(input)),
                                "additionalMetadata": dict(additional_metadata or {}),
                                "cronName": cron_name, "cronExpression": check_cron_expression(expression)}
        if priority is not None:
            body["priority"] = int(priority)
        config = self._client.config
        answer = _rest.call_json(config.server_url, config.token, "POST",
                                 f"/api/v1/tenants/{config.tenant_id}/workflows/{workflow.name}/crons", body,
                                 root_ca_file=config.tls_config.root_ca_file, timeout=30.0)
        return CronWorkflows.model_validate(answer)

    async def aio_create_cron(self, workflow: Workflow[Any], cron_name: str, expression: str, input: Any,
                              additional_metadata: Mapping[str, Any] | None, priority: int | None) -> CronWorkflows:
        return await asyncio.to_thread(self.create_cron, workflow, cron_name, expression, input,
                                       additional_metadata, priority)
