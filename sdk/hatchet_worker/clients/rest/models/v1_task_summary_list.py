"""``V1TaskSummaryList``: a page of runs (``hatchet.runs.list``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from hatchet_worker.clients.rest.models.pagination_response import PaginationResponse
from hatchet_worker.clients.rest.models.v1_task_summary import V1TaskSummary


class V1TaskSummaryList(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    pagination: PaginationResponse
    rows: list[V1TaskSummary]
