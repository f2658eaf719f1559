"""Executes assignments in the worker process.

Each START_STEP_RUN becomes one asyncio task on the worker's loop: async task functions run on
the loop, sync ones on daemon threads (``_threads``: created lazily and reused, never one per
task; a thread whose cancelled task still runs is not reused, and that task's slot stays counted
busy until its function returns). The action bytes are parsed once here. Results and errors are queued
on the event sender, which batches them. A CANCEL_STEP_RUN marks the context cancelled and, after a
short grace period, cancels the asyncio task; nothing is reported for an engine-initiated cancel.
A START_BATCH (a batch task's members, handed over together) is one run too, keyed by its batch id,
that takes the task's slot once, as the engine counts it (``_batch_run`` maps the result to events).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import functools
import json
import logging
import time
from collections.abc import Coroutine, Mapping
from concurrent.futures import Future
from typing import Any

import grpc.aio

from hatchet_worker import _batch_run, _channel, _di, _events, _eviction, _serde, _streaming, _tracing, _worker_labels
from hatchet_worker._proto import dispatcher_pb2 as pb
from hatchet_worker._proto import v1_workflows_pb2
from hatchet_worker._stats import Stats
from hatchet_worker._threads import TaskThreads
from hatchet_worker.context import Context, DurableContext, current_context
from hatchet_worker.exceptions import NonRetryableException, OutputTooLargeError, RetryAfterException
from hatchet_worker.workflow import Task

log = logging.getLogger("hatchet_worker.runner")
CANCEL_GRACE_SECONDS = 1.0


@dataclasses.dataclass(slots=True)
class _Run:
    action: pb.AssignedAction
    task: Task[Any, Any]
    started: float
    ctx: Context | None = None
    future: asyncio.Task[None] | None = None
    cancelled: bool = False
    slot_released: bool = False
    thread: Future[Any] | None = None
    """The sync function's future while it runs on a thread."""


