"""REST models of the filters, rate-limits and scheduled-bulk endpoints (``hatchet.filters``,
``hatchet.rate_limits.list``, ``hatchet.scheduled.bulk_*``).

Field names and JSON aliases are the official SDK's; each class is re-exported by a module under its
official path (``v1_filter``, ``rate_limit_list``, ...). Unknown fields the engine adds are ignored.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hatchet_worker.clients.rest.models.api_resource_meta import APIResourceMeta
from hatchet_worker.clients.rest.models.pagination_response import PaginationResponse

_ALIASED = ConfigDict(populate_by_name=True)


class V1Filter(BaseModel):
    model_config = _ALIASED

    metadata: APIResourceMeta
    tenant_id: str = Field(alias="tenantId")
    workflow_id: str = Field(alias="workflowId")
    scope: str
    expression: str
    payload: dict[str, Any]
    is_declarative: bool | None = Field(default=None, alias="isDeclarative")
    """True for a filter registered with the workflow (``default_filters``)."""


class V1FilterList(BaseModel):
    model_config = _ALIASED

    pagination: PaginationResponse | None = None
    rows: list[V1Filter] | None = None


class V1CreateFilterRequest(BaseModel):
    model_config = _ALIASED

    workflow_id: str = Field(alias="workflowId")
    expression: str
    scope: str
    payload: dict[str, Any] | None = None


class V1UpdateFilterRequest(BaseModel):
    """What ``hatchet.filters.update`` changes; fields left None are kept."""

    model_config = _ALIASED

    expression: str | None = None
    scope: str | None = None
    payload: dict[str, Any] | None = None


class RateLimitOrderByField(str, Enum):  # noqa: UP042 (str() as in the official SDK)
    KEY = "key"
    VALUE = "value"
    LIMITVALUE = "limitValue"


class RateLimitOrderByDirection(str, Enum):  # noqa: UP042
    ASC = "asc"
    DESC = "desc"


class RateLimit(BaseModel):
    model_config = _ALIASED

    key: str
    tenant_id: str = Field(alias="tenantId")
    limit_value: int = Field(alias="limitValue")
    value: int
    window: str
    last_refill: datetime = Field(alias="lastRefill")
    paused_until: datetime | None = Field(default=None, alias="pausedUntil")


class RateLimitList(BaseModel):
    model_config = _ALIASED

    pagination: PaginationResponse | None = None
    rows: list[RateLimit] | None = None


class ScheduledWorkflowsBulkError(BaseModel):
    model_config = _ALIASED

    id: str | None = None
    error: str


class ScheduledWorkflowsBulkDeleteResponse(BaseModel):
    model_config = _ALIASED

    deleted_ids: list[str] = Field(alias="deletedIds")
    errors: list[ScheduledWorkflowsBulkError]


class ScheduledWorkflowsBulkUpdateResponse(BaseModel):
    model_config = _ALIASED

    updated_ids: list[str] = Field(alias="updatedIds")
    errors: list[ScheduledWorkflowsBulkError]


class ScheduledWorkflowsBulkUpdateItem(BaseModel):
    model_config = _ALIASED

    id: str = Field(min_length=36, max_length=36)
    trigger_at: datetime = Field(alias="triggerAt")
