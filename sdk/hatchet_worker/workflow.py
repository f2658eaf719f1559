"""Declaring workflows and tasks: ``hatchet.workflow(...)``, ``@workflow.task(...)``, standalone tasks.

A :class:`Workflow` is a DAG of :class:`Task` objects sharing one input model. Declaring does no
I/O: the worker turns declarations into ``PutWorkflow`` requests (``_register``) when it starts,
and ``run``/``run_no_wait`` trigger them through the client.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from pydantic import BaseModel, ConfigDict

from hatchet_worker import _hooks, _signature, _task_defaults, _task_scope
from hatchet_worker._batch import BatchTaskConfig, WorkflowBatchMethods
from hatchet_worker._concurrency import ConcurrencyExpression as ConcurrencyExpression
from hatchet_worker._concurrency import ConcurrencyLimitStrategy as ConcurrencyLimitStrategy
from hatchet_worker._duration import Duration as Duration
from hatchet_worker._duration import duration_expr as duration_expr
from hatchet_worker._eviction import DEFAULT_DURABLE_TASK_EVICTION_POLICY, EvictionPolicy
from hatchet_worker._filter_decls import WorkflowFilterMethods
from hatchet_worker._run_refs import TaskRunRef, merge_options
from hatchet_worker._task_defaults import TaskDefaults as TaskDefaults
from hatchet_worker.conditions import Action, Condition, OrGroup, ParentCondition, task_conditions
from hatchet_worker.labels import DesiredLabels as DesiredLabels
from hatchet_worker.labels import DesiredWorkerLabel, labels_by_key
from hatchet_worker.rate_limit import RateLimit as RateLimit

if TYPE_CHECKING:
    from hatchet_worker._proto.workflows_pb2 import WorkflowVersion
    from hatchet_worker._run_refs import TriggerWorkflowOptions, WorkflowRunRef
    from hatchet_worker.client import Hatchet
    from hatchet_worker.clients.rest.models.cron_workflows import CronWorkflows
    from hatchet_worker.context import Context


class EmptyModel(BaseModel):
    """The default input model: accepts any JSON object and keeps every field."""

    model_config = ConfigDict(extra="allow", frozen=True)


TWorkflowInput = TypeVar("TWorkflowInput")
R = TypeVar("R")
class Priority(IntEnum):
    """Run priority: higher runs are assigned first."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3


@dataclasses.dataclass(frozen=True)
class WorkflowRunTriggerConfig:
    """One run of a bulk trigger (``workflow.create_bulk_run_item(...)`` -> ``workflow.run_many``)."""

    input: Any
    options: Any = None
    """A ``TriggerWorkflowOptions`` or None."""


class StickyStrategy(IntEnum):
    SOFT = 0
    HARD = 1


ConcurrencyArg = ConcurrencyExpression | Sequence[ConcurrencyExpression] | int | None
"""One or more concurrency expressions, or an int (a constant group limited to that many runs)."""