class Runner:
    """Runs tasks and implements the engine calls a :class:`Context` makes."""

    def __init__(self, tasks: Mapping[str, Task[Any, Any]], events: _events.EventSender, stats: Stats,
                 channel: grpc.aio.Channel, metadata: Any, threads: int, lifespan: Any = None,
                 labels: Mapping[str, str | int] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        self.lifespan = lifespan
        self.worker_id = ""
        self._tasks = dict(tasks)
        self._deps = {action: _di.plan(task.fn) for action, task in self._tasks.items()}
        self._events = events
        self._stats = stats
        self._md = metadata
        self._running: dict[tuple[str, int], _Run] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self._threads = TaskThreads()
        self._release = _channel.unary(channel, pb, "Dispatcher", "ReleaseSlot")
        self._refresh = _channel.unary(channel, pb, "Dispatcher", "RefreshTimeout")
        self._cancel_tasks = _channel.unary(channel, v1_workflows_pb2, "AdminService", "CancelTasks")
        self._durable_listener: Any = None
        self._evictor = _eviction.Evictor(lambda: self._stats.slot_capacity.get("durable", 0), self._request_eviction,
                                          self._stop_evicted)
        self._channel = channel
        self._streams = _streaming.StreamSender(channel, metadata)
        self.labels: dict[str, str | int] = dict(labels or {})
        """The worker's labels: declared, then changed by ``ctx.upsert_worker_labels``."""
        self._upsert_labels = _channel.unary(channel, pb, "Dispatcher", "UpsertWorkerLabels")
        self.draining_since: float | None = None
        """When the worker began to drain (monotonic); an assignment after it is logged."""
        self.accepting = True
        """False once the drain has ended: an assignment is then not started (``_start``)."""

    @property
    def in_flight(self) -> int:
        return len(self._running)

    # -- dispatch -----------------------------------------------------------------------------------
    def handle(self, raw: bytes) -> None:
        action = pb.AssignedAction.FromString(raw)
        kind = action.action_type
        if kind == pb.START_STEP_RUN:
            self._start(action)
        elif kind == pb.CANCEL_STEP_RUN:
            self._cancel(action)
        elif kind == pb.START_BATCH:
            self._start_batch(action)
        else:
            log.warning("ignoring unsupported action type %s for %s", kind, action.action_id)

    def _start(self, action: pb.AssignedAction) -> None:
        key = (action.task_run_external_id, action.retry_count)
        if key in self._running:
            return  # a duplicate delivery after a reconnect
        task = self._tasks.get(action.action_id)
        if task is None:
            self._events.put(_events.Event(_events.FAILED, action.task_run_external_id, action.retry_count,
                                           action.action_id,
                                           f"worker has no task registered for action {action.action_id}"))
            return
        if not self.accepting:
            # The process is about to exit: a task started now would be killed with it. Reporting
            # nothing leaves the task assigned here, and the engine reassigns it (without using one
            # of its retries) once this worker's heartbeats have stopped for 30 s.
            log.warning("task %s (run %s) assigned after the drain ended: not started; the engine "
                        "reassigns it", action.action_id, action.task_run_external_id)
            return
        if self.draining_since is not None:
            # The engine assigns work to a paused worker for a few seconds more (its scheduler's view
            # of workers is refreshed every 5 s): it runs here, and is cut if the drain ends first.
            log.warning("task %s (run %s) assigned %.1f s into the drain; it runs here", action.action_id,
                        action.task_run_external_id, time.monotonic() - self.draining_since)
        run = self._admit(action, task, key)
        self._events.put(_events.Event(_events.STARTED, action.task_run_external_id, action.retry_count,
                                       action.action_id))
        run.future = self.loop.create_task(self._execute(run, key))

    def _admit(self, action: pb.AssignedAction, task: Task[Any, Any], key: tuple[str, int]) -> _Run:
        run = _Run(action=action, task=task, started=time.perf_counter())
        self._running[key] = run
        self._idle.clear()
        stats = self._stats
        stats.slots_in_use[task.slot_type] = stats.slots_in_use.get(task.slot_type, 0) + task.slot_cost
        Stats.bump(stats.started, action.action_id)
        return run

    def _start_batch(self, action: pb.AssignedAction) -> None:
        key = ("batch:" + action.batchId, action.retry_count)
        if key in self._running:
            return  # a duplicate delivery after a reconnect
        try:
            inputs = _batch_run.member_inputs(action.action_payload)
        except ValueError as exc:  # nothing to report to: the members are unknown
            log.error("batch %s of %s has an unreadable payload: %s", action.batchId, action.action_id, exc)
            return
        task = self._tasks.get(action.action_id)
        if task is None or task.batch is None:
            why = ValueError(f"worker has no batch task registered for action {action.action_id}")
            for event in _batch_run.failure_events(action.action_id, action.retry_count, list(inputs), why):
                self._events.put(event)
            return
        if not inputs:
            log.error("batch %s of %s arrived without members", action.batchId, action.action_id)
            return
        run = self._admit(action, task, key)
        run.future = self.loop.create_task(self._execute_batch(run, key, inputs))

    def _cancel(self, action: pb.AssignedAction) -> None:
        run = self._running.get((action.task_run_external_id, action.retry_count))
        if run is None:
            rid = action.task_run_external_id
            run = next((r for (k, _), r in self._running.items() if k == rid), None)
        if run is None or run.cancelled:
            return
        with _tracing.current().task_cancel(action):
            self._cancel_run(run)

    def _cancel_run(self, run: _Run) -> None:
        run.cancelled = True
        if run.ctx is not None:
            run.ctx._mark_cancelled()
        future = run.future
        if future is not None and not future.done():
            self.loop.call_later(CANCEL_GRACE_SECONDS, future.cancel)

    # -- execution ------------------------------------------------------------------------------------
    async def _execute(self, run: _Run, key: tuple[str, int]) -> None:
        # The run's span (when instrumented) is current for the task's code: its triggers, pushes and
        # own spans are children of it.
        with _tracing.current().task_run(run.action, self.worker_id) as record_error:
            await self._attempt(run, key, record_error)

    async def _attempt(self, run: _Run, key: tuple[str, int], record_error: _tracing.ErrorRecorder) -> None:
        action, task = run.action, run.task
        outcome = "failed"
        try:
            payload = json.loads(action.action_payload) if action.action_payload else {}
            ctx = (DurableContext if task.is_durable else Context)(action, payload, self, task)
            run.ctx = ctx
            if isinstance(ctx, DurableContext):
                self._evictor.register(key, ctx.task_run_id, ctx.invocation_count, task.eviction_policy)
            if run.cancelled:
                ctx._mark_cancelled()
            token = current_context.set(ctx)
            try:
                value = task.workflow.parse_input(payload.get("input"))
                deps = self._deps.get(action.action_id)
                if not deps:
                    result = await self._call(run, task.fn, value, ctx)
                else:  # injected fresh for each attempt; context managers exit after the call
                    async with contextlib.AsyncExitStack() as exits:
                        injected = await _di.resolve(deps, value, ctx, exits)
                        result = await self._call(run, functools.partial(task.fn, **injected), value, ctx)
            finally:
                current_context.reset(token)
                await self._streams.settle(action.task_run_external_id)  # chunks first, then the result
            body = _serde.dump_output(result)
            size = len(body.encode())
            if size > self._events.payload_limit:
                # Fail this task at once and alone: the engine could never receive the output.
                raise OutputTooLargeError(_events.too_large_message("the task output", size,
                                                                    self._events.max_send))
        except asyncio.CancelledError:
            if not run.cancelled:
                raise
            outcome = "cancelled"
        except Exception as exc:
            if run.cancelled:
                outcome = "cancelled"
            else:
                record_error(exc)
                log.error("task %s (run %s, attempt %d) failed: %r", action.action_id,
                          action.task_run_external_id, action.retry_count + 1, exc)
                if isinstance(exc, RetryAfterException):
                    log.warning("task %s raised RetryAfterException(after=%s), which needs engine >= v0.111.0 "
                                "(this SDK targets v0.104.7 and does not send the delay): the engine handles the "
                                "failure with the task's retry policy (retries=%d) instead of the requested delay",
                                action.action_id, exc.after, task.retries)
                self._events.put(_events.Event(
                    _events.FAILED, action.task_run_external_id, action.retry_count, action.action_id,
                    _serde.format_error(exc, action.task_run_external_id),
                    should_not_retry=True if isinstance(exc, NonRetryableException) else None))
        else:
            if run.cancelled:
                outcome = "cancelled"
            else:
                outcome = "succeeded"
                self._events.put(_events.Event(_events.COMPLETED, action.task_run_external_id,
                                               action.retry_count, action.action_id, body, size=size))
        finally:
            self._finish(run, key, outcome)

    async def _execute_batch(self, run: _Run, key: tuple[str, int], inputs: dict[str, Any]) -> None:
        action, task = run.action, run.task
        outcome = "failed"
        try:
            # The batch's context has no run of its own (the engine sends no run ids with a batch).
            ctx = run.ctx = Context(action, {}, self, task)
            broadcast = bool(task.batch and task.batch.broadcast_output)
            outcome = await _batch_run.execute(
                action.action_id, action.batchId, action.retry_count, inputs, task.workflow.parse_input,
                lambda members: self._call(run, task.fn, members, ctx), broadcast, self._events.put,
                lambda: run.cancelled)
        except asyncio.CancelledError:
            if not run.cancelled:
                raise
            outcome = "cancelled"
        finally:
            self._finish(run, key, outcome)

    async def _call(self, run: _Run, fn: Any, value: Any, ctx: Context) -> Any:
        if run.task.is_async:
            return await fn(value, ctx)
        call = contextvars.copy_context().run
        run.thread = self._threads.submit(call, fn, value, ctx)
        return await asyncio.wrap_future(run.thread, loop=self.loop)

    def _finish(self, run: _Run, key: tuple[str, int], outcome: str) -> None:
        stats = self._stats
        if run.task.is_durable:
            self._evictor.unregister(key)
            if self._durable_listener is not None:
                self._durable_listener.forget(run.action.task_run_external_id)
        self._running.pop(key, None)
        if run.thread is not None and not run.thread.done():
            # Cancelled, but its sync function still runs: the thread and the slot stay busy until
            # it returns (the engine may assign a new task meanwhile; it gets a thread of its own).
            run.thread.add_done_callback(lambda _: self._later(self._free_slot, run))
        else:
            self._free_slot(run)
        action_id = run.action.action_id
        counters = {"succeeded": stats.succeeded, "failed": stats.failed, "cancelled": stats.cancelled}
        counter = counters[outcome]
        Stats.bump(counter, action_id)
        stats.observe(action_id, time.perf_counter() - run.started)
        if not self._running:
            self._idle.set()

    def _free_slot(self, run: _Run) -> None:
        if not run.slot_released:
            run.slot_released = True
            kind = run.task.slot_type
            in_use = self._stats.slots_in_use
            in_use[kind] = max(0, in_use.get(kind, 0) - run.task.slot_cost)

    def _later(self, fn: Any, *args: Any) -> None:
        """Call ``fn`` on the loop from any thread (a no-op once the loop is closed)."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(fn, *args)

    @property
    def busy_threads(self) -> int:
        return self._threads.busy

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no task runs; False when ``timeout`` passed first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def cancel_all(self, timeout: float = 5.0) -> None:
        """Cancel every remaining run (drain timeout); nothing is reported, the engine reassigns them."""
        futures = [r.future for r in self._running.values() if r.future is not None]
        for run in list(self._running.values()):
            run.cancelled = True
            if run.ctx is not None:
                run.ctx._mark_cancelled()
        for fut in futures:
            fut.cancel()
        if futures:
            await asyncio.wait(futures, timeout=max(0.1, timeout))

    def close(self) -> None:
        self._threads.shutdown()

    # -- TaskRuntime --------------------------------------------------------------------------------------
    def _run_of(self, ctx: Context) -> _Run | None:
        return self._running.get((ctx.task_run_id, ctx.retry_count))

    async def release_slot(self, ctx: Context) -> None:
        run = self._run_of(ctx)
        if run is not None:
            self._free_slot(run)
        await self._release(pb.ReleaseSlotRequest(task_run_external_id=ctx.task_run_id), timeout=30.0,
                            metadata=self._md)

    async def refresh_timeout(self, ctx: Context, increment: str) -> None:
        await self._refresh(pb.RefreshTimeoutRequest(task_run_external_id=ctx.task_run_id,
                                                     increment_timeout_by=increment),
                            timeout=30.0, metadata=self._md)

    async def cancel_run(self, ctx: Context) -> None:
        await self._cancel_tasks(v1_workflows_pb2.CancelTasksRequest(external_ids=[ctx.task_run_id]),
                                 timeout=30.0, metadata=self._md)

    def put_stream(self, ctx: Context, data: bytes, index: int) -> Coroutine[Any, Any, None]:
        return self._streams.send(ctx.task_run_id, data, index)

    def upsert_worker_labels(self, ctx: Context, labels: dict[str, str | int]) -> Coroutine[Any, Any, None]:
        self.labels.update(labels)  # this worker's view changes at the call, as the caller expects
        return self._send_labels(_worker_labels.upsert_request(self.worker_id, labels))

    async def _send_labels(self, request: pb.UpsertWorkerLabelsRequest) -> None:
        await self._upsert_labels(request, timeout=30.0, metadata=self._md)

    def log(self, ctx: Context, message: str, level: str) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self._events.log, ctx.task_run_id, message, level, ctx.retry_count)

    def durable_stream(self) -> Any:
        """The worker's durable-task stream (``_durable``), opened on first use."""
        from hatchet_worker import _durable

        if self._durable_listener is None:
            self._durable_listener = _durable.DurableStream(self._channel, self._md, lambda: self.worker_id,
                                                            self._server_evicted)
        return self._durable_listener

    def _server_evicted(self, task_run_id: str, invocation: int) -> None:
        """The engine runs this durable task elsewhere now: stop our copy, reporting nothing."""
        for run in list(self._running.values()):
            ctx = run.ctx
            if (run.action.task_run_external_id == task_run_id and isinstance(ctx, DurableContext)
                    and ctx.invocation_count <= invocation and not run.cancelled):
                run.cancelled = True
                ctx._mark_cancelled()
                if run.future is not None and not run.future.done():
                    run.future.cancel()

    def durable_waiting(self, ctx: Context, on: str) -> Any:
        """Marks a durable task as waiting (evictable, see ``_eviction``) for the ``async with`` block."""
        return self._evictor.waiting((ctx.task_run_id, ctx.retry_count), on)

    async def _request_eviction(self, run: _eviction.Waiting, reason: str) -> None:
        await self.durable_stream().evict(run.task_run_id, run.invocation, reason)

    def _stop_evicted(self, key: Any) -> None:
        run = self._running.get(key)
        if run is not None and not run.cancelled:
            run.cancelled = True  # reported as nothing: the engine starts the task again later
            if run.ctx is not None:
                run.ctx._mark_cancelled()
            if run.future is not None and not run.future.done():
                run.future.cancel()

    async def evict_waiting(self) -> int:
        """At shutdown: evict the waiting durable tasks, so the drain does not wait for them."""
        return await self._evictor.evict_all_waiting()

    async def aclose(self, timeout: float = 2.0) -> None:
        if self._durable_listener is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._durable_listener.close(), timeout)
        self.close()
