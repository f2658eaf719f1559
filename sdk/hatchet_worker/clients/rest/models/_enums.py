"""The string enums of the REST models, each re-exported by its module under the official path.

``str, Enum`` rather than ``StrEnum``: ``str()`` of a member is then what the official SDK gives.
"""

from __future__ import annotations

from enum import Enum


class CronWorkflowsOrderByField(str, Enum):  # noqa: UP042
    NAME = "name"
    CREATEDAT = "createdAt"


class ScheduledWorkflowsOrderByField(str, Enum):  # noqa: UP042
    TRIGGERAT = "triggerAt"
    CREATEDAT = "createdAt"


class WorkflowRunOrderByDirection(str, Enum):  # noqa: UP042
    ASC = "ASC"
    DESC = "DESC"


class ScheduledRunStatus(str, Enum):  # noqa: UP042
    """A scheduled run's state, as ``hatchet.scheduled.list(statuses=...)`` filters it."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    QUEUED = "QUEUED"
    SCHEDULED = "SCHEDULED"


class WorkflowRunStatus(str, Enum):  # noqa: UP042
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    QUEUED = "QUEUED"
    BACKOFF = "BACKOFF"


class ScheduledWorkflowsMethod(str, Enum):  # noqa: UP042
    DEFAULT = "DEFAULT"
    API = "API"
