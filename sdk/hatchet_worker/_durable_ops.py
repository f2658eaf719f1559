"""What a durable task can do with the engine's event log (``DurableContext``'s methods).

Each call is one entry of the task's durable event log (see ``_durable``): ``aio_wait_for`` (and the
sleeps and event waits built on it), ``aio_now`` (a memo: the time recorded on the first run is
returned again when the task starts over) and children spawned with ``aio_run``/``aio_run_many``.
The requests and the values returned are the official SDK's, so the engine records the same log
for a task whichever SDK runs it.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, TypeAdapter

from hatchet_worker import _tracing
from hatchet_worker._condition_wire import add_sleep_or_event
from hatchet_worker._duration import Duration, duration_expr
from hatchet_worker._proto import v1_condition_pb2
from hatchet_worker._run_refs import WorkflowRunRef
from hatchet_worker._task_scope import DurableScope
from hatchet_worker._task_scope import durable_parent as durable_parent
from hatchet_worker.conditions import Condition, OrGroup, SleepCondition, UserEventCondition, flatten_conditions
from hatchet_worker.exceptions import TaskRunError
from hatchet_worker.runs import build_trigger

if TYPE_CHECKING:
    from hatchet_worker._durable import DurableStream


class SleepResult(BaseModel):
    """What a durable sleep returns: how long it was asked to sleep, as the engine recorded it."""

    duration: timedelta


class MemoNowResult(BaseModel):
    ts: datetime


def memo_key(task_run_id: str, *args: Any, **kwargs: Any) -> bytes:
    """The memo's key in the event log: the official SDK's digest, so both SDKs find each other's."""
    h = hashlib.sha256()
    h.update(task_run_id.encode())
    h.update(json.dumps(args, default=str, sort_keys=True).encode())
    h.update(json.dumps(kwargs, default=str, sort_keys=True).encode())
    return h.digest()


def conditions_proto(items: Sequence[Condition | OrGroup], apply_namespace: Callable[[str], str]) -> Any:
    """The wait's ``DurableEventListenerConditions``; members of an ``or_`` group share its id."""
    msg = v1_condition_pb2.DurableEventListenerConditions()
    for condition in flatten_conditions(items):
        base = v1_condition_pb2.BaseMatchCondition(readable_data_key=condition.readable_data_key,
                                                   or_group_id=condition.or_group_id,
                                                   expression=condition.expression or "")
        if not add_sleep_or_event(msg, base, condition, apply_namespace):
            raise TypeError(f"a durable wait takes SleepCondition, UserEventCondition or or_(...), "
                            f"not {type(condition).__name__}")
    return msg


def first_match(result: dict[str, Any]) -> Any:
    """The engine answers ``{"CREATE": {"<readable key>": [<match>, ...]}}``; the one match."""
    matches = result.get("CREATE", {})
    _, found = next(iter(matches.items()))
    return found[0]


def _warn_str(duration: Any) -> None:
    if isinstance(duration, str):  # as the official SDK warns
        warnings.warn("Support for providing a duration as a string is deprecated and will be removed in "
                      "v2.0.0. Use `timedelta` instead.", DeprecationWarning, stacklevel=3)


