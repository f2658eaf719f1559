"""Pure translation of declarations into protocol messages: PutWorkflow and Register requests."""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter

from hatchet_worker import _hooks
from hatchet_worker._batch import config_proto as batch_config_proto
from hatchet_worker._condition_wire import conditions_proto
from hatchet_worker._label_wire import desired_label_proto as desired_label_proto
from hatchet_worker._proto import dispatcher_pb2, v1_workflows_pb2
from hatchet_worker.rate_limit import RateLimit
from hatchet_worker.workflow import ConcurrencyExpression, EmptyModel, Task, Workflow

SDK_VERSION = "0.1.0"


def task_proto(workflow: Workflow[Any], task: Task[Any, Any],
               parents: Sequence[Task[Any, Any]] | None = None) -> v1_workflows_pb2.CreateTaskOpts:
    """One task; ``parents`` overrides the declared ones (the on-success task's are computed)."""
    msg = v1_workflows_pb2.CreateTaskOpts(
        readable_id=task.name,
        action=workflow.action_id(task),
        timeout=task.execution_timeout,
        inputs="{}",
        parents=[p.name for p in (task.parents if parents is None else parents)],
        retries=task.retries,
        schedule_timeout=task.schedule_timeout,
        is_durable=task.is_durable,
        slot_requests=task.slot_requests,
    )
    for key, label in task.desired_worker_labels.items():
        msg.worker_labels[key].CopyFrom(desired_label_proto(label))
    if task.backoff_factor is not None:
        msg.backoff_factor = task.backoff_factor
    if task.backoff_max_seconds is not None:
        msg.backoff_max_seconds = task.backoff_max_seconds
    msg.rate_limits.extend(rate_limit_proto(limit) for limit in task.rate_limits)
    msg.concurrency.extend(_concurrency_proto(c) for c in task.concurrency)
    if task.conditions:
        msg.conditions.CopyFrom(conditions_proto(task.conditions, workflow._client.config.apply_namespace))
    else:  # the official SDK always sends the message, empty when there is no condition
        msg.conditions.SetInParent()
    if task.batch is not None:
        msg.batch.CopyFrom(batch_config_proto(task.batch))
    return msg


def workflow_proto(workflow: Workflow[Any], namespace: str) -> v1_workflows_pb2.CreateWorkflowVersionRequest:
    """The ``v1.AdminService/PutWorkflow`` request declaring ``workflow``."""
    msg = v1_workflows_pb2.CreateWorkflowVersionRequest(
        name=workflow.name,
        description=workflow.description,
        version=workflow.version,
        event_triggers=[e if not namespace or e.startswith(namespace) else namespace + e
                        for e in workflow.on_events],
        cron_triggers=workflow.on_crons,
        tasks=[task_proto(workflow, t) for t in workflow.tasks],
    )
    if workflow.on_success is not None:
        msg.tasks.append(task_proto(workflow, workflow.on_success, _hooks.leaf_tasks(workflow.tasks)))
    if workflow.on_failure is not None:
        msg.on_failure_task.CopyFrom(task_proto(workflow, workflow.on_failure))
    if workflow.sticky is not None:
        msg.sticky = int(workflow.sticky)
    if workflow.default_priority is not None:
        msg.default_priority = workflow.default_priority
    if workflow.concurrency_is_list:
        msg.concurrency_arr.extend(_concurrency_proto(c) for c in workflow.concurrency)
    elif workflow.concurrency:  # one expression (or an int) goes in the single field, as the official SDK sends it
        msg.concurrency.CopyFrom(_concurrency_proto(workflow.concurrency[0]))
    if workflow.cron_input:  # as in the official SDK, an empty (falsy) input is not sent
        msg.cron_input = cron_input_json(workflow)
    schema = _input_schema(workflow)
    if schema is not None:
        msg.input_json_schema = schema
    msg.default_filters.extend(f.to_proto() for f in workflow.default_filters)
    if workflow.idempotency is not None:
        msg.idempotency.CopyFrom(workflow.idempotency.to_proto())
    return msg


def cron_input_json(workflow: Workflow[Any]) -> str:
    """``cron_input`` serialized by the workflow's input model (what the official SDK sends)."""
    return TypeAdapter(workflow.input_validator).dump_json(workflow.cron_input).decode()


def _concurrency_proto(conc: ConcurrencyExpression) -> v1_workflows_pb2.Concurrency:
    # The strategies a declaration accepts all exist in the engine's enum (_concurrency).
    return v1_workflows_pb2.Concurrency(
        expression=conc.expression, max_runs=int(conc.max_runs),
        limit_strategy=v1_workflows_pb2.ConcurrencyLimitStrategy.Value(conc.limit_strategy.value))


def rate_limit_proto(limit: RateLimit) -> v1_workflows_pb2.CreateTaskRateLimit:
    """A task's rate limit as the official SDK sends it: the key is the static key or the dynamic key's
    expression (also sent as ``key_expr``), numeric units as a number and others as a CEL expression,
    the limit (``-1`` when not given: the key's existing limit) as an expression, and the window."""
    msg = v1_workflows_pb2.CreateTaskRateLimit(
        key=limit.static_key or limit.dynamic_key or "",
        duration=v1_workflows_pb2.RateLimitDuration.Value(limit.duration.value))
    if limit.dynamic_key:
        msg.key_expr = limit.dynamic_key
    if isinstance(limit.units, int):
        msg.units = limit.units
    else:
        msg.units_expr = limit.units
    if limit.limit:
        msg.limit_values_expr = str(limit.limit)
    return msg


def _input_schema(workflow: Workflow[Any]) -> bytes | None:
    """The input's JSON schema, sent for the types the official SDK sends one for: a class pydantic
    validates as such (model, dataclass, TypedDict), but not ``EmptyModel`` (any object) or a dict."""
    validator = workflow.input_validator
    if validator is EmptyModel:
        return None
    try:
        adapter = TypeAdapter(validator)
        if adapter.core_schema.get("cls") is None:
            return None
        return json.dumps(adapter.json_schema()).encode()
    except Exception:  # a type whose schema cannot be generated still runs
        return None


def all_tasks(workflows: Iterable[Workflow[Any]]) -> list[tuple[Workflow[Any], Task[Any, Any]]]:
    out: list[tuple[Workflow[Any], Task[Any, Any]]] = []
    for wf in workflows:
        out.extend((wf, t) for t in wf.tasks)
        out.extend((wf, t) for t in (wf.on_success, wf.on_failure) if t is not None)
    return out


def register_request(name: str, actions: Iterable[str], slot_config: Mapping[str, int],
                     labels: Mapping[str, str | int]) -> dispatcher_pb2.WorkerRegisterRequest:
    """The ``Dispatcher/Register`` request for a worker."""
    msg = dispatcher_pb2.WorkerRegisterRequest(
        worker_name=name,
        actions=sorted(set(actions)),
        services=["default"],
        slot_config=dict(slot_config),
    )
    for key, value in labels.items():
        if isinstance(value, int) and not isinstance(value, bool):
            msg.labels[key].int_value = value
        else:
            msg.labels[key].str_value = str(value)
    info = msg.runtime_info
    info.sdk_version = SDK_VERSION
    info.language = dispatcher_pb2.PYTHON
    info.language_version = platform.python_version()
    info.os = sys.platform
    info.extra = "hatchet-worker"
    return msg
