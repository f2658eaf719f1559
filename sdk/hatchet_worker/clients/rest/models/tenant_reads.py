"""The tenant-level reads' models: ``Tenant`` (``hatchet.tenant.get``), ``TaskStat``
(``hatchet.metrics.get_task_stats``), ``V1LogLineList`` (``hatchet.logs.list``).

Field names and JSON aliases as in the official SDK's models. Enum-valued fields (a tenant's
version and environment, a log line's level) are kept as the engine's strings, so a value a newer
engine adds does not fail validation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hatchet_worker.clients.rest.models.api_resource_meta import APIResourceMeta
from hatchet_worker.clients.rest.models.pagination_response import PaginationResponse


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class Tenant(_Model):
    metadata: APIResourceMeta
    name: str
    slug: str
    analytics_opt_out: bool | None = Field(default=None, alias="analyticsOptOut")
    alert_member_emails: bool | None = Field(default=None, alias="alertMemberEmails")
    version: str
    environment: str | None = None
    server_url: str | None = Field(default=None, alias="serverUrl")
    region: str | None = None
    data_retention_period: str | None = Field(default=None, alias="dataRetentionPeriod")


class ConcurrencyStat(_Model):
    expression: str | None = None
    type: str | None = None
    keys: dict[str, int] | None = None


class TaskStatusStat(_Model):
    total: int | None = None
    queues: dict[str, int] | None = None
    concurrency: list[ConcurrencyStat] | None = None
    oldest: datetime | None = None
    oldest_excluding_retries: datetime | None = Field(default=None, alias="oldestExcludingRetries")


class TaskStat(_Model):
    queued: TaskStatusStat | None = None
    running: TaskStatusStat | None = None


class V1LogLine(_Model):
    created_at: datetime = Field(alias="createdAt")
    message: str
    metadata: dict[str, Any]
    task_external_id: str | None = Field(default=None, alias="taskExternalId")
    task_display_name: str | None = Field(default=None, alias="taskDisplayName")
    retry_count: int | None = Field(default=None, alias="retryCount")
    attempt: int | None = None
    level: str | None = None


class V1LogLineList(_Model):
    pagination: PaginationResponse | None = None
    rows: list[V1LogLine] | None = None