class Task(Generic[TWorkflowInput, R]):
    """One task of a workflow; calling it directly calls the wrapped function."""

    def __init__(self, *, fn: Callable[..., Any], workflow: Workflow[TWorkflowInput], name: str,
                 execution_timeout: Duration, schedule_timeout: Duration,
                 parents: Sequence[Task[TWorkflowInput, Any]], retries: int,
                 rate_limits: Sequence[RateLimit], desired_worker_labels: dict[str, DesiredWorkerLabel],
                 backoff_factor: float | None, backoff_max_seconds: int | None,
                 concurrency: Sequence[ConcurrencyExpression], slot_cost: int, is_durable: bool,
                 conditions: Sequence[tuple[Condition, Action]] = ()) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        if slot_cost < 1:
            raise ValueError("slot_cost must be a positive integer")
        self.fn = fn
        self.workflow = workflow
        self.name = name
        self.execution_timeout = duration_expr(execution_timeout)
        self.schedule_timeout = duration_expr(schedule_timeout)
        self.parents = list(parents)
        self.retries = retries
        self.rate_limits = list(rate_limits)
        self.desired_worker_labels = desired_worker_labels
        self.backoff_factor = backoff_factor
        self.backoff_max_seconds = backoff_max_seconds
        self.concurrency = list(concurrency)
        self.slot_cost = slot_cost
        self.is_durable = is_durable
        self.eviction_policy: EvictionPolicy | None = None
        """When the worker may evict this durable task while it waits (``durable_task(eviction_policy=)``)."""
        self.conditions = list(conditions)
        """``(condition, action)`` pairs from ``wait_for``/``skip_if``/``cancel_if``."""
        self.batch: BatchTaskConfig | None = None
        """Set for a batch task (``_batch``): the engine hands its runs over in batches."""
        self.is_async = inspect.iscoroutinefunction(fn)
        self.output_type = _signature.return_type(fn)
        """The declared return type (None when unannotated, ``None`` or ``Any``): parents' outputs
        read with ``ctx.task_output`` and standalone results are validated into it."""
        self._output_adapter: Any = None

    def validate_output(self, value: Any) -> Any:
        """``value`` (JSON from the engine) as the declared return type, as the official SDK does.

        Without a usable annotation the JSON is returned as is (the official SDK would give an
        ``EmptyModel`` there; a dict is what this SDK's users already index).
        """
        if self.output_type is None:
            return value
        if self._output_adapter is None:
            from pydantic import TypeAdapter

            self._output_adapter = TypeAdapter(self.output_type)
        return self._output_adapter.validate_python({} if value is None else value)

    @property
    def slot_type(self) -> str:
        return "durable" if self.is_durable else "default"

    @property
    def slot_requests(self) -> dict[str, int]:
        return {self.slot_type: self.slot_cost}

    def __call__(self, input: TWorkflowInput, ctx: Context) -> Any:
        return self.fn(input, ctx)

    def __repr__(self) -> str:
        return f"Task({self.workflow.name}:{self.name})"


def _parse_task_name(name: str | None, fn: Callable[..., Any]) -> str:
    return (name or fn.__name__).lower()


