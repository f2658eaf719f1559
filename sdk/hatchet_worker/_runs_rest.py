"""The REST half of ``hatchet.runs``: get, get_status, list, create, replay, bulk cancel and replay.

As in the official SDK these go to the engine's ``/api/v1/stable`` REST API and answer with the
official models (``V1WorkflowRunDetails``, ``V1TaskSummaryList``, ``V1TaskSummary``). The ``aio_``
forms run the call on a thread, as the official ones do. ``get_status`` (the ``V1TaskStatus`` enum),
triggering, waiting and cancelling one run stay on gRPC (``runs.py``); the engine's REST cancel
proxies to the same RPC.
"""

from __future__ import annotations

import asyncio
import builtins
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from pydantic import BaseModel, model_validator

from hatchet_worker import _parity, _rest
from hatchet_worker._proto import v1_workflows_pb2
from hatchet_worker.clients.rest.models._enums import V1TaskStatus
from hatchet_worker.clients.rest.models.v1_task_summary import V1TaskSummary
from hatchet_worker.clients.rest.models.v1_task_summary_list import V1TaskSummaryList
from hatchet_worker.clients.rest.models.v1_workflow_run_details import V1WorkflowRunDetails
from hatchet_worker.exceptions import UnsupportedFeatureError

if TYPE_CHECKING:
    from hatchet_worker.client import Hatchet


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _status(run_status: int) -> V1TaskStatus:
    # The engine reports an evicted durable run as RUNNING already; map it the same way if it ever comes.
    name = v1_workflows_pb2.RunStatus.Name(run_status)
    return V1TaskStatus.RUNNING if name == "EVICTED" else V1TaskStatus(name)


class RunFilter(BaseModel):
    """Which runs a bulk cancel or replay applies to (the official fields)."""

    since: datetime
    until: datetime | None = None
    statuses: list[V1TaskStatus] | None = None
    workflow_ids: list[str] | None = None
    additional_metadata: dict[str, str] | None = None


class BulkCancelReplayOpts(BaseModel):
    """Either run ids or a filter, never both (the official SDK refuses both and neither alike)."""

    ids: list[str] | None = None
    filters: RunFilter | None = None

    @model_validator(mode="after")
    def validate_model(self) -> BulkCancelReplayOpts:
        if not self.ids and not self.filters:
            raise ValueError("ids or filters must be set")
        if self.ids and self.filters:
            raise ValueError("ids and filters cannot both be set")
        return self

    def to_body(self) -> dict[str, Any]:
        """The JSON body of the engine's ``tasks/cancel`` and ``tasks/replay`` (absent fields left out)."""
        if self.ids:
            return {"externalIds": list(self.ids)}
        assert self.filters is not None  # the validator guarantees one of the two
        f = self.filters
        filt = {"since": _when(f.since), "until": _when(f.until),
                "statuses": [s.value for s in f.statuses] if f.statuses else None,
                "workflowIds": f.workflow_ids, "additionalMetadata": _rest.metadata_kv(f.additional_metadata)}
        return {"filter": {k: v for k, v in filt.items() if v is not None}}


def list_query(tenant_id: str, *, since: datetime | None, only_tasks: bool, offset: int | None, limit: int | None,
               statuses: list[V1TaskStatus] | None, until: datetime | None,
               additional_metadata: Mapping[str, str] | None, workflow_ids: list[str] | None,
               worker_id: str | None, parent_task_external_id: str | None,
               triggering_event_external_id: str | None, include_payloads: bool,
               now: datetime | None = None) -> str:
    """The path and query of ``runs.list``: the last day up to now unless given, as the official SDK."""
    now = now or datetime.now(tz=UTC)
    since = since or now - timedelta(days=1)
    until = until or now
    if (until - since).days >= 7:
        # The official SDK warns the same way: the engine scans the whole range in one query.
        warnings.warn("Listing runs with a date range longer than 7 days may result in performance issues.",
                      RuntimeWarning, stacklevel=3)
    return _rest.with_query(f"/api/v1/stable/tenants/{tenant_id}/workflow-runs", {
        "offset": offset, "limit": limit, "statuses": list(statuses or []) or None, "since": since.isoformat(),
        "until": until.isoformat(), "additional_metadata": _rest.metadata_kv(additional_metadata),
        "workflow_ids": workflow_ids, "worker_id": worker_id, "only_tasks": str(only_tasks).lower(),
        "parent_task_external_id": parent_task_external_id,
        "triggering_event_external_id": triggering_event_external_id,
        "include_payloads": str(include_payloads).lower()})


