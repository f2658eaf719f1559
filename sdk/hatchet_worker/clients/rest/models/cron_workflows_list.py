"""``CronWorkflowsList``: a page of cron triggers (``hatchet.cron.list``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from hatchet_worker.clients.rest.models.cron_workflows import CronWorkflows
from hatchet_worker.clients.rest.models.pagination_response import PaginationResponse


class CronWorkflowsList(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    rows: list[CronWorkflows] | None = None
    pagination: PaginationResponse | None = None
