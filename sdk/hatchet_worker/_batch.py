"""Batch tasks as declared: ``@workflow.batch_task(...)`` and its settings (the official SDK's names).

The engine buffers the runs of a batch task and hands a whole batch to one worker in a single
``START_BATCH`` assignment; the function gets ``{member_id: input}`` and returns ``{member_id:
output}`` (or, with ``broadcast_output=True``, one output for every member). Running such an
assignment is ``_batch_run``'s job; this module only records the declaration and says how the
``PutWorkflow`` request carries it (``TaskBatchConfig``), so it does no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NewType, get_args, get_origin

from pydantic import BaseModel

from hatchet_worker._duration import Duration
from hatchet_worker._proto import v1_workflows_pb2
from hatchet_worker.labels import labels_by_key

if TYPE_CHECKING:
    from hatchet_worker.labels import DesiredLabels
    from hatchet_worker.rate_limit import RateLimit
    from hatchet_worker.workflow import Task

BatchMemberId = NewType("BatchMemberId", str)
"""The key of one member in a batch task's input and output dicts: the member's task run external id."""


class BatchTaskConfig(BaseModel):
    """How the engine forms batches of a task (the official ``runnables.types.BatchTaskConfig``)."""

    batch_max_size: int
    batch_max_interval: timedelta | None = None
    batch_group_key: str | None = None
    batch_group_max_runs: int | None = None
    broadcast_output: bool = False


def checked_config(batch_max_size: int, batch_max_interval: timedelta | None, batch_group_key: str | None,
                   batch_group_max_runs: int | None, broadcast_output: bool) -> BatchTaskConfig:
    """The declaration's settings, refused with the official SDK's messages when out of range.

    Raises:
        ValueError: a size or run limit below 1, or an interval that is not at least a millisecond
            (the engine counts it in whole milliseconds; the official SDK refuses it at registration).
    """
    if batch_max_size <= 0:
        raise ValueError("batch_max_size must be a positive integer")
    if batch_max_interval is not None and int(batch_max_interval.total_seconds() * 1000) <= 0:
        raise ValueError("batch_max_interval must be positive when provided")
    if batch_group_max_runs is not None and batch_group_max_runs <= 0:
        raise ValueError("batch_group_max_runs must be a positive integer when provided")
    return BatchTaskConfig(batch_max_size=batch_max_size, batch_max_interval=batch_max_interval,
                           batch_group_key=batch_group_key, batch_group_max_runs=batch_group_max_runs,
                           broadcast_output=broadcast_output)


def config_proto(config: BatchTaskConfig) -> v1_workflows_pb2.TaskBatchConfig:
    """The task's ``batch`` field as the official SDK fills it: optional fields only when set."""
    msg = v1_workflows_pb2.TaskBatchConfig(batch_max_size=config.batch_max_size)
    if config.batch_max_interval is not None:
        msg.batch_max_interval_ms = int(config.batch_max_interval.total_seconds() * 1000)
    if config.batch_group_key is not None:
        msg.batch_group_key = config.batch_group_key
    if config.batch_group_max_runs is not None:
        msg.batch_group_max_runs = config.batch_group_max_runs
    if config.broadcast_output:
        msg.broadcast_output = True
    return msg


def member_output_type(declared: Any, broadcast: bool) -> Any:
    """The type one member's output is read back as: the value type of a ``dict[BatchMemberId, R]``
    return annotation, or the annotation itself for a broadcast task (None: keep the JSON)."""
    if broadcast or get_origin(declared) is not dict:
        return declared
    args = get_args(declared)
    value = args[1] if len(args) == 2 else None
    return None if value is Any else value


class WorkflowBatchMethods:
    """``Workflow.batch_task``; mixed into :class:`hatchet_worker.workflow.Workflow`."""

    if TYPE_CHECKING:
        def _add(self, fn: Callable[..., Any], name: str | None, *, is_durable: bool, hook: str | None = None,
                 **opts: Any) -> Task[Any, Any]: ...

    def batch_task(self, name: str | None = None, *, batch_max_size: int,
                   batch_max_interval: timedelta | None = None, batch_group_key: str | None = None,
                   batch_group_max_runs: int | None = None, broadcast_output: bool = False,
                   schedule_timeout: Duration = timedelta(minutes=5),
                   execution_timeout: Duration = timedelta(seconds=60),
                   parents: Sequence[Task[Any, Any]] | None = None,
                   rate_limits: Sequence[RateLimit] | None = None,
                   desired_worker_labels: DesiredLabels = None,
                   backoff_factor: float | None = None, backoff_max_seconds: int | None = None,
                   ) -> Callable[[Callable[..., Any]], Task[Any, Any]]:
        """Declare a batch task: ``fn(inputs: dict[BatchMemberId, Input], ctx)`` returning
        ``{member_id: output}`` for exactly the members it got, or one output for all of them with
        ``broadcast_output=True``. The engine flushes a batch when it holds ``batch_max_size`` runs or
        ``batch_max_interval`` after it started filling; ``batch_group_key`` (CEL over the input)
        keeps runs of different keys apart, ``batch_group_max_runs`` bounds the running batches per key.
        As in the official SDK there is no ``retries`` option: 0, or the workflow's ``task_defaults``."""
        config = checked_config(batch_max_size, batch_max_interval, batch_group_key, batch_group_max_runs,
                                broadcast_output)

        def decorator(fn: Callable[..., Any]) -> Task[Any, Any]:
            task = self._add(fn, name, is_durable=False, schedule_timeout=schedule_timeout,
                             execution_timeout=execution_timeout, parents=list(parents or []), retries=0,
                             rate_limits=list(rate_limits or []),
                             desired_worker_labels=labels_by_key(desired_worker_labels),
                             backoff_factor=backoff_factor, backoff_max_seconds=backoff_max_seconds,
                             concurrency=[], slot_cost=1)
            task.batch = config
            task.output_type = member_output_type(task.output_type, config.broadcast_output)
            return task

        return decorator
