"""hatchet-worker: a small, fast Python worker SDK wire-compatible with the Hatchet engine.

Code written for the official SDK runs after changing ``hatchet_sdk`` imports to
``hatchet_worker``. Public names are imported lazily (PEP 562) so that the listener subprocess,
which imports ``hatchet_worker._listener``, never pays for pydantic or the rest of the SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hatchet_worker._di import Depends as Depends
    from hatchet_worker._event_push import BulkPushEventOptions as BulkPushEventOptions
    from hatchet_worker._event_push import BulkPushEventWithMetadata as BulkPushEventWithMetadata
    from hatchet_worker._event_push import PushEventOptions as PushEventOptions
    from hatchet_worker._eviction import EvictionPolicy as EvictionPolicy
    from hatchet_worker._filters import DefaultFilter as DefaultFilter
    from hatchet_worker._idempotency import BulkTriggerIdempotencyCollisionError as BulkTriggerIdempotencyCollisionError
    from hatchet_worker._idempotency import IdempotencyCollisionError as IdempotencyCollisionError
    from hatchet_worker._idempotency import StatusBasedIdempotencyConfig as StatusBasedIdempotencyConfig
    from hatchet_worker._idempotency import TTLBasedIdempotencyConfig as TTLBasedIdempotencyConfig
    from hatchet_worker._run_details import RunStatus as RunStatus
    from hatchet_worker._runs_rest import BulkCancelReplayOpts as BulkCancelReplayOpts
    from hatchet_worker._runs_rest import RunFilter as RunFilter
    from hatchet_worker.client import Hatchet as Hatchet
    from hatchet_worker.clients.rest.models._enums import V1TaskStatus as V1TaskStatus
    from hatchet_worker.conditions import ParentCondition as ParentCondition
    from hatchet_worker.conditions import SleepCondition as SleepCondition
    from hatchet_worker.conditions import UserEventCondition as UserEventCondition
    from hatchet_worker.conditions import or_ as or_
    from hatchet_worker.config import ClientConfig as ClientConfig
    from hatchet_worker.config import ClientTLSConfig as ClientTLSConfig
    from hatchet_worker.config import ConfigError as ConfigError
    from hatchet_worker.config import HealthCheckConfig as HealthCheckConfig
    from hatchet_worker.config import HealthcheckConfig as HealthcheckConfig
    from hatchet_worker.context import Context as Context
    from hatchet_worker.context import DurableContext as DurableContext
    from hatchet_worker.exceptions import DedupeViolationError as DedupeViolationError
    from hatchet_worker.exceptions import FailedTaskRunExceptionGroup as FailedTaskRunExceptionGroup
    from hatchet_worker.exceptions import IllegalTaskOutputError as IllegalTaskOutputError
    from hatchet_worker.exceptions import LifespanSetupError as LifespanSetupError
    from hatchet_worker.exceptions import LoopAlreadyRunningError as LoopAlreadyRunningError
    from hatchet_worker.exceptions import NonRetryableException as NonRetryableException
    from hatchet_worker.exceptions import RetryAfterException as RetryAfterException
    from hatchet_worker.exceptions import TaskRunError as TaskRunError
    from hatchet_worker.exceptions import UnsupportedFeatureError as UnsupportedFeatureError
    from hatchet_worker.labels import DesiredWorkerLabel as DesiredWorkerLabel
    from hatchet_worker.labels import WorkerLabel as WorkerLabel
    from hatchet_worker.labels import WorkerLabelComparator as WorkerLabelComparator
    from hatchet_worker.rate_limit import RateLimitDuration as RateLimitDuration
    from hatchet_worker.runs import TaskRunRef as TaskRunRef
    from hatchet_worker.runs import TriggerWorkflowOptions as TriggerWorkflowOptions
    from hatchet_worker.runs import WorkflowRunRef as WorkflowRunRef
    from hatchet_worker.worker import Worker as Worker
    from hatchet_worker.workflow import ConcurrencyExpression as ConcurrencyExpression
    from hatchet_worker.workflow import ConcurrencyLimitStrategy as ConcurrencyLimitStrategy
    from hatchet_worker.workflow import EmptyModel as EmptyModel
    from hatchet_worker.workflow import Priority as Priority
    from hatchet_worker.workflow import RateLimit as RateLimit
    from hatchet_worker.workflow import Standalone as Standalone
    from hatchet_worker.workflow import StickyStrategy as StickyStrategy
    from hatchet_worker.workflow import Task as Task
    from hatchet_worker.workflow import TaskDefaults as TaskDefaults
    from hatchet_worker.workflow import Workflow as Workflow
    from hatchet_worker.workflow import WorkflowRunTriggerConfig as WorkflowRunTriggerConfig

_EXPORTS: dict[str, str] = {
    "Depends": "_di",
    "BulkPushEventOptions": "_event_push",
    "EvictionPolicy": "_eviction",
    "BulkPushEventWithMetadata": "_event_push",
    "PushEventOptions": "_event_push",
    "DefaultFilter": "_filters",
    "BulkTriggerIdempotencyCollisionError": "_idempotency",
    "IdempotencyCollisionError": "_idempotency",
    "StatusBasedIdempotencyConfig": "_idempotency",
    "TTLBasedIdempotencyConfig": "_idempotency",
    "RunStatus": "_run_details",
    "BulkCancelReplayOpts": "_runs_rest",
    "RunFilter": "_runs_rest",
    "V1TaskStatus": "clients.rest.models._enums",
    "Hatchet": "client",
    "ParentCondition": "conditions",
    "SleepCondition": "conditions",
    "UserEventCondition": "conditions",
    "or_": "conditions",
    "ClientConfig": "config",
    "ClientTLSConfig": "config",
    "ConfigError": "config",
    "HealthCheckConfig": "config",
    "HealthcheckConfig": "config",
    "Context": "context",
    "DurableContext": "context",
    "DedupeViolationError": "exceptions",
    "FailedTaskRunExceptionGroup": "exceptions",
    "IllegalTaskOutputError": "exceptions",
    "LifespanSetupError": "exceptions",
    "LoopAlreadyRunningError": "exceptions",
    "NonRetryableException": "exceptions",
    "RetryAfterException": "exceptions",
    "TaskRunError": "exceptions",
    "UnsupportedFeatureError": "exceptions",
    "DesiredWorkerLabel": "labels",
    "WorkerLabel": "labels",
    "WorkerLabelComparator": "labels",
    "TaskRunRef": "runs",
    "TriggerWorkflowOptions": "runs",
    "WorkflowRunRef": "runs",
    "Worker": "worker",
    "ConcurrencyExpression": "workflow",
    "ConcurrencyLimitStrategy": "workflow",
    "EmptyModel": "workflow",
    "Priority": "workflow",
    "WorkflowRunTriggerConfig": "workflow",
    "RateLimit": "workflow",
    "RateLimitDuration": "rate_limit",
    "Standalone": "workflow",
    "StickyStrategy": "workflow",
    "Task": "workflow",
    "TaskDefaults": "workflow",
    "Workflow": "workflow",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hatchet_worker' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"hatchet_worker.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