class DurableOps(DurableScope):
    """Mixed into ``DurableContext`` (which supplies ``_runtime``, ``_task`` and ``task_run_id``)."""

    _runtime: Any
    _task: Any
    _action: Any
    _wait_index: int = 0

    @property
    def invocation_count(self) -> int:
        """Which start of this task run this is (1 first; grows each time the task starts over)."""
        a = self._action
        count = a.durable_task_invocation_count if a.HasField("durable_task_invocation_count") else 0
        return int(count) or 1

    @property
    def wait_index(self) -> int:
        return self._wait_index

    def _increment_wait_index(self) -> int:
        index = self._wait_index
        self._wait_index = index + 1
        return index

    def _stream(self) -> DurableStream:
        stream: DurableStream = self._runtime.durable_stream()
        return stream

    def _run_id(self) -> str:
        return str(self._action.task_run_external_id)

    async def _run_children(self, workflow: Any, items: Sequence[tuple[Any, Any]], wait_for_result: bool,
                            return_exceptions: bool = False) -> list[Any]:
        # The declarations reach this through _task_scope.DurableScope, without importing the runtime.
        return await run_children(workflow, self, items, wait_for_result, return_exceptions)

    async def aio_wait_for(self, signal_key: str, *conditions: SleepCondition | UserEventCondition | OrGroup,
                           label: str | None = None) -> dict[str, Any]:
        """Wait durably until the conditions are met: all of them, where an ``or_(...)`` group counts
        as met when any one of its members is. Returns the engine's record of what matched,
        ``{"CREATE": {"<readable data key>": [<match>]}}``. ``signal_key`` names the wait."""
        proto = conditions_proto(conditions, self._task.workflow._client.config.apply_namespace)
        stream = self._stream()
        with _tracing.current().durable_wait(signal_key, len(conditions), self._run_id()):
            ack = await stream.wait_for(self._run_id(), self.invocation_count, proto, label)
            async with self._runtime.durable_waiting(self, f"wait_for({signal_key})"):
                done = await stream.result(self._run_id(), self.invocation_count, ack.branch_id, ack.node_id)
        payload = json.loads(done.payload) if done.payload and not done.is_failure else None
        return payload if isinstance(payload, dict) else {}

    async def aio_sleep_for(self, duration: Duration, label: str | None = None) -> SleepResult:
        """Sleep durably: the engine keeps the timer, so the sleep ends on time even if the task's
        worker died meanwhile and another worker resumed the task."""
        _warn_str(duration)
        expr = duration_expr(duration)
        index = self._increment_wait_index()
        result = await self.aio_wait_for(f"sleep:{expr}-{index}", SleepCondition(expr), label=label)
        match = first_match(result)
        return SleepResult(duration=_expr_timedelta(str(match.get("sleep_duration", expr))))

    async def aio_wait_for_event(self, key: str, expression: str | None = None, *,
                                 payload_validator: type[Any] | None = None, scope: str | None = None,
                                 lookback_window: timedelta | None = None, label: str | None = None) -> Any:
        """Wait durably for a pushed event ``key`` matching the CEL ``expression``; its payload
        (validated into ``payload_validator`` when given). Only events pushed with ``scope`` count
        when it is given; with ``lookback_window`` (which needs ``scope``) an event pushed up to that
        long before the wait counts too.

        Raises:
            ValueError: only one of ``scope`` and ``lookback_window`` was given.
        """
        if (lookback_window and not scope) or (scope and not lookback_window):
            raise ValueError("Both `lookback_window` and scope must be provided together")
        index = self._increment_wait_index()
        since = (await self.aio_now()) - lookback_window if lookback_window else None
        result = await self.aio_wait_for(f"event:{key}-{index}", UserEventCondition(
            event_key=key, expression=expression, scope=scope, consider_events_since=since), label=label)
        payload = first_match(result)
        if payload_validator is not None:
            return TypeAdapter(payload_validator).validate_python(payload)
        return payload

    async def aio_now(self) -> datetime:
        """The current time, recorded on first use: a task that starts over gets the same value."""
        stream, run_id, invocation = self._stream(), self._run_id(), self.invocation_count
        key = memo_key(run_id)
        ack = await stream.memo(run_id, invocation, key)
        adapter = TypeAdapter(MemoNowResult)
        if ack.memo_already_existed and ack.memo_result_payload:
            return adapter.validate_json(ack.memo_result_payload).ts
        value = MemoNowResult(ts=datetime.now(UTC))
        stream.complete_memo(ack.ref, key, adapter.dump_json(value))
        return value.ts

    async def aio_sleep_until(self, wake_at: datetime, label: str | None = None) -> SleepResult:
        """Sleep durably until ``wake_at`` (measured from the recorded :meth:`aio_now`)."""
        return await self.aio_sleep_for(wake_at - await self.aio_now(), label=label)

    # -- children (routed here by Workflow.aio_run / aio_run_many inside a durable task) -----------
    async def _spawn(self, requests: list[Any]) -> list[Any]:
        return await self._stream().trigger_runs(self._run_id(), self.invocation_count, requests)

    async def _child_result(self, entry: Any, workflow_name: str) -> dict[str, Any]:
        async with self._runtime.durable_waiting(self, f"spawn_child({workflow_name})"):
            done = await self._stream().result(self._run_id(), self.invocation_count, entry.branch_id,
                                               entry.node_id)
        if done.is_failure:
            raise TaskRunError(workflow_name, done.error_message or "child task failed")
        payload = json.loads(done.payload) if done.payload else {}
        return payload if isinstance(payload, dict) else {}


def _expr_timedelta(expr: str) -> timedelta:
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    return timedelta(seconds=int(expr[:-1]) * units[expr[-1]])


async def run_children(workflow: Any, ctx: DurableOps, items: Sequence[tuple[Any, Any]], wait_for_result: bool,
                       return_exceptions: bool = False) -> list[Any]:
    """``workflow.aio_run``/``aio_run_many`` inside a durable task, as the official SDK does it there:
    the children are spawned through the task's event log, so a task that starts over finds them
    instead of spawning them again, and their results come from the log."""
    import asyncio

    requests = [build_trigger(workflow.name, input, options, workflow.default_additional_metadata)
                for input, options in items]
    with _tracing.current().spawn(requests, [options for _, options in items]):
        entries = await ctx._spawn(requests)
    if not wait_for_result:
        return [workflow._ref(WorkflowRunRef(workflow._client, e.workflow_run_external_id)) for e in entries]
    results = await asyncio.gather(*(ctx._child_result(e, workflow.name) for e in entries),
                                   return_exceptions=return_exceptions)
    return [r if isinstance(r, BaseException) else workflow._shape(_as_run_result(workflow, r)) for r in results]


def _as_run_result(workflow: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """The log holds a standalone child's output itself (a workflow's as ``{task: output}``); taken
    as the official SDK takes it: the task's key when present, else the whole payload."""
    task = getattr(workflow, "_task", None)
    if task is None:
        return payload
    return {task.name: payload.get(task.name) or payload or {}}
