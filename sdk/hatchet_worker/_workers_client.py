"""``hatchet.workers``: list, get, update, pause and unpause the tenant's workers.

As in the official SDK these are the engine's REST API (``/api/v1/tenants/{tenant}/worker``,
``/api/v1/workers/{id}``), answering with the official models (``Worker``, ``WorkerList``). ``list``
sends no filter, as the official one does (the engine then lists the workers with a heartbeat in
the last day). Reads are retried on 404/5xx as there; updates are not. The ``aio_`` forms run the
call on a thread, as the official ones do.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from hatchet_worker import _rest
from hatchet_worker.clients.rest.models.update_worker_request import UpdateWorkerRequest
from hatchet_worker.clients.rest.models.worker import Worker
from hatchet_worker.clients.rest.models.worker_list import WorkerList

if TYPE_CHECKING:
    from hatchet_worker.client import Hatchet


class WorkersClient:
    def __init__(self, client: Hatchet) -> None:
        self._client = client

    def _call(self, method: str, path: str, body: object | None = None) -> Any:
        config = self._client.config
        if method == "GET":
            return _rest.call_json_retrying(config.server_url, config.token, method, path, policy=config.tenacity,
                                            root_ca_file=config.tls_config.root_ca_file, timeout=30.0)
        return _rest.call_json(config.server_url, config.token, method, path, body,
                               root_ca_file=config.tls_config.root_ca_file, timeout=30.0)

    def get(self, worker_id: str) -> Worker:
        return Worker.model_validate(self._call("GET", f"/api/v1/workers/{worker_id}"))

    async def aio_get(self, worker_id: str) -> Worker:
        return await asyncio.to_thread(self.get, worker_id)

    def list(self) -> WorkerList:
        return WorkerList.model_validate(self._call("GET", f"/api/v1/tenants/{self._client.config.tenant_id}/worker"))

    async def aio_list(self) -> WorkerList:
        return await asyncio.to_thread(self.list)

    def update(self, worker_id: str, opts: UpdateWorkerRequest) -> Worker:
        body = opts.model_dump(by_alias=True, exclude_none=True)
        return Worker.model_validate(self._call("PATCH", f"/api/v1/workers/{worker_id}", body))

    async def aio_update(self, worker_id: str, opts: UpdateWorkerRequest) -> Worker:
        return await asyncio.to_thread(self.update, worker_id, opts)

    def pause(self, worker_id: str) -> Worker:
        """The engine assigns a paused worker nothing new; what it runs goes on."""
        return self.update(worker_id, UpdateWorkerRequest(isPaused=True))

    async def aio_pause(self, worker_id: str) -> Worker:
        return await asyncio.to_thread(self.pause, worker_id)

    def unpause(self, worker_id: str) -> Worker:
        return self.update(worker_id, UpdateWorkerRequest(isPaused=False))

    async def aio_unpause(self, worker_id: str) -> Worker:
        return await asyncio.to_thread(self.unpause, worker_id)
