"""``hatchet.cron`` and ``hatchet.scheduled``: the cron triggers and scheduled runs of the tenant.

As in the official SDK these are the engine's REST API (``/api/v1/tenants/{tenant}/workflows/crons``
and ``.../scheduled``), answering with the official models (``CronWorkflows``, ``CronWorkflowsList``,
``ScheduledWorkflows``, ``ScheduledWorkflowsList``). A workflow name given to ``create`` gets the
namespace, as there; list filters are passed as given. The ``aio_`` forms run the call on a thread,
as the official ones do. ``hatchet.scheduled.bulk_delete`` / ``bulk_update`` are the engine's
``scheduled/bulk-delete`` and ``bulk-update`` endpoints, sent as the official SDK sends them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hatchet_worker import _rest
from hatchet_worker._schedules import check_cron_expression
from hatchet_worker.clients.rest.models._enums import (
    CronWorkflowsOrderByField,
    ScheduledRunStatus,
    ScheduledWorkflowsOrderByField,
    WorkflowRunOrderByDirection,
)
from hatchet_worker.clients.rest.models.cron_workflows import CronWorkflows
from hatchet_worker.clients.rest.models.cron_workflows_list import CronWorkflowsList
from hatchet_worker.clients.rest.models.feature_parts import (
    ScheduledWorkflowsBulkDeleteResponse,
    ScheduledWorkflowsBulkUpdateItem,
    ScheduledWorkflowsBulkUpdateResponse,
)
from hatchet_worker.clients.rest.models.scheduled_workflows import ScheduledWorkflows
from hatchet_worker.clients.rest.models.scheduled_workflows_list import ScheduledWorkflowsList

if TYPE_CHECKING:
    from hatchet_worker.client import Hatchet

metadata_filter = _rest.metadata_kv
logger = logging.getLogger("hatchet_worker")


class _RestFeature:
    def __init__(self, client: Hatchet) -> None:
        self._client = client

    def _call(self, method: str, path: str, body: object | None = None) -> Any:
        config = self._client.config
        full = f"/api/v1/tenants/{config.tenant_id}/workflows/{path}"
        if method == "GET":  # reads are retried per ClientConfig.tenacity, as the official SDK retries them
            return _rest.call_json_retrying(config.server_url, config.token, method, full, policy=config.tenacity,
                                            root_ca_file=config.tls_config.root_ca_file, timeout=30.0)
        return _rest.call_json(config.server_url, config.token, method, full, body,
                               root_ca_file=config.tls_config.root_ca_file, timeout=30.0)


class CronClient(_RestFeature):
    def create(self, workflow_name: str, cron_name: str, expression: str, input: Mapping[str, Any],
               additional_metadata: Mapping[str, Any], priority: int | None = None) -> CronWorkflows:
        """Create the cron trigger ``cron_name`` of ``workflow_name`` (``workflow.create_cron`` does the same
        with the workflow's input model)."""
        body: dict[str, Any] = {"cronName": cron_name, "cronExpression": check_cron_expression(expression),
                                "input": dict(input), "additionalMetadata": dict(additional_metadata)}
        if priority is not None:
            body["priority"] = int(priority)
        name = self._client.config.apply_namespace(workflow_name)
        return CronWorkflows.model_validate(self._call("POST", f"{name}/crons", body))

    async def aio_create(self, workflow_name: str, cron_name: str, expression: str, input: Mapping[str, Any],
                         additional_metadata: Mapping[str, Any], priority: int | None = None) -> CronWorkflows:
        return await asyncio.to_thread(self.create, workflow_name, cron_name, expression, input,
                                       additional_metadata, priority)

    def delete(self, cron_id: str) -> None:
        self._call("DELETE", f"crons/{cron_id}")

    async def aio_delete(self, cron_id: str) -> None:
        await asyncio.to_thread(self.delete, cron_id)

    def list(self, offset: int | None = None, limit: int | None = None, workflow_id: str | None = None,
             additional_metadata: Mapping[str, Any] | None = None,
             order_by_field: CronWorkflowsOrderByField | None = None,
             order_by_direction: WorkflowRunOrderByDirection | None = None,
             workflow_name: str | None = None, cron_name: str | None = None) -> CronWorkflowsList:
        path = _rest.with_query("crons", {
            "offset": offset, "limit": limit, "workflowId": workflow_id,
            "additionalMetadata": metadata_filter(additional_metadata), "orderByField": order_by_field,
            "orderByDirection": order_by_direction, "workflowName": workflow_name, "cronName": cron_name})
        return CronWorkflowsList.model_validate(self._call("GET", path))

    async def aio_list(self, offset: int | None = None, limit: int | None = None, workflow_id: str | None = None,
                       additional_metadata: Mapping[str, Any] | None = None,
                       order_by_field: CronWorkflowsOrderByField | None = None,
                       order_by_direction: WorkflowRunOrderByDirection | None = None,
                       workflow_name: str | None = None, cron_name: str | None = None) -> CronWorkflowsList:
        return await asyncio.to_thread(self.list, offset, limit, workflow_id, additional_metadata, order_by_field,
                                       order_by_direction, workflow_name, cron_name)

    def get(self, cron_id: str) -> CronWorkflows:
        return CronWorkflows.model_validate(self._call("GET", f"crons/{cron_id}"))

    async def aio_get(self, cron_id: str) -> CronWorkflows:
        return await asyncio.to_thread(self.get, cron_id)


class ScheduledClient(_RestFeature):
    def create(self, workflow_name: str, trigger_at: datetime, input: Mapping[str, Any],
               additional_metadata: Mapping[str, Any]) -> ScheduledWorkflows:
        """Schedule one run of ``workflow_name`` at ``trigger_at`` (``workflow.schedule`` is the gRPC way)."""
        body = {"triggerAt": trigger_at.isoformat(), "input": dict(input),
                "additionalMetadata": dict(additional_metadata)}
        name = self._client.config.apply_namespace(workflow_name)
        return ScheduledWorkflows.model_validate(self._call("POST", f"{name}/scheduled", body))

    async def aio_create(self, workflow_name: str, trigger_at: datetime, input: Mapping[str, Any],
                         additional_metadata: Mapping[str, Any]) -> ScheduledWorkflows:
        return await asyncio.to_thread(self.create, workflow_name, trigger_at, input, additional_metadata)

    def delete(self, scheduled_id: str) -> None:
        self._call("DELETE", f"scheduled/{scheduled_id}")

    async def aio_delete(self, scheduled_id: str) -> None:
        await asyncio.to_thread(self.delete, scheduled_id)

    def update(self, scheduled_id: str, trigger_at: datetime) -> ScheduledWorkflows:
        """Move a scheduled run (the engine refuses once it ran, or for one declared in code)."""
        answer = self._call("PATCH", f"scheduled/{scheduled_id}", {"triggerAt": trigger_at.isoformat()})
        return ScheduledWorkflows.model_validate(answer)

    async def aio_update(self, scheduled_id: str, trigger_at: datetime) -> ScheduledWorkflows:
        return await asyncio.to_thread(self.update, scheduled_id, trigger_at)

    def list(self, offset: int | None = None, limit: int | None = None, workflow_id: str | None = None,
             parent_workflow_run_id: str | None = None, statuses: Sequence[ScheduledRunStatus] | None = None,
             additional_metadata: Mapping[str, Any] | None = None,
             order_by_field: ScheduledWorkflowsOrderByField | None = None,
             order_by_direction: WorkflowRunOrderByDirection | None = None) -> ScheduledWorkflowsList:
        path = _rest.with_query("scheduled", {
            "offset": offset, "limit": limit, "orderByField": order_by_field,
            "orderByDirection": order_by_direction, "workflowId": workflow_id,
            "additionalMetadata": metadata_filter(additional_metadata),
            "parentWorkflowRunId": parent_workflow_run_id, "statuses": list(statuses or []) or None})
        return ScheduledWorkflowsList.model_validate(self._call("GET", path))

    async def aio_list(self, offset: int | None = None, limit: int | None = None, workflow_id: str | None = None,
                       parent_workflow_run_id: str | None = None, statuses: Sequence[ScheduledRunStatus] | None = None,
                       additional_metadata: Mapping[str, Any] | None = None,
                       order_by_field: ScheduledWorkflowsOrderByField | None = None,
                       order_by_direction: WorkflowRunOrderByDirection | None = None) -> ScheduledWorkflowsList:
        return await asyncio.to_thread(self.list, offset, limit, workflow_id, parent_workflow_run_id, statuses,
                                       additional_metadata, order_by_field, order_by_direction)

    def get(self, scheduled_id: str) -> ScheduledWorkflows:
        return ScheduledWorkflows.model_validate(self._call("GET", f"scheduled/{scheduled_id}"))

    async def aio_get(self, scheduled_id: str) -> ScheduledWorkflows:
        return await asyncio.to_thread(self.get, scheduled_id)

    def bulk_delete(self, *, scheduled_ids: Sequence[str] | None = None, workflow_id: str | None = None,
                    parent_workflow_run_id: str | None = None, parent_step_run_id: str | None = None,
                    statuses: Sequence[ScheduledRunStatus] | None = None,
                    additional_metadata: Mapping[str, Any] | None = None) -> ScheduledWorkflowsBulkDeleteResponse:
        """Delete the scheduled runs ``scheduled_ids``, or those matching the filter fields.

        Raises:
            ValueError: neither ids nor a filter field were given (as in the official SDK).
        """
        if statuses:  # the engine's bulk-delete filter has no statuses; the official SDK warns likewise
            logger.warning("The 'statuses' filter is not supported for bulk delete and will be ignored.")
        filters = {"workflowId": workflow_id, "parentWorkflowRunId": parent_workflow_run_id,
                   "parentStepRunId": parent_step_run_id, "additionalMetadata": metadata_filter(additional_metadata)}
        has_filter = any(v is not None for v in (workflow_id, parent_workflow_run_id, parent_step_run_id,
                                                 additional_metadata))
        if not scheduled_ids and not has_filter:
            raise ValueError("bulk_delete requires either scheduled_ids or at least one filter field.")
        body: dict[str, Any] = {}
        if scheduled_ids:
            body["scheduledWorkflowRunIds"] = list(scheduled_ids)
        if has_filter:
            body["filter"] = {k: v for k, v in filters.items() if v is not None}
        return ScheduledWorkflowsBulkDeleteResponse.model_validate(self._call("POST", "scheduled/bulk-delete", body))

    async def aio_bulk_delete(self, *, scheduled_ids: Sequence[str] | None = None, workflow_id: str | None = None,
                              parent_workflow_run_id: str | None = None, parent_step_run_id: str | None = None,
                              statuses: Sequence[ScheduledRunStatus] | None = None,
                              additional_metadata: Mapping[str, Any] | None = None,
                              ) -> ScheduledWorkflowsBulkDeleteResponse:
        return await asyncio.to_thread(
            lambda: self.bulk_delete(scheduled_ids=scheduled_ids, workflow_id=workflow_id,
                                     parent_workflow_run_id=parent_workflow_run_id,
                                     parent_step_run_id=parent_step_run_id, statuses=statuses,
                                     additional_metadata=additional_metadata))

    def bulk_update(self, updates: Sequence[ScheduledWorkflowsBulkUpdateItem | tuple[str, datetime]],
                    ) -> ScheduledWorkflowsBulkUpdateResponse:
        """Move many scheduled runs: ``(id, trigger_at)`` pairs or ``ScheduledWorkflowsBulkUpdateItem``s."""
        items = [u if isinstance(u, ScheduledWorkflowsBulkUpdateItem)
                 else ScheduledWorkflowsBulkUpdateItem(id=u[0], triggerAt=u[1]) for u in updates]
        body = {"updates": [{"id": item.id, "triggerAt": item.trigger_at.isoformat()} for item in items]}
        return ScheduledWorkflowsBulkUpdateResponse.model_validate(self._call("POST", "scheduled/bulk-update", body))

    async def aio_bulk_update(self, updates: Sequence[ScheduledWorkflowsBulkUpdateItem | tuple[str, datetime]],
                              ) -> ScheduledWorkflowsBulkUpdateResponse:
        return await asyncio.to_thread(self.bulk_update, updates)
