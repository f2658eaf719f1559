"""``WorkerList``: the tenant's workers (``hatchet.workers.list``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from hatchet_worker.clients.rest.models.pagination_response import PaginationResponse
from hatchet_worker.clients.rest.models.worker import Worker


class WorkerList(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    pagination: PaginationResponse | None = None
    rows: list[Worker] | None = None
