"""``Hatchet``: the entry point. Declares workflows and tasks, creates workers, triggers runs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from hatchet_worker import _filters
from hatchet_worker._cel_client import CELClient
from hatchet_worker._event_push import EventClient
from hatchet_worker._eviction import DEFAULT_DURABLE_TASK_EVICTION_POLICY, EvictionPolicy
from hatchet_worker._lifespan import LifespanFn
from hatchet_worker._rate_limits import RateLimitsClient
from hatchet_worker._schedules import SchedulesClient
from hatchet_worker._stubs import StubsClient
from hatchet_worker._tenant_reads import LogsClient, MetricsClient, TenantClient
from hatchet_worker._trigger_clients import CronClient, ScheduledClient
from hatchet_worker._webhooks_client import WebhooksClient
from hatchet_worker._workers_client import WorkersClient
from hatchet_worker._workflows_client import WorkflowsClient
from hatchet_worker.config import ClientConfig
from hatchet_worker.runs import RunsClient
from hatchet_worker.worker import Worker
from hatchet_worker.workflow import (
    ConcurrencyArg,
    DesiredLabels,
    Duration,
    Priority,
    RateLimit,
    Standalone,
    StickyStrategy,
    TaskDefaults,
    Workflow,
)


class Hatchet:
    """The client. ``Hatchet()`` reads ``HATCHET_CLIENT_*``; ``Hatchet(config=ClientConfig(...))`` too.

    Raises:
        hatchet_worker.config.ConfigError: the token is missing or malformed (the message says what
            to set).
    """

    def __init__(self, debug: bool = False, config: ClientConfig | None = None) -> None:
        self.config = config if config is not None else ClientConfig()
        self.debug = debug
        if debug:
            logging.getLogger("hatchet_worker").setLevel(logging.DEBUG)
        self.runs = RunsClient(self)
        self.event = EventClient(self.runs)
        self._schedules = SchedulesClient(self)
        self.rate_limits = RateLimitsClient(self)
        self.cron = CronClient(self)
        self.scheduled = ScheduledClient(self)
        self.workers = WorkersClient(self)
        self.filters = _filters.FiltersClient(self)
        self.workflows = WorkflowsClient(self)
        self.metrics = MetricsClient(self)
        self.cel = CELClient(self)
        self.webhooks = WebhooksClient(self)
        self.stubs = StubsClient(self)
        self.logs = LogsClient(self)
        # The official SDK reaches this one as ``hatchet._client.tenant``.
        self.tenant = TenantClient(self)

    @property
    def tenant_id(self) -> str:
        return self.config.tenant_id

    @property
    def namespace(self) -> str:
        return self.config.namespace

    def workflow(self, *, name: str, description: str | None = None, input_validator: type[Any] | None = None,
                 on_events: Sequence[str] | None = None, on_crons: Sequence[str] | None = None,
                 version: str | None = None, sticky: StickyStrategy | None = None,
                 default_priority: int | None = Priority.LOW,
                 concurrency: ConcurrencyArg = None, cron_input: Any = None,
                 task_defaults: TaskDefaults | None = None,
                 default_filters: Sequence[Any] | None = None,
                 default_additional_metadata: Mapping[str, Any] | None = None, idempotency: Any = None,
                 ) -> Workflow[Any]:
        """Declare a workflow; add tasks with ``@workflow.task()``."""
        wf: Workflow[Any] = Workflow(
            self, name=name, description=description, input_validator=input_validator,
            on_events=on_events or (), on_crons=on_crons or (), version=version, sticky=sticky,
            default_priority=default_priority, concurrency=concurrency,
            default_additional_metadata=default_additional_metadata, task_defaults=task_defaults,
            cron_input=cron_input)
        _filters.declared(wf, default_filters, idempotency)
        return wf

    def _standalone(self, *, durable: bool, name: str | None, description: str | None,
                    input_validator: type[Any] | None, on_events: Sequence[str] | None,
                    on_crons: Sequence[str] | None, version: str | None, sticky: StickyStrategy | None,
                    default_priority: int | None,
                    concurrency: ConcurrencyArg,
                    default_additional_metadata: Mapping[str, Any] | None, cron_input: Any,
                    default_filters: Sequence[Any] | None, idempotency: Any,
                    task_opts: dict[str, Any]) -> Callable[[Callable[..., Any]], Standalone[Any, Any]]:
        def decorator(fn: Callable[..., Any]) -> Standalone[Any, Any]:
            wf: Standalone[Any, Any] = Standalone(
                self, name=name or fn.__name__, description=description, input_validator=input_validator,
                on_events=on_events or (), on_crons=on_crons or (), version=version, sticky=sticky,
                default_priority=default_priority, default_additional_metadata=default_additional_metadata,
                cron_input=cron_input)
            _filters.declared(wf, default_filters, idempotency)
            declare = wf.durable_task if durable else wf.task
            task = declare(name=name or fn.__name__, concurrency=concurrency, **task_opts)(fn)
            return wf._bind(task)

        return decorator

    def task(self, *, name: str | None = None, description: str | None = None,
             input_validator: type[Any] | None = None, on_events: Sequence[str] | None = None,
             on_crons: Sequence[str] | None = None, version: str | None = None,
             sticky: StickyStrategy | None = None, default_priority: int | None = Priority.LOW,
             concurrency: ConcurrencyArg = None,
             schedule_timeout: Duration = timedelta(minutes=5),
             execution_timeout: Duration = timedelta(seconds=60),
             retries: int = 0, rate_limits: Sequence[RateLimit] | None = None,
             desired_worker_labels: DesiredLabels = None,
             backoff_factor: float | None = None, backoff_max_seconds: int | None = None,
             default_filters: Sequence[Any] | None = None,
             default_additional_metadata: Mapping[str, Any] | None = None,
             slot_cost: int | None = None, idempotency: Any = None, cron_input: Any = None,
             ) -> Callable[[Callable[..., Any]], Standalone[Any, Any]]:
        """Declare a standalone task: a one-task workflow whose ``run`` returns the task's output."""
        return self._standalone(
            durable=False, name=name, description=description, input_validator=input_validator,
            on_events=on_events, on_crons=on_crons, version=version, sticky=sticky,
            default_priority=default_priority, concurrency=concurrency,
            default_additional_metadata=default_additional_metadata, cron_input=cron_input,
            default_filters=default_filters, idempotency=idempotency, task_opts={
                "schedule_timeout": schedule_timeout, "execution_timeout": execution_timeout,
                "retries": retries, "rate_limits": rate_limits,
                "desired_worker_labels": desired_worker_labels,
                "backoff_factor": backoff_factor, "backoff_max_seconds": backoff_max_seconds,
                "slot_cost": slot_cost})

    def durable_task(self, *, name: str | None = None, description: str | None = None,
                     input_validator: type[Any] | None = None, on_events: Sequence[str] | None = None,
                     on_crons: Sequence[str] | None = None, version: str | None = None,
                     sticky: StickyStrategy | None = None, default_priority: int | None = Priority.LOW,
                     concurrency: ConcurrencyArg = None,
                     schedule_timeout: Duration = timedelta(minutes=5),
                     execution_timeout: Duration = timedelta(seconds=60), retries: int = 0,
                     rate_limits: Sequence[RateLimit] | None = None,
                     desired_worker_labels: DesiredLabels = None,
                     backoff_factor: float | None = None, backoff_max_seconds: int | None = None,
                     default_filters: Sequence[Any] | None = None,
                     default_additional_metadata: Mapping[str, Any] | None = None,
                     eviction_policy: EvictionPolicy | None = DEFAULT_DURABLE_TASK_EVICTION_POLICY,
                     idempotency: Any = None, cron_input: Any = None,
                     ) -> Callable[[Callable[..., Any]], Standalone[Any, Any]]:
        """Declare a standalone durable task (runs from the worker's ``durable`` slot pool)."""
        return self._standalone(
            durable=True, name=name, description=description, input_validator=input_validator,
            on_events=on_events, on_crons=on_crons, version=version, sticky=sticky,
            default_priority=default_priority, concurrency=concurrency,
            default_additional_metadata=default_additional_metadata, cron_input=cron_input,
            default_filters=default_filters, idempotency=idempotency, task_opts={
                "schedule_timeout": schedule_timeout, "execution_timeout": execution_timeout,
                "retries": retries, "rate_limits": rate_limits,
                "desired_worker_labels": desired_worker_labels,
                "backoff_factor": backoff_factor, "backoff_max_seconds": backoff_max_seconds,
                "eviction_policy": eviction_policy})

    def batch_task(self, *, name: str | None = None, description: str | None = None,
                   input_validator: type[Any] | None = None, version: str | None = None,
                   sticky: StickyStrategy | None = None, default_priority: int = 1,
                   schedule_timeout: Duration = timedelta(minutes=5),
                   execution_timeout: Duration = timedelta(seconds=60),
                   rate_limits: Sequence[RateLimit] | None = None, desired_worker_labels: DesiredLabels = None,
                   backoff_factor: float | None = None, backoff_max_seconds: int | None = None,
                   default_filters: Sequence[Any] | None = None, batch_max_size: int = 1,
                   batch_max_interval: timedelta | None = None, batch_group_key: str | None = None,
                   batch_group_max_runs: int | None = None, broadcast_output: bool = False,
                   ) -> Callable[[Callable[..., Any]], Standalone[Any, Any]]:
        """Declare a standalone batch task (``Workflow.batch_task``; ``run`` returns one member's output)."""
        def decorator(fn: Callable[..., Any]) -> Standalone[Any, Any]:
            wf: Standalone[Any, Any] = Standalone(
                self, name=name or fn.__name__, description=description, input_validator=input_validator,
                version=version, sticky=sticky, default_priority=default_priority)
            _filters.declared(wf, default_filters, None)
            task = wf.batch_task(
                name=name or fn.__name__, schedule_timeout=schedule_timeout, execution_timeout=execution_timeout,
                rate_limits=rate_limits, desired_worker_labels=desired_worker_labels or None,
                backoff_factor=backoff_factor, backoff_max_seconds=backoff_max_seconds,
                batch_max_size=batch_max_size, batch_max_interval=batch_max_interval,
                batch_group_key=batch_group_key, batch_group_max_runs=batch_group_max_runs,
                broadcast_output=broadcast_output)(fn)
            return wf._bind(task)

        return decorator

    def worker(self, name: str, slots: int | None = None, durable_slots: int | None = None,
               labels: dict[str, str | int] | None = None,
               workflows: Sequence[Workflow[Any]] | None = None,
               lifespan: LifespanFn | None = None) -> Worker:
        """Create a worker. Slots default from the registered tasks (see ``docs/sdk.md``)."""
        return Worker(self, name, slots=slots, durable_slots=durable_slots, labels=labels,
                      workflows=workflows, lifespan=lifespan)
