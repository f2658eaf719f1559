"""``ScheduledWorkflowsList``: a page of scheduled runs (``hatchet.scheduled.list``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from hatchet_worker.clients.rest.models.pagination_response import PaginationResponse
from hatchet_worker.clients.rest.models.scheduled_workflows import ScheduledWorkflows


class ScheduledWorkflowsList(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    rows: list[ScheduledWorkflows] | None = None
    pagination: PaginationResponse | None = None