class RunsRestMixin:
    """Mixed into ``RunsClient``; needs its ``_client``."""

    _client: Hatchet

    if TYPE_CHECKING:  # provided by RunsClient (gRPC)
        def _details_proto(self, external_id: str) -> v1_workflows_pb2.GetRunDetailsResponse: ...

        async def _aio_details_proto(self, external_id: str) -> v1_workflows_pb2.GetRunDetailsResponse: ...

    def _rest(self, method: str, path: str, body: object | None = None) -> Any:
        config = self._client.config
        return _rest.call_json(config.server_url, config.token, method, path, body,
                               root_ca_file=config.tls_config.root_ca_file, timeout=30.0)

    def _read(self, path: str) -> Any:
        config = self._client.config
        return _rest.call_json_retrying(config.server_url, config.token, "GET", path, policy=config.tenacity,
                                        root_ca_file=config.tls_config.root_ca_file, timeout=30.0)

    def _tenant(self) -> str:
        return f"/api/v1/stable/tenants/{self._client.config.tenant_id}"

    def get_task_run(self, task_run_id: str) -> V1TaskSummary:
        return V1TaskSummary.model_validate(self._read(f"/api/v1/stable/tasks/{task_run_id}"))

    async def aio_get_task_run(self, task_run_id: str) -> V1TaskSummary:
        return await asyncio.to_thread(self.get_task_run, task_run_id)

    def get(self, workflow_run_id: str) -> V1WorkflowRunDetails:
        answer = self._read(f"/api/v1/stable/workflow-runs/{workflow_run_id}")
        return V1WorkflowRunDetails.model_validate(answer)

    async def aio_get(self, workflow_run_id: str) -> V1WorkflowRunDetails:
        return await asyncio.to_thread(self.get, workflow_run_id)

    def get_status(self, workflow_run_id: str) -> V1TaskStatus:
        """QUEUED, RUNNING, COMPLETED, CANCELLED or FAILED (a ``str`` enum: it compares equal to the name).

        Read with ``GetRunDetails`` (gRPC) rather than the REST status the official SDK reads: the
        same values, but the REST read tables follow a run's end by a moment (measured: RUNNING after
        ``aio_result()`` returned), while this is what ``result()`` itself reads, so the two agree.
        """
        return _status(self._details_proto(workflow_run_id).status)

    async def aio_get_status(self, workflow_run_id: str) -> V1TaskStatus:
        return _status((await self._aio_details_proto(workflow_run_id)).status)

    def get_result(self, run_id: str) -> dict[str, Any]:
        return self.get(run_id).run.output

    async def aio_get_result(self, run_id: str) -> dict[str, Any]:
        return (await self.aio_get(run_id)).run.output

    def list(self, since: datetime | None = None, only_tasks: bool = False, offset: int | None = None,
             limit: int | None = None, statuses: list[V1TaskStatus] | None = None, until: datetime | None = None,
             additional_metadata: dict[str, str] | None = None, workflow_ids: list[str] | None = None,
             worker_id: str | None = None, parent_task_external_id: str | None = None,
             triggering_event_external_id: str | None = None, include_payloads: bool = True) -> V1TaskSummaryList:
        path = list_query(self._client.config.tenant_id, since=since, only_tasks=only_tasks, offset=offset,
                          limit=limit, statuses=statuses, until=until, additional_metadata=additional_metadata,
                          workflow_ids=workflow_ids, worker_id=worker_id,
                          parent_task_external_id=parent_task_external_id,
                          triggering_event_external_id=triggering_event_external_id,
                          include_payloads=include_payloads)
        return V1TaskSummaryList.model_validate(self._read(path))

    async def aio_list(self, since: datetime | None = None, only_tasks: bool = False, offset: int | None = None,
                       limit: int | None = None, statuses: builtins.list[V1TaskStatus] | None = None,
                       until: datetime | None = None, additional_metadata: dict[str, str] | None = None,
                       workflow_ids: builtins.list[str] | None = None, worker_id: str | None = None,
                       parent_task_external_id: str | None = None,
                       triggering_event_external_id: str | None = None,
                       include_payloads: bool = True) -> V1TaskSummaryList:
        return await asyncio.to_thread(
            self.list, since=since, only_tasks=only_tasks, offset=offset, limit=limit, statuses=statuses,
            until=until, additional_metadata=additional_metadata, workflow_ids=workflow_ids, worker_id=worker_id,
            parent_task_external_id=parent_task_external_id,
            triggering_event_external_id=triggering_event_external_id, include_payloads=include_payloads)

    def create(self, workflow_name: str, input: Mapping[str, Any], additional_metadata: Mapping[str, Any] | None = None,
               priority: int | None = None) -> V1WorkflowRunDetails:
        """Trigger ``workflow_name`` over REST (the official SDK's escape hatch; ``workflow.run`` is the usual way)."""
        body: dict[str, Any] = {"workflowName": self._client.config.apply_namespace(workflow_name),
                                "input": dict(input)}
        if additional_metadata is not None:
            body["additionalMetadata"] = dict(additional_metadata)
        if priority is not None:
            body["priority"] = int(priority)
        answer = self._rest("POST", f"{self._tenant()}/workflow-runs/trigger", body)
        return V1WorkflowRunDetails.model_validate(answer)

    async def aio_create(self, workflow_name: str, input: Mapping[str, Any],
                         additional_metadata: Mapping[str, Any] | None = None,
                         priority: int | None = None) -> V1WorkflowRunDetails:
        return await asyncio.to_thread(self.create, workflow_name, input, additional_metadata, priority)

    def _bulk(self, action: Literal["cancel", "replay"], opts: BulkCancelReplayOpts) -> None:
        # The engine answers with the ids it queued the action for, not with their outcome; the
        # official SDK returns None, and so does this one.
        self._rest("POST", f"{self._tenant()}/tasks/{action}", opts.to_body())

    def replay(self, run_id: str) -> None:
        self.bulk_replay(BulkCancelReplayOpts(ids=[run_id]))

    async def aio_replay(self, run_id: str) -> None:
        await asyncio.to_thread(self.replay, run_id)

    def bulk_replay(self, opts: BulkCancelReplayOpts) -> None:
        self._bulk("replay", opts)

    async def aio_bulk_replay(self, opts: BulkCancelReplayOpts) -> None:
        await asyncio.to_thread(self.bulk_replay, opts)

    def bulk_cancel(self, opts: BulkCancelReplayOpts) -> None:
        self._bulk("cancel", opts)

    async def aio_bulk_cancel(self, opts: BulkCancelReplayOpts) -> None:
        await asyncio.to_thread(self.bulk_cancel, opts)

    # -- not provided: each raises naming itself -------------------------------------------------
    def _missing(self, name: str) -> NoReturn:
        raise UnsupportedFeatureError(f"hatchet.runs.{name}", _parity.MISSING_METHODS[f"RunsClient.{name}"])

    def reset_durable_task(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._missing("reset_durable_task")

    async def aio_reset_durable_task(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._missing("aio_reset_durable_task")
