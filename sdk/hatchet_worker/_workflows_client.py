"""``hatchet.workflows``: list, get, pause and delete the tenant's workflow declarations, read a version.

As in the official SDK these are the engine's REST API (``/api/v1/tenants/{tenant}/workflows``,
``/api/v1/workflows/{id}`` and its ``/versions``), answering with the official models. ``list``
filters by the name with the client's namespace applied, as the official one does. Reads are
retried per ``ClientConfig.tenacity``; ``delete`` is not (deleting twice is not the same request).
``pause``/``unpause`` set the workflow's pause state (``PATCH /api/v1/workflows/{id}``). The ``aio_``
forms run the call on a thread, as the official ones do.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from hatchet_worker import _rest, _retry
from hatchet_worker._duration import duration_expr
from hatchet_worker.clients.rest.models.workflow import Workflow, WorkflowList, WorkflowVersion

if TYPE_CHECKING:
    from hatchet_worker.client import Hatchet


class WorkflowsClient:
    def __init__(self, client: Hatchet) -> None:
        self._client = client

    def _call(self, method: str, path: str) -> Any:
        config = self._client.config
        if method == "GET":
            return _rest.call_json_retrying(config.server_url, config.token, method, path, policy=config.tenacity,
                                            root_ca_file=config.tls_config.root_ca_file, timeout=30.0)
        return _rest.call_json(config.server_url, config.token, method, path,
                               root_ca_file=config.tls_config.root_ca_file, timeout=30.0)

    def get(self, workflow_id: str) -> Workflow:
        return Workflow.model_validate(self._call("GET", f"/api/v1/workflows/{workflow_id}"))

    async def aio_get(self, workflow_id: str) -> Workflow:
        return await asyncio.to_thread(self.get, workflow_id)

    def list(self, workflow_name: str | None = None, limit: int | None = None,
             offset: int | None = None) -> WorkflowList:
        config = self._client.config
        name = None if workflow_name is None else config.apply_namespace(workflow_name)
        path = _rest.with_query(f"/api/v1/tenants/{config.tenant_id}/workflows",
                                {"offset": offset, "limit": limit, "name": name})
        return WorkflowList.model_validate(self._call("GET", path))

    async def aio_list(self, workflow_name: str | None = None, limit: int | None = None,
                       offset: int | None = None) -> WorkflowList:
        return await asyncio.to_thread(self.list, workflow_name, limit, offset)

    def get_version(self, workflow_id: str, version: str | None = None) -> WorkflowVersion:
        """``version`` is a version's id; None reads the latest version."""
        path = _rest.with_query(f"/api/v1/workflows/{workflow_id}/versions", {"version": version})
        return WorkflowVersion.model_validate(self._call("GET", path))

    async def aio_get_version(self, workflow_id: str, version: str | None = None) -> WorkflowVersion:
        return await asyncio.to_thread(self.get_version, workflow_id, version)

    def delete(self, workflow_id: str) -> None:
        """Deletes the workflow and all its data."""
        self._call("DELETE", f"/api/v1/workflows/{workflow_id}")

    async def aio_delete(self, workflow_id: str) -> None:
        await asyncio.to_thread(self.delete, workflow_id)

    def _update(self, workflow_id: str, pause: dict[str, str]) -> Workflow:
        """PATCH the workflow's pause state; retried per ``ClientConfig.tenacity`` as the official call
        is (setting the same state twice is the same request)."""
        config = self._client.config
        path = f"/api/v1/workflows/{workflow_id}"
        answer = _retry.call(
            lambda: _rest.call_json(config.server_url, config.token, "PATCH", path, {"pause": pause},
                                    root_ca_file=config.tls_config.root_ca_file, timeout=30.0),
            config.tenacity, name=f"PATCH {path}", method="PATCH")
        return Workflow.model_validate(answer)

    def pause(self, workflow_id: str, queue_ttl: timedelta,
              paused_workflow_cron_run_queue_behavior: Literal["DROP", "QUEUE"] = "QUEUE",
              paused_workflow_scheduled_run_queue_behavior: Literal["DROP", "QUEUE"] = "QUEUE") -> Workflow:
        """New runs of a paused workflow wait (up to ``queue_ttl``, then are dropped); the behaviours say
        whether its cron and scheduled runs wait too (QUEUE) or are dropped (DROP). A string
        ``queue_ttl`` is sent as it is (a Go duration such as ``"1h30m"``), as the official SDK does."""
        ttl = queue_ttl if isinstance(queue_ttl, str) else duration_expr(queue_ttl)
        return self._update(workflow_id, {
            "action": "pause", "pausedWorkflowCronRunQueueBehavior": paused_workflow_cron_run_queue_behavior,
            "pausedWorkflowScheduledRunQueueBehavior": paused_workflow_scheduled_run_queue_behavior,
            "pausedWorkflowQueueTTL": ttl})

    async def aio_pause(self, workflow_id: str, queue_ttl: timedelta,
                        paused_workflow_cron_run_queue_behavior: Literal["DROP", "QUEUE"] = "QUEUE",
                        paused_workflow_scheduled_run_queue_behavior: Literal["DROP", "QUEUE"] = "QUEUE",
                        ) -> Workflow:
        return await asyncio.to_thread(self.pause, workflow_id, queue_ttl, paused_workflow_cron_run_queue_behavior,
                                       paused_workflow_scheduled_run_queue_behavior)

    def unpause(self, workflow_id: str) -> Workflow:
        return self._update(workflow_id, {"action": "unpause"})

    async def aio_unpause(self, workflow_id: str) -> Workflow:
        return await asyncio.to_thread(self.unpause, workflow_id)
