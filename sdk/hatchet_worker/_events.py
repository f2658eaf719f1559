"""Reporting task lifecycle events (STARTED, COMPLETED, FAILED) and log lines to the engine.

Events queue up while a send is in flight and go out together in one ``SendBatchActionEvent``
call per event type: under load many tasks share one round trip, at idle a lone event goes out at
once (no timer, no added latency). Order per task is kept: each cycle sends its STARTED batch
before its COMPLETED/FAILED batches, and cycles never overlap. Engines without the batch call
(UNIMPLEMENTED) get one ``SendStepActionEvent`` per event instead.

A failed send is retried with capped backoff for ``retry_window`` seconds (an engine restart must
not lose a result); a batch the engine rejects outright is split so one bad item cannot sink the
others.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

import grpc
import grpc.aio

from hatchet_worker import _channel
from hatchet_worker._proto import dispatcher_pb2 as pb
from hatchet_worker._proto import events_pb2

log = logging.getLogger("hatchet_worker.events")

STARTED = pb.STEP_EVENT_TYPE_STARTED
COMPLETED = pb.STEP_EVENT_TYPE_COMPLETED
FAILED = pb.STEP_EVENT_TYPE_FAILED
MAX_BATCH = 500
LOG_MESSAGE_LIMIT = 10_000
_RETRYABLE = frozenset({
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.CANCELLED,
})


@dataclasses.dataclass(slots=True)
class Event:
    kind: int
    task_run_external_id: str
    retry_count: int
    action_id: str
    payload: str = ""
    should_not_retry: bool | None = None


class EventSender:
    def __init__(self, channel: grpc.aio.Channel, metadata: Any, worker_id: Callable[[], str],
                 retry_window: float = 600.0) -> None:
        self._batch_call = _channel.unary(channel, pb, "Dispatcher", "SendBatchActionEvent")
        self._single_call = _channel.unary(channel, pb, "Dispatcher", "SendStepActionEvent")
        self._put_log = _channel.unary(channel, events_pb2, "EventsService", "PutLog")
        self._md = metadata
        self._worker_id = worker_id
        self._retry_window = retry_window
        self._pending: list[Event] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._use_batch = True
        self._task: asyncio.Task[None] | None = None
        self._logs: asyncio.Queue[events_pb2.PutLogRequest] = asyncio.Queue(maxsize=1000)
        self._log_task: asyncio.Task[None] | None = None
        self.sent = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="hatchet-events")
        self._log_task = asyncio.create_task(self._run_logs(), name="hatchet-logs")

    def put(self, event: Event) -> None:
        self._pending.append(event)
        self._idle.clear()
        self._wake.set()

    def log(self, task_run_external_id: str, message: str, level: str, retry_count: int) -> None:
        req = events_pb2.PutLogRequest(task_run_external_id=task_run_external_id,
                                       message=message[:LOG_MESSAGE_LIMIT], level=level,
                                       task_retry_count=retry_count, metadata="{}")
        req.created_at.GetCurrentTime()
        with contextlib.suppress(asyncio.QueueFull):
            self._logs.put_nowait(req)

    async def flush(self, timeout: float) -> bool:
        """Wait until every queued event was sent (or given up); False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        for task in (self._task, self._log_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # -- sending ----------------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                cycle, self._pending = self._pending, []
                try:
                    await self._send_cycle(cycle)
                except Exception:  # never let one bad cycle stop all later reporting
                    log.exception("could not report %d task event(s)", len(cycle))
            self._idle.set()

    async def _send_cycle(self, cycle: list[Event]) -> None:
        started = [e for e in cycle if e.kind == STARTED]
        finished = [e for e in cycle if e.kind != STARTED]
        if started:
            await self._send_kind(STARTED, started)
        if finished:
            await asyncio.gather(*(self._send_kind(kind, [e for e in finished if e.kind == kind])
                                   for kind in {e.kind for e in finished}))

    async def _send_kind(self, kind: int, events: list[Event]) -> None:
        for i in range(0, len(events), MAX_BATCH):
            chunk = events[i:i + MAX_BATCH]
            if self._use_batch:
                ok = await self._with_retry(functools.partial(self._send_batch, kind, chunk), len(chunk))
                if ok is None:  # batch call not available on this engine
                    self._use_batch = False
                elif ok:
                    continue
                elif len(chunk) > 1:
                    log.warning("engine rejected a batch of %d events; sending them one by one", len(chunk))
                else:
                    continue
            single = self._send_single
            await asyncio.gather(*(self._with_retry(functools.partial(single, e), 1) for e in chunk))

    async def _send_batch(self, kind: int, events: list[Event]) -> None:
        req = pb.BatchActionEvent(worker_id=self._worker_id(), event_type=kind)
        req.event_timestamp.GetCurrentTime()
        add = req.items.add
        for e in events:
            item = add(task_run_external_id=e.task_run_external_id, event_payload=e.payload,
                       retry_count=e.retry_count)
            if e.should_not_retry is not None:
                item.should_not_retry = e.should_not_retry
        await self._batch_call(req, timeout=30.0, metadata=self._md)
        self.sent += len(events)

    async def _send_single(self, e: Event) -> None:
        req = pb.StepActionEvent(worker_id=self._worker_id(), task_run_external_id=e.task_run_external_id,
                                 action_id=e.action_id, event_type=e.kind,
                                 event_payload=e.payload, retry_count=e.retry_count)
        if e.should_not_retry is not None:
            req.should_not_retry = e.should_not_retry
        req.event_timestamp.GetCurrentTime()
        await self._single_call(req, timeout=30.0, metadata=self._md)
        self.sent += 1

    async def _with_retry(self, send: Callable[[], Any], count: int) -> bool | None:
        """True when sent, False when rejected or out of time, None when the call is unimplemented."""
        deadline = time.monotonic() + self._retry_window
        delay = 0.2
        while True:
            try:
                await send()
                return True
            except grpc.aio.AioRpcError as exc:
                code = exc.code()
                if code == grpc.StatusCode.UNIMPLEMENTED:
                    return None
                if code not in _RETRYABLE:
                    log.error("engine rejected %d task event(s): %s: %s", count, code.name, exc.details())
                    return False
                if time.monotonic() + delay > deadline:
                    log.error("could not report %d task event(s) within %.0f s (%s); the engine will "
                              "time the tasks out", count, self._retry_window, code.name)
                    return False
                log.warning("reporting %d task event(s) failed (%s); retrying in %.1f s", count, code.name,
                            delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _run_logs(self) -> None:
        while True:
            req = await self._logs.get()
            try:
                await self._put_log(req, timeout=10.0, metadata=self._md)
            except grpc.aio.AioRpcError as exc:
                log.debug("could not ship a task log line: %s", exc.code().name)
