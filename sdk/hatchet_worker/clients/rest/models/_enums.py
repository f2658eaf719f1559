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


class V1TaskStatus(str, Enum):  # noqa: UP042
    """A task or workflow run's state (``hatchet.runs.get_status``; EVICTED is reported as RUNNING)."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


class V1WorkflowType(str, Enum):  # noqa: UP042
    DAG = "DAG"
    TASK = "TASK"


class V1TaskEventType(str, Enum):  # noqa: UP042
    REQUEUED_NO_WORKER = "REQUEUED_NO_WORKER"
    REQUEUED_RATE_LIMIT = "REQUEUED_RATE_LIMIT"
    SCHEDULING_TIMED_OUT = "SCHEDULING_TIMED_OUT"
    ASSIGNED = "ASSIGNED"
    STARTED = "STARTED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    RETRYING = "RETRYING"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"
    REASSIGNED = "REASSIGNED"
    SLOT_RELEASED = "SLOT_RELEASED"
    TIMEOUT_REFRESHED = "TIMEOUT_REFRESHED"
    RETRIED_BY_USER = "RETRIED_BY_USER"
    SENT_TO_WORKER = "SENT_TO_WORKER"
    RATE_LIMIT_ERROR = "RATE_LIMIT_ERROR"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    CREATED = "CREATED"
    QUEUED = "QUEUED"
    SKIPPED = "SKIPPED"
    WAITING_FOR_BATCH = "WAITING_FOR_BATCH"
    BATCH_FLUSHED = "BATCH_FLUSHED"
    COULD_NOT_SEND_TO_WORKER = "COULD_NOT_SEND_TO_WORKER"
    DURABLE_EVICTED = "DURABLE_EVICTED"


class WorkerType(str, Enum):  # noqa: UP042
    SELFHOSTED = "SELFHOSTED"
    MANAGED = "MANAGED"
    WEBHOOK = "WEBHOOK"


class WorkerStatus(str, Enum):  # noqa: UP042
    """Computed by the engine: INACTIVE without a heartbeat for 5 s, else PAUSED when paused, else ACTIVE."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    PAUSED = "PAUSED"


class WorkerRuntimeSDKs(str, Enum):  # noqa: UP042
    GOLANG = "GOLANG"
    PYTHON = "PYTHON"
    TYPESCRIPT = "TYPESCRIPT"
    RUBY = "RUBY"


class StepRunStatus(str, Enum):  # noqa: UP042
    PENDING = "PENDING"
    PENDING_ASSIGNMENT = "PENDING_ASSIGNMENT"
    ASSIGNED = "ASSIGNED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    CANCELLING = "CANCELLING"
    BACKOFF = "BACKOFF"