class Workflow(WorkflowFilterMethods, WorkflowBatchMethods, Generic[TWorkflowInput]):
    """A named DAG of tasks with one input model; create with ``hatchet.workflow(name=...)``."""

    def __init__(self, client: Hatchet, *, name: str, description: str | None = None,
                 input_validator: type[Any] | None = None, on_events: Sequence[str] = (),
                 on_crons: Sequence[str] = (), version: str | None = None,
                 sticky: StickyStrategy | None = None, default_priority: int | None = None,
                 concurrency: ConcurrencyArg = None,
                 default_additional_metadata: Mapping[str, Any] | None = None,
                 task_defaults: TaskDefaults | None = None, cron_input: Any = None,
                 ) -> None:
        self._client = client
        self._name = name
        self.description = description or ""
        self.input_validator: type[Any] = input_validator or EmptyModel
        self.on_events = list(on_events)
        self.on_crons = list(on_crons)
        self.version = version or ""
        self.sticky = sticky
        self.default_priority = default_priority
        self.concurrency = _normalise_concurrency(concurrency)
        self.concurrency_is_list = isinstance(concurrency, (list, tuple))  # which field carries it (_register)
        self.default_additional_metadata: dict[str, Any] = dict(default_additional_metadata or {})
        """Merged under each run's own ``additional_metadata`` (the run's keys win)."""
        self.task_defaults = task_defaults
        self.cron_input = cron_input
        """The input of the runs its ``on_crons`` start (an instance of the input model)."""
        """Values for the options its tasks leave at their defaults (``_task_defaults``)."""
        self.tasks: list[Task[TWorkflowInput, Any]] = []
        self.on_failure: Task[TWorkflowInput, Any] | None = None
        self.on_success: Task[TWorkflowInput, Any] | None = None
        self._adapter: Any = None

    @property
    def name(self) -> str:
        """The workflow name as registered (with the namespace prefix)."""
        return self._client.config.apply_namespace(self._name)

    @property
    def service_name(self) -> str:
        """The action prefix of this workflow's tasks: namespaced, lower case."""
        return self._client.config.apply_namespace(self._name.lower())

    def action_id(self, task: Task[Any, Any]) -> str:
        return f"{self.service_name}:{task.name}"

    # -- declaring tasks -------------------------------------------------------------------------
    def _add(self, fn: Callable[..., Any], name: str | None, *, is_durable: bool, hook: str | None = None,
             **opts: Any) -> Task[TWorkflowInput, Any]:
        task_name = _parse_task_name(name, fn) + _hooks.name_suffix(hook)
        hooks = {"on_failure": self.on_failure, "on_success": self.on_success}
        if hook is not None and hooks[hook] is not None:
            raise ValueError(f"Only one {hook.replace('_', '-')} task is allowed")
        if any(t is not None and t.name == task_name for t in [*self.tasks, *hooks.values()]):
            raise ValueError(f"workflow {self._name!r} already has a task named {task_name!r}")
        for parent in opts["parents"]:
            if parent.workflow is not self:
                raise ValueError(f"parent {parent!r} belongs to another workflow")
        for condition, _ in opts.get("conditions", ()):
            if isinstance(condition, ParentCondition) and condition.parent.workflow is not self:
                raise ValueError(f"ParentCondition on {condition.parent!r}, a task of another workflow")
        if hook is None:  # the hooks keep their own values, as in the official SDK
            opts = _task_defaults.apply(opts, self.task_defaults)
        task: Task[TWorkflowInput, Any] = Task(fn=fn, workflow=self, name=task_name, is_durable=is_durable,
                                               **opts)
        if hook is None:
            self.tasks.append(task)
        else:
            setattr(self, hook, task)
        return task

    def task(self, name: str | None = None, schedule_timeout: Duration = timedelta(minutes=5),
             execution_timeout: Duration = timedelta(seconds=60),
             parents: Sequence[Task[TWorkflowInput, Any]] | None = None, retries: int = 0,
             rate_limits: Sequence[RateLimit] | None = None,
             desired_worker_labels: DesiredLabels = None,
             backoff_factor: float | None = None, backoff_max_seconds: int | None = None,
             concurrency: ConcurrencyArg = None,
             wait_for: Sequence[Condition | OrGroup] | None = None,
             skip_if: Sequence[Condition | OrGroup] | None = None,
             cancel_if: Sequence[Condition | OrGroup] | None = None,
             slot_cost: int | None = None,
             ) -> Callable[[Callable[[TWorkflowInput, Context], R | Awaitable[R]]], Task[TWorkflowInput, R]]:
        """Declare a task: ``fn(input, ctx)``, sync or ``async``, returning a JSON object."""
        conditions = task_conditions(wait_for, skip_if, cancel_if)

        def decorator(fn: Callable[[TWorkflowInput, Context], R | Awaitable[R]]) -> Task[TWorkflowInput, R]:
            return self._add(fn, name, is_durable=False, conditions=conditions, **_task_opts(
                schedule_timeout, execution_timeout, parents, retries, rate_limits, desired_worker_labels,
                backoff_factor, backoff_max_seconds, concurrency, slot_cost))

        return decorator

    def durable_task(self, name: str | None = None, schedule_timeout: Duration = timedelta(minutes=5),
                     execution_timeout: Duration = timedelta(seconds=60),
                     parents: Sequence[Task[TWorkflowInput, Any]] | None = None, retries: int = 0,
                     rate_limits: Sequence[RateLimit] | None = None,
                     desired_worker_labels: DesiredLabels = None,
                     backoff_factor: float | None = None, backoff_max_seconds: int | None = None,
                     concurrency: ConcurrencyArg = None,
                     wait_for: Sequence[Condition | OrGroup] | None = None,
                     skip_if: Sequence[Condition | OrGroup] | None = None,
                     cancel_if: Sequence[Condition | OrGroup] | None = None,
                     eviction_policy: EvictionPolicy | None = DEFAULT_DURABLE_TASK_EVICTION_POLICY,
                     ) -> Callable[[Callable[..., Any]], Task[TWorkflowInput, Any]]:
        """Declare a durable task: it occupies a ``durable`` slot and gets a :class:`DurableContext`.
        While it waits the worker may evict it as ``eviction_policy`` says (``_eviction``; None: never)."""
        conditions = task_conditions(wait_for, skip_if, cancel_if)
        policy = None if eviction_policy is None else EvictionPolicy.model_validate(eviction_policy,
                                                                                   from_attributes=True)

        def decorator(fn: Callable[..., Any]) -> Task[TWorkflowInput, Any]:
            task = self._add(fn, name, is_durable=True, conditions=conditions, **_task_opts(
                schedule_timeout, execution_timeout, parents, retries, rate_limits, desired_worker_labels,
                backoff_factor, backoff_max_seconds, concurrency, None))
            task.eviction_policy = policy
            return task

        return decorator

    def on_failure_task(self, name: str | None = None, schedule_timeout: Duration = timedelta(minutes=5),
                        execution_timeout: Duration = timedelta(seconds=60), retries: int = 0,
                        rate_limits: Sequence[RateLimit] | None = None,
                        backoff_factor: float | None = None, backoff_max_seconds: int | None = None,
                        concurrency: ConcurrencyArg = None,
                        ) -> Callable[[Callable[..., Any]], Task[TWorkflowInput, Any]]:
        """Declare the task that runs when any other task of the run fails."""
        return self._hook("on_failure", name, _task_opts(schedule_timeout, execution_timeout, None, retries,
                                                         rate_limits, None, backoff_factor, backoff_max_seconds,
                                                         concurrency, None))

    def on_success_task(self, name: str | None = None, schedule_timeout: Duration = timedelta(minutes=5),
                        execution_timeout: Duration = timedelta(seconds=60), retries: int = 0,
                        rate_limits: Sequence[RateLimit] | None = None,
                        backoff_factor: float | None = None, backoff_max_seconds: int | None = None,
                        concurrency: ConcurrencyArg = None,
                        ) -> Callable[[Callable[..., Any]], Task[TWorkflowInput, Any]]:
        """Declare the task that runs last, once every other task of the run succeeded (``_hooks``)."""
        return self._hook("on_success", name, _task_opts(schedule_timeout, execution_timeout, None, retries,
                                                         rate_limits, None, backoff_factor, backoff_max_seconds,
                                                         concurrency, None))

    def _hook(self, hook: str, name: str | None,
              opts: dict[str, Any]) -> Callable[[Callable[..., Any]], Task[TWorkflowInput, Any]]:
        return lambda fn: self._add(fn, name, is_durable=False, hook=hook, **opts)

    # -- scheduling (see ``_schedules``) -----------------------------------------------------------
    def schedule(self, run_at: datetime, input: TWorkflowInput | None = None,
                 options: TriggerWorkflowOptions | None = None, child_key: str | None = None,
                 additional_metadata: Mapping[str, Any] | None = None, priority: int | None = None,
                 ) -> WorkflowVersion:
        """Run the workflow once at ``run_at``; returns the engine's ``WorkflowVersion``."""
        return self._client._schedules.schedule(self, run_at, input, options, child_key, additional_metadata,
                                                priority)

    async def aio_schedule(self, run_at: datetime, input: TWorkflowInput | None = None,
                           options: TriggerWorkflowOptions | None = None, child_key: str | None = None,
                           additional_metadata: Mapping[str, Any] | None = None, priority: int | None = None,
                           ) -> WorkflowVersion:
        return await self._client._schedules.aio_schedule(self, run_at, input, options, child_key,
                                                          additional_metadata, priority)

    def create_cron(self, cron_name: str, expression: str, input: TWorkflowInput | None = None,
                    additional_metadata: Mapping[str, Any] | None = None, priority: int | None = None,
                    ) -> CronWorkflows:
        """Run the workflow on the cron ``expression``; returns the created ``CronWorkflows``."""
        return self._client._schedules.create_cron(self, cron_name, expression, input, additional_metadata,
                                                   priority)

    async def aio_create_cron(self, cron_name: str, expression: str, input: TWorkflowInput | None = None,
                              additional_metadata: Mapping[str, Any] | None = None,
                              priority: int | None = None) -> CronWorkflows:
        return await self._client._schedules.aio_create_cron(self, cron_name, expression, input,
                                                             additional_metadata, priority)

    # -- input --------------------------------------------------------------------------------
    def parse_input(self, data: Any) -> Any:
        """Validate a run's input JSON object into the workflow's input model."""
        validator = self.input_validator
        if data is None:
            data = {}
        if isinstance(validator, type) and issubclass(validator, BaseModel):
            return validator.model_validate(data)
        if validator is dict:
            return data
        if self._adapter is None:
            from pydantic import TypeAdapter

            self._adapter = TypeAdapter(validator)
        return self._adapter.validate_python(data)

    # -- running --------------------------------------------------------------------------------
    # The per-call keyword arguments are the official SDK's; each is sent (see runs.build_trigger).
    # Unlike the official SDK, they also apply on top of an ``options`` object instead of being
    # ignored when one is given.
    def run_no_wait(self, input: TWorkflowInput | None = None, options: TriggerWorkflowOptions | None = None,
                    child_key: str | None = None, additional_metadata: Mapping[str, Any] | None = None,
                    priority: int | None = None, sticky: bool = False, desired_worker_id: str | None = None,
                    desired_worker_labels: DesiredLabels = None) -> WorkflowRunRef:
        """Trigger a run and return a reference to it without waiting."""
        opts = _options(options, child_key, additional_metadata, priority, sticky, desired_worker_id,
                        desired_worker_labels)
        return self._client.runs.trigger(self, input, opts)

    async def aio_run_no_wait(self, input: TWorkflowInput | None = None,
                              options: TriggerWorkflowOptions | None = None, child_key: str | None = None,
                              additional_metadata: Mapping[str, Any] | None = None, priority: int | None = None,
                              sticky: bool = False, desired_worker_id: str | None = None,
                              desired_worker_labels: DesiredLabels = None) -> WorkflowRunRef:
        opts = _options(options, child_key, additional_metadata, priority, sticky, desired_worker_id,
                        desired_worker_labels)
        return await self._client.runs.aio_trigger(self, input, opts)

    def run(self, input: TWorkflowInput | None = None, options: TriggerWorkflowOptions | None = None,
            wait_for_result: bool = True, child_key: str | None = None,
            additional_metadata: Mapping[str, Any] | None = None, priority: int | None = None,
            sticky: bool = False, desired_worker_id: str | None = None,
            desired_worker_labels: DesiredLabels = None) -> Any:
        """Trigger a run, wait for it and return ``{task_name: output}``; raise if it failed.

        With ``wait_for_result=False`` return the run's reference at once instead.
        """
        ref = self.run_no_wait(input, options, child_key, additional_metadata, priority, sticky,
                               desired_worker_id, desired_worker_labels)
        return self._ref(ref) if not wait_for_result else self._shape(ref.result())

    async def aio_run(self, input: TWorkflowInput | None = None, options: TriggerWorkflowOptions | None = None,
                      wait_for_result: bool = True, child_key: str | None = None,
                      additional_metadata: Mapping[str, Any] | None = None, priority: int | None = None,
                      sticky: bool = False, desired_worker_id: str | None = None,
                      desired_worker_labels: DesiredLabels = None) -> Any:
        if (durable := _task_scope.durable_parent()) is not None:  # a recorded child of a durable task
            opts = _options(options, child_key, additional_metadata, priority, sticky, desired_worker_id,
                            desired_worker_labels)
            return (await durable._run_children(self, [(input, opts)], wait_for_result))[0]
        ref = await self.aio_run_no_wait(input, options, child_key, additional_metadata, priority, sticky,
                                         desired_worker_id, desired_worker_labels)
        return self._ref(ref) if not wait_for_result else self._shape(await ref.aio_result())

    def _ref(self, ref: WorkflowRunRef) -> Any:
        return ref

    def create_bulk_run_item(self, input: TWorkflowInput | None = None, key: str | None = None,
                             options: TriggerWorkflowOptions | None = None, child_key: str | None = None,
                             additional_metadata: Mapping[str, Any] | None = None, priority: int | None = None,
                             desired_worker_id: str | None = None, sticky: bool = False,
                             desired_worker_labels: DesiredLabels = None) -> WorkflowRunTriggerConfig:
        """One item for :meth:`run_many`.

        ``key`` is this SDK's older spelling of ``child_key`` and is used as the child key when
        ``child_key`` is not given (the official SDK keeps it on the item and never sends it).
        """
        opts = _options(options, child_key if child_key is not None else key, additional_metadata, priority,
                        sticky, desired_worker_id, desired_worker_labels)
        return WorkflowRunTriggerConfig(input=input, options=opts)

    def run_many(self, workflows: Sequence[WorkflowRunTriggerConfig], return_exceptions: bool = False,
                 wait_for_result: bool = True) -> list[Any]:
        """Trigger many runs in one call; wait for all (results in order) unless ``wait_for_result=False``."""
        refs = self._client.runs.bulk_trigger(self, workflows)
        if not wait_for_result:
            return refs
        out: list[Any] = []
        for ref in refs:
            try:
                out.append(self._shape(ref.result()))
            except Exception as exc:
                if not return_exceptions:
                    raise
                out.append(exc)
        return out

    async def aio_run_many(self, workflows: Sequence[WorkflowRunTriggerConfig], return_exceptions: bool = False,
                           wait_for_result: bool = True) -> list[Any]:
        if (durable := _task_scope.durable_parent()) is not None:  # recorded children of a durable task
            return await durable._run_children(self, [(w.input, w.options) for w in workflows],
                                               wait_for_result, return_exceptions)
        refs = await self._client.runs.aio_bulk_trigger(self, workflows)
        if not wait_for_result:
            return refs
        results = await asyncio.gather(*(r.aio_result() for r in refs), return_exceptions=return_exceptions)
        return [r if isinstance(r, BaseException) else self._shape(r) for r in results]

    def run_many_no_wait(self, workflows: Sequence[WorkflowRunTriggerConfig]) -> list[Any]:
        return self.run_many(workflows, wait_for_result=False)

    async def aio_run_many_no_wait(self, workflows: Sequence[WorkflowRunTriggerConfig]) -> list[Any]:
        return await self.aio_run_many(workflows, wait_for_result=False)

    def _shape(self, result: dict[str, Any]) -> Any:
        return result

    def __repr__(self) -> str:
        return f"Workflow({self._name!r}, tasks={[t.name for t in self.tasks]})"


