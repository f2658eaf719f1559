"""The client side: trigger workflow runs, wait for or fetch their results, cancel them, push events.

Triggering uses ``WorkflowService/TriggerWorkflow``; results are read with
``v1.AdminService/GetRunDetails``, polled with a short, growing interval (20 ms up to 1 s) so a
fast run is seen quickly without hammering the engine while a slow one runs. A run triggered from
inside a task becomes a child of that task's run.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from pydantic import BaseModel

from hatchet_worker import _channel, _idempotency, _retry, _run_details, _serde, _tracing
from hatchet_worker._label_wire import desired_label_proto
from hatchet_worker._proto import events_pb2, v1_trigger_pb2, v1_workflows_pb2, workflows_pb2
from hatchet_worker._run_details import WorkflowRunDetail
from hatchet_worker._run_refs import TaskRunRef as TaskRunRef
from hatchet_worker._run_refs import TriggerWorkflowOptions as TriggerWorkflowOptions
from hatchet_worker._run_refs import WorkflowRunRef as WorkflowRunRef
from hatchet_worker._run_refs import _warn_once
from hatchet_worker._run_refs import _warned as _warned  # tests forget a warning through runs._warned
from hatchet_worker._run_refs import merge_options as merge_options
from hatchet_worker._runs_paged import RunsPagedMixin
from hatchet_worker._streaming import StreamSubscriber
from hatchet_worker._task_scope import current_context
from hatchet_worker.exceptions import DedupeViolationError, FailedTaskRunExceptionGroup, TaskRunError, unsupported

if TYPE_CHECKING:
    from hatchet_worker.client import Hatchet
    from hatchet_worker.workflow import Workflow

Meta = Mapping[str, Any] | None
R = TypeVar("R")
_DONE = {v1_workflows_pb2.COMPLETED, v1_workflows_pb2.FAILED, v1_workflows_pb2.CANCELLED}
_POLL_START, _POLL_MAX = 0.02, 1.0


def _dump_input(value: Any) -> str:
    if value is None:
        return "{}"
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return json.dumps(value, default=_serde._default)


def build_trigger(workflow_name: str, input: Any, options: TriggerWorkflowOptions | None,
                  default_metadata: Meta = None) -> v1_trigger_pb2.TriggerWorkflowRequest:
    """The TriggerWorkflow request; inside a task the run becomes a child of the current task run."""
    opts = options or TriggerWorkflowOptions()
    if opts.namespace is not None:
        unsupported("TriggerWorkflowOptions.namespace", opts.namespace,
                    "set the namespace on ClientConfig (the official SDK deprecates this option too)")
    if opts.key is not None:
        _warn_once("key", "TriggerWorkflowOptions.key has no effect: the engine's trigger request has no "
                          "such field (the official SDK does not send it either); use child_key to "
                          "deduplicate child runs")
    req = v1_trigger_pb2.TriggerWorkflowRequest(name=workflow_name, input=_dump_input(input))
    meta = {**(default_metadata or {}), **opts.additional_metadata}
    ctx = current_context.get()
    parent_id = opts.parent_id or (ctx.workflow_run_id if ctx is not None else None)
    parent_task = opts.parent_step_run_id or (ctx.task_run_id if ctx is not None else None)
    if parent_id is not None:
        req.parent_id = parent_id
    if parent_task is not None:
        req.parent_task_run_external_id = parent_task
    if opts.child_index is not None:
        req.child_index = opts.child_index
    elif ctx is not None:
        req.child_index = ctx._next_child_index()
    if opts.child_key is not None:
        req.child_key = opts.child_key
    desired_worker_id = opts.desired_worker_id
    if opts.sticky and desired_worker_id is None:
        if ctx is None:
            _warn_once("sticky", "sticky=True outside a task has no effect: there is no current worker "
                                 "to stick to (the official SDK ignores it there too)")
        else:
            desired_worker_id = ctx.worker_id
    if meta:
        req.additional_metadata = json.dumps(meta, default=str)
    if opts.priority is not None:
        req.priority = opts.priority
    if desired_worker_id is not None:
        req.desired_worker_id = desired_worker_id
    for key, label in opts.labels().items():
        req.desired_worker_labels[key].CopyFrom(desired_label_proto(label))
    return req


def interpret_details(run_id: str, details: v1_workflows_pb2.GetRunDetailsResponse) -> dict[str, Any] | None:
    """``{task_name: output}`` for a finished run, None while it runs.

    Raises:
        FailedTaskRunExceptionGroup: the run FAILED or was CANCELLED.
    """
    if details.status not in _DONE or not details.done:
        return None
    if details.status == v1_workflows_pb2.COMPLETED:
        out: dict[str, Any] = {}
        for name, task in details.task_runs.items():
            out[name] = json.loads(task.output) if task.HasField("output") and task.output else None
        return out
    errors = [TaskRunError(name, _serde.error_text(task.error) if task.HasField("error") else
                           v1_workflows_pb2.RunStatus.Name(task.status), task.external_id)
              for name, task in details.task_runs.items()
              if task.status in (v1_workflows_pb2.FAILED, v1_workflows_pb2.CANCELLED)]
    status = v1_workflows_pb2.RunStatus.Name(details.status)
    raise FailedTaskRunExceptionGroup(f"workflow run {run_id} {status}", errors)


class RunsClient(RunsPagedMixin, StreamSubscriber):
    def __init__(self, client: Hatchet) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._sync: dict[str, Any] = {}
        self._aio: dict[int, tuple[asyncio.AbstractEventLoop, dict[str, Any]]] = {}
        self._listeners: dict[int, tuple[asyncio.AbstractEventLoop, Any]] = {}

    def _md(self) -> Any:
        return _channel.auth_metadata(self._client.config.token)

    def _calls(self) -> dict[str, Any]:
        with self._lock:
            if not self._sync:
                ch = _channel.sync_channel(self._client.config.listener_settings())
                self._sync = _make_calls(ch)
            return self._sync

    def _aio_calls(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        entry = self._aio.get(id(loop))
        if entry is None or entry[0] is not loop:
            ch = _channel.aio_channel(self._client.config.listener_settings())
            entry = (loop, _make_calls(ch))
            self._aio[id(loop)] = entry
        return entry[1]

    def _retrying(self, name: str, call: Callable[[], R]) -> R:
        """A client gRPC call, retried per ``ClientConfig.tenacity`` as the official SDK retries it."""
        return _retry.call(call, self._client.config.tenacity, name=name)

    async def _aio_retrying(self, name: str, call: Callable[[], Any]) -> Any:
        return await _retry.aio_call(call, self._client.config.tenacity, name=name)

    # -- trigger -------------------------------------------------------------------------------------
    def trigger(self, workflow: Workflow[Any], input: Any,
                options: TriggerWorkflowOptions | None) -> WorkflowRunRef:
        req = build_trigger(workflow.name, input, options, workflow.default_additional_metadata)
        try:
            with _tracing.current().trigger(req, options):
                resp = self._retrying("TriggerWorkflow", lambda: self._calls()["trigger"](
                    req, timeout=30.0, metadata=self._md()))
        except Exception as exc:
            _raise_collision(exc, single=True)
        return WorkflowRunRef(self._client, resp.workflow_run_id)

    async def aio_trigger(self, workflow: Workflow[Any], input: Any,
                          options: TriggerWorkflowOptions | None) -> WorkflowRunRef:
        req = build_trigger(workflow.name, input, options, workflow.default_additional_metadata)
        try:
            with _tracing.current().trigger(req, options):
                resp = await self._aio_retrying("TriggerWorkflow", lambda: self._aio_calls()["trigger"](
                    req, timeout=30.0, metadata=self._md()))
        except Exception as exc:
            _raise_collision(exc, single=True)
        return WorkflowRunRef(self._client, resp.workflow_run_id)

    def _bulk_requests(self, workflow: Workflow[Any], items: Sequence[Any]) -> list[Any]:
        return [build_trigger(workflow.name, item.input, item.options, workflow.default_additional_metadata)
                for item in items]

    def bulk_trigger(self, workflow: Workflow[Any], items: Sequence[Any]) -> list[WorkflowRunRef]:
        """Trigger many runs with ``WorkflowService/BulkTriggerWorkflow`` (chunks of 500)."""
        reqs = self._bulk_requests(workflow, items)
        with _tracing.current().trigger_many(reqs, [item.options for item in items]):
            return self._bulk_send(reqs)

    def _bulk_send(self, reqs: list[Any]) -> list[WorkflowRunRef]:
        refs: list[WorkflowRunRef] = []
        for i in range(0, len(reqs), 500):
            resp = self._bulk_chunk(workflows_pb2.BulkTriggerWorkflowRequest(workflows=reqs[i:i + 500]))
            refs += [WorkflowRunRef(self._client, rid) for rid in resp.workflow_run_ids]
        return refs

    def _bulk_chunk(self, req: workflows_pb2.BulkTriggerWorkflowRequest) -> Any:
        try:
            return self._retrying("BulkTriggerWorkflow", lambda: self._calls()["bulk"](
                req, timeout=60.0, metadata=self._md()))
        except Exception as exc:
            _raise_collision(exc, single=False)

    async def aio_bulk_trigger(self, workflow: Workflow[Any], items: Sequence[Any]) -> list[WorkflowRunRef]:
        reqs = self._bulk_requests(workflow, items)
        with _tracing.current().trigger_many(reqs, [item.options for item in items]):
            return await self._aio_bulk_send(reqs)

    async def _aio_bulk_send(self, reqs: list[Any]) -> list[WorkflowRunRef]:
        refs: list[WorkflowRunRef] = []
        for i in range(0, len(reqs), 500):
            resp = await self._aio_bulk_chunk(workflows_pb2.BulkTriggerWorkflowRequest(workflows=reqs[i:i + 500]))
            refs += [WorkflowRunRef(self._client, rid) for rid in resp.workflow_run_ids]
        return refs

    async def _aio_bulk_chunk(self, req: workflows_pb2.BulkTriggerWorkflowRequest) -> Any:
        try:
            return await self._aio_retrying("BulkTriggerWorkflow", lambda: self._aio_calls()["bulk"](
                req, timeout=60.0, metadata=self._md()))
        except Exception as exc:
            _raise_collision(exc, single=False)

    # -- results -------------------------------------------------------------------------------------
    def _details_proto(self, external_id: str) -> v1_workflows_pb2.GetRunDetailsResponse:
        req = v1_workflows_pb2.GetRunDetailsRequest(external_id=external_id)
        return self._calls()["details"](req, timeout=30.0, metadata=self._md())

    async def _aio_details_proto(self, external_id: str) -> v1_workflows_pb2.GetRunDetailsResponse:
        req = v1_workflows_pb2.GetRunDetailsRequest(external_id=external_id)
        return await self._aio_calls()["details"](req, timeout=30.0, metadata=self._md())

    def get_details(self, external_id: str) -> WorkflowRunDetail:
        """The run's status, input, metadata and each task's output or error (the official
        ``WorkflowRunDetail``); retried per ``ClientConfig.tenacity`` with ``retry_not_found`` on, as
        there: a run the engine does not know yet is asked for again (by default 5 calls, about 15 s)."""
        policy = self._client.config.tenacity.model_copy(update={"retry_not_found": True})
        return _run_details.from_proto(external_id, _retry.call(lambda: self._details_proto(external_id), policy,
                                                                name="GetRunDetails"))

    async def aio_get_details(self, external_id: str) -> WorkflowRunDetail:
        return await asyncio.to_thread(self.get_details, external_id)

    def get_run_ref(self, workflow_run_id: str) -> WorkflowRunRef:
        return WorkflowRunRef(self._client, workflow_run_id)

    def wait(self, run_id: str, timeout: float | None = None) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = _POLL_START
        while True:
            found = _not_found_is_none(lambda: self._details_proto(run_id))
            result = interpret_details(run_id, found) if found is not None else None
            if result is not None:
                return result
            if deadline is not None and time.monotonic() + delay > deadline:
                raise TimeoutError(f"workflow run {run_id} did not finish within {timeout} s")
            time.sleep(delay)
            delay = min(delay * 1.5, _POLL_MAX)

    async def aio_wait(self, run_id: str, timeout: float | None = None) -> dict[str, Any]:
        """Wait on the shared run subscription stream (no polling)."""
        from hatchet_worker._run_listener import RunListener, interpret_event

        loop = asyncio.get_running_loop()
        listener = self._listeners.get(id(loop))
        if listener is None or listener[0] is not loop:
            ch = _channel.aio_channel(self._client.config.listener_settings())
            listener = self._listeners[id(loop)] = (loop, RunListener(ch, self._md()))
        # Subscribe first, then look once: a run that already finished is answered by that look
        # (the engine only re-sends finished runs to a new subscription on its ~1 s re-check), and a
        # run finishing in between is still caught by the subscription.
        waiting = asyncio.ensure_future(listener[1].wait(run_id))
        try:
            await asyncio.sleep(0)  # let the waiter register the run id on the stream
            found = await _aio_not_found_is_none(self._aio_details_proto(run_id))
            done = interpret_details(run_id, found) if found is not None else None
            if done is not None:
                return done
            event = await asyncio.wait_for(asyncio.shield(waiting), timeout)
        except TimeoutError:
            raise TimeoutError(f"workflow run {run_id} did not finish within {timeout} s") from None
        finally:
            waiting.cancel()
        return interpret_event(event)

    # -- cancel --------------------------------------------------------------------------------------
    def cancel(self, run_id: str) -> None:
        """Cancel a workflow run (or a task run) by external id; the engine cancels asynchronously."""
        req = v1_workflows_pb2.CancelTasksRequest(external_ids=[run_id])
        self._calls()["cancel"](req, timeout=30.0, metadata=self._md())

    async def aio_cancel(self, run_id: str) -> None:
        req = v1_workflows_pb2.CancelTasksRequest(external_ids=[run_id])
        await self._aio_calls()["cancel"](req, timeout=30.0, metadata=self._md())


def _make_calls(ch: Any) -> dict[str, Any]:
    return {
        "trigger": _channel.unary(ch, workflows_pb2, "WorkflowService", "TriggerWorkflow"),
        "bulk": _channel.unary(ch, workflows_pb2, "WorkflowService", "BulkTriggerWorkflow"),
        "schedule": _channel.unary(ch, workflows_pb2, "WorkflowService", "ScheduleWorkflow"),
        "put_rate_limit": _channel.unary(ch, workflows_pb2, "WorkflowService", "PutRateLimit"),
        "details": _channel.unary(ch, v1_workflows_pb2, "AdminService", "GetRunDetails"),
        "cancel": _channel.unary(ch, v1_workflows_pb2, "AdminService", "CancelTasks"),
        "push": _channel.unary(ch, events_pb2, "EventsService", "Push"),
        "bulk_push": _channel.unary(ch, events_pb2, "EventsService", "BulkPush"),
    }


def _raise_collision(exc: Exception, *, single: bool) -> NoReturn:
    """Re-raise a trigger's error as the official SDK does: an idempotency key collision as its
    collision error; any other ``ALREADY_EXISTS`` to a single trigger as ``DedupeViolationError``
    (a bulk trigger re-raises it as it came)."""
    found = _idempotency.collision(exc)
    if found is not None:
        raise found from exc
    if single and _idempotency.refused_as_duplicate(exc):
        raise DedupeViolationError(exc.details()) from exc  # type: ignore[attr-defined]
    raise exc


def _is_not_found(exc: BaseException) -> bool:
    import grpc

    return isinstance(exc, grpc.RpcError) and exc.code() == grpc.StatusCode.NOT_FOUND


def _not_found_is_none(fetch: Any) -> Any:
    try:
        return fetch()
    except Exception as exc:
        if _is_not_found(exc):
            return None
        raise


async def _aio_not_found_is_none(call: Any) -> Any:
    try:
        return await call
    except Exception as exc:
        if _is_not_found(exc):
            return None
        raise
