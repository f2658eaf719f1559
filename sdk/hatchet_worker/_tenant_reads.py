"""``hatchet.metrics``, ``hatchet.logs`` and ``hatchet.tenant``: the tenant's REST reads.

As in the official SDK these are reads of the engine's REST API (a task run's log lines, the
tenant's task counts by status, its queues, its Prometheus text, the tenant itself), answering with
the official models and retried per ``ClientConfig.tenacity``. ``get_task_metrics`` defaults to the
last day, as the official one does. The ``aio_`` forms run the call on a thread, as there.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from hatchet_worker import _rest, _retry
from hatchet_worker.clients.rest.models.tenant_reads import TaskStat, Tenant, V1LogLineList

if TYPE_CHECKING:
    from hatchet_worker.client import Hatchet


class TaskMetrics(BaseModel):
    """The tenant's task counts by status (``MetricsClient.get_task_metrics``)."""

    cancelled: int
    completed: int
    failed: int
    queued: int
    running: int


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


class _Reads:
    def __init__(self, client: Hatchet) -> None:
        self._client = client

    def _get(self, path: str) -> Any:
        config = self._client.config
        return _rest.call_json_retrying(config.server_url, config.token, "GET", path, policy=config.tenacity,
                                        root_ca_file=config.tls_config.root_ca_file, timeout=30.0)

    @property
    def _tenant_path(self) -> str:
        return f"/api/v1/tenants/{self._client.config.tenant_id}"


class MetricsClient(_Reads):
    def get_queue_metrics(self) -> dict[str, Any]:
        answer = self._get(f"{self._tenant_path}/step-run-queue-metrics") or {}
        queues: dict[str, Any] = answer.get("queues") or {}
        return queues

    async def aio_get_queue_metrics(self) -> dict[str, Any]:
        return await asyncio.to_thread(self.get_queue_metrics)

    def scrape_tenant_prometheus_metrics(self) -> str:
        """The tenant's metrics in Prometheus text format (the answer is text, not JSON)."""
        config = self._client.config
        url = f"{config.server_url.rstrip('/')}{self._tenant_path}/prometheus-metrics"

        def fetch() -> str:
            req = urllib.request.Request(url, headers={"Authorization": f"Bearer {config.token}",
                                                       "Accept": "text/plain"})
            ctx = (ssl.create_default_context(cafile=config.tls_config.root_ca_file)
                   if url.startswith("https") else None)
            with urllib.request.urlopen(req, timeout=30.0, context=ctx) as resp:
                body: bytes = resp.read()
            return body.decode()

        return _retry.call(fetch, config.tenacity, name=f"GET {self._tenant_path}/prometheus-metrics", method="GET")

    async def aio_scrape_tenant_prometheus_metrics(self) -> str:
        return await asyncio.to_thread(self.scrape_tenant_prometheus_metrics)

    def get_task_stats(self) -> dict[str, TaskStat]:
        answer = self._get(f"{self._tenant_path}/task-stats") or {}
        return {name: TaskStat.model_validate(stat) for name, stat in answer.items()}

    async def aio_get_task_stats(self) -> dict[str, TaskStat]:
        return await asyncio.to_thread(self.get_task_stats)

    def get_task_metrics(self, since: datetime | None = None, until: datetime | None = None,
                         workflow_ids: list[str] | None = None, parent_task_external_id: str | None = None,
                         triggering_event_external_id: str | None = None) -> TaskMetrics:
        now = datetime.now(UTC)
        path = _rest.with_query(
            f"/api/v1/stable/tenants/{self._client.config.tenant_id}/task-metrics",
            {"since": _when(since or now - timedelta(days=1)), "until": _when(until or now),
             "workflow_ids": workflow_ids, "parent_task_external_id": parent_task_external_id,
             "triggering_event_external_id": triggering_event_external_id})
        counts = {m["status"].lower(): m["count"] for m in self._get(path) or []}
        return TaskMetrics.model_validate(counts)

    async def aio_get_task_metrics(self, since: datetime | None = None, until: datetime | None = None,
                                   workflow_ids: list[str] | None = None, parent_task_external_id: str | None = None,
                                   triggering_event_external_id: str | None = None) -> TaskMetrics:
        return await asyncio.to_thread(self.get_task_metrics, since, until, workflow_ids, parent_task_external_id,
                                       triggering_event_external_id)


class LogsClient(_Reads):
    def list(self, task_run_id: str, limit: int = 1000, since: datetime | None = None,
             until: datetime | None = None) -> V1LogLineList:
        path = _rest.with_query(f"/api/v1/stable/tasks/{task_run_id}/logs",
                                {"limit": limit, "since": _when(since), "until": _when(until)})
        return V1LogLineList.model_validate(self._get(path))

    async def aio_list(self, task_run_id: str, limit: int = 1000, since: datetime | None = None,
                       until: datetime | None = None) -> V1LogLineList:
        return await asyncio.to_thread(self.list, task_run_id, limit, since, until)


class TenantClient(_Reads):
    def get(self) -> Tenant:
        return Tenant.model_validate(self._get(self._tenant_path))

    async def aio_get(self) -> Tenant:
        return await asyncio.to_thread(self.get)