class Standalone(Workflow[TWorkflowInput], Generic[TWorkflowInput, R]):
    """A workflow of exactly one task, made by ``@hatchet.task``; ``run`` returns that task's output."""

    def __init__(self, client: Hatchet, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self._task: Task[TWorkflowInput, R] | None = None

    @property
    def task_(self) -> Task[TWorkflowInput, R]:
        assert self._task is not None
        return self._task

    def _bind(self, task: Task[TWorkflowInput, R]) -> Standalone[TWorkflowInput, R]:
        self._task = task
        return self

    def _shape(self, result: dict[str, Any]) -> Any:
        return self.task_.validate_output(result.get(self.task_.name))

    def _ref(self, ref: WorkflowRunRef) -> Any:
        return TaskRunRef(ref, self._shape)

    def __call__(self, input: TWorkflowInput, ctx: Context) -> R:
        return cast(R, self.task_.fn(input, ctx))

    @property
    def fn(self) -> Callable[..., Any]:
        return self.task_.fn


def _options(options: TriggerWorkflowOptions | None, child_key: str | None,
             additional_metadata: Mapping[str, Any] | None, priority: int | None, sticky: bool,
             desired_worker_id: str | None, desired_worker_labels: DesiredLabels) -> TriggerWorkflowOptions:
    return merge_options(options, child_key=child_key, additional_metadata=dict(additional_metadata or {}),
                         priority=int(priority) if priority is not None else None, sticky=sticky,
                         desired_worker_id=desired_worker_id,
                         desired_worker_labels=labels_by_key(desired_worker_labels) or None)


def _normalise_concurrency(value: ConcurrencyArg) -> list[ConcurrencyExpression]:
    if value is None:
        return []
    if isinstance(value, int):
        return [ConcurrencyExpression(expression="'constant'", max_runs=value)]
    if isinstance(value, ConcurrencyExpression):
        return [value]
    return list(value)


def _task_opts(schedule_timeout: Duration, execution_timeout: Duration,
               parents: Sequence[Task[Any, Any]] | None, retries: int,
               rate_limits: Sequence[RateLimit] | None,
               desired_worker_labels: DesiredLabels,
               backoff_factor: float | None, backoff_max_seconds: int | None,
               concurrency: ConcurrencyArg, slot_cost: int | None,
               ) -> dict[str, Any]:
    return {
        "schedule_timeout": schedule_timeout,
        "execution_timeout": execution_timeout,
        "parents": list(parents or []),
        "retries": retries,
        "rate_limits": list(rate_limits or []),
        "desired_worker_labels": labels_by_key(desired_worker_labels),
        "backoff_factor": backoff_factor,
        "backoff_max_seconds": backoff_max_seconds,
        "concurrency": _normalise_concurrency(concurrency),
        "slot_cost": 1 if slot_cost is None else slot_cost,
    }
