"""Reporting task lifecycle events (STARTED, COMPLETED, FAILED) and log lines to the engine.

Events queue up while a send is in flight and go out together in ``SendBatchActionEvent`` calls,
one event type per call: under load many tasks share one round trip, at idle a lone event goes out
at once (no timer, no added latency). Order per task is kept: each cycle sends its STARTED batches
before its COMPLETED/FAILED batches, and cycles never overlap. Engines without the batch call
(UNIMPLEMENTED) get one ``SendStepActionEvent`` per event instead.

Bounded and isolated, so one result never holds the others back:

* a batch is cut by encoded size as well as by count, below the gRPC message limit;
* a payload that cannot fit in one message is never sent: a COMPLETED event becomes a
  non-retryable FAILED event naming the size, the limit and the settings that raise it (the runner
  checks outputs before that, so this is a safety net), a FAILED event's text is truncated;
* only transport failures (the engine unreachable or restarting) are retried, for at most
  ``retry_window`` seconds; an engine error of unknown kind is retried a few times; any other
  rejection bisects the batch until the rejected item stands alone, and that item is reported in
  the log and dropped (a COMPLETED the engine refused as too large fails its task instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import functools
import logging
import time
from collections.abc import Callable, Sequence
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
ENVELOPE_RESERVE = 16 * 1024
"""Bytes of every message kept free for the envelope (worker id, timestamps, ids, field tags); a
payload may use the send limit minus this."""
ITEM_OVERHEAD = 128
"""Upper bound of an item's encoded size beyond its payload (run id, retry count, tags, lengths)."""
FLAKY_ATTEMPTS = 3
"""Attempts for an engine error of unknown kind (UNKNOWN, INTERNAL) before it counts as a rejection."""
SEND_TIMEOUT = 30.0


class Verdict(enum.Enum):
    RETRY = "retry"
    """Transport trouble: the engine is unreachable or restarting; retry within the window."""
    FLAKY = "flaky"
    """An engine-side error of unknown kind: retry a few times, then treat as a rejection."""
    REJECT = "reject"
    """The engine (or the local gRPC stack) refused this message; sending it again cannot help."""
    UNIMPLEMENTED = "unimplemented"


_TRANSPORT = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                        grpc.StatusCode.ABORTED, grpc.StatusCode.CANCELLED})
_FLAKY = frozenset({grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL})


def classify(code: grpc.StatusCode) -> Verdict:
    """What to do after a send failed with ``code`` (pure)."""
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return Verdict.UNIMPLEMENTED
    if code in _TRANSPORT:
        return Verdict.RETRY
    if code in _FLAKY:
        return Verdict.FLAKY
    return Verdict.REJECT  # RESOURCE_EXHAUSTED, INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED...


def payload_limit(max_send: int) -> int:
    """The largest payload (bytes, UTF-8) one event may carry under a send limit of ``max_send``."""
    return max(0, max_send - ENVELOPE_RESERVE)


def too_large_message(what: str, size: int, max_send: int) -> str:
    """The error a task gets when its output cannot be reported (names size, limit and the fix)."""
    return (f"{what} is {size:,} bytes, larger than the {payload_limit(max_send):,} bytes that fit in one "
            f"gRPC message (limit {max_send:,} bytes); raise HATCHET_CLIENT_GRPC_MAX_SEND_MESSAGE_LENGTH on "
            f"the worker and the engine's SERVER_GRPC_MAX_MSG_SIZE together, or return a reference to the "
            f"data (an object-store key, a row id) instead of the data itself")


def plan_chunks(sizes: Sequence[int], budget: int, max_count: int = MAX_BATCH) -> list[range]:
    """Cut items (in order) into consecutive chunks of at most ``max_count`` items whose sizes sum
    to at most ``budget``; an item larger than ``budget`` travels alone (pure)."""
    chunks: list[range] = []
    start, total = 0, 0
    for i, size in enumerate(sizes):
        if i > start and (i - start >= max_count or total + size > budget):
            chunks.append(range(start, i))
            start, total = i, 0
        total += size
    if start < len(sizes):
        chunks.append(range(start, len(sizes)))
    return chunks


@dataclasses.dataclass(slots=True)
class Event:
    kind: int
    task_run_external_id: str
    retry_count: int
    action_id: str
    payload: str = ""
    should_not_retry: bool | None = None
    size: int = -1
    """Encoded payload size in bytes; computed on ``put``."""

    def encoded_size(self) -> int:
        return self.size + len(self.task_run_external_id) + len(self.action_id) + ITEM_OVERHEAD


def fit(event: Event, max_send: int) -> Event:
    """``event`` made to fit in one message: an oversized output becomes a non-retryable failure,
    an oversized error text is truncated (pure)."""
    limit = payload_limit(max_send)
    if event.size <= limit:
        return event
    if event.kind == COMPLETED:
        text = too_large_message("the task output", event.size, max_send)
        return dataclasses.replace(event, kind=FAILED, payload=text, should_not_retry=True,
                                   size=len(text.encode()))
    keep = event.payload.encode()[:max(0, limit - 200)].decode(errors="ignore")
    text = f"{keep}\n[truncated: the error text was {event.size:,} bytes, over the message limit]"
    return dataclasses.replace(event, payload=text, size=len(text.encode()))


class EventSender:
    def __init__(self, channel: grpc.aio.Channel, metadata: Any, worker_id: Callable[[], str],
                 retry_window: float = 600.0, max_send: int = 4 * 1024 * 1024) -> None:
        self._batch_call = _channel.unary(channel, pb, "Dispatcher", "SendBatchActionEvent")
        self._single_call = _channel.unary(channel, pb, "Dispatcher", "SendStepActionEvent")
        self._put_log = _channel.unary(channel, events_pb2, "EventsService", "PutLog")
        self._md = metadata
        self._worker_id = worker_id
        self._retry_window = retry_window
        self.max_send = max_send
        self.payload_limit = payload_limit(max_send)
        self._pending: list[Event] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._use_batch = True
        self._task: asyncio.Task[None] | None = None
        self._logs: asyncio.Queue[events_pb2.PutLogRequest] = asyncio.Queue(maxsize=1000)
        self._log_task: asyncio.Task[None] | None = None
        self.sent = 0
        self.dropped = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="hatchet-events")
        self._log_task = asyncio.create_task(self._run_logs(), name="hatchet-logs")

    def put(self, event: Event) -> None:
        if event.size < 0:
            event.size = len(event.payload.encode())
        self._pending.append(fit(event, self.max_send))
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
            await asyncio.wait_for(self._idle.wait(), max(0.0, timeout))
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
        budget = self.max_send - ENVELOPE_RESERVE
        for chunk in plan_chunks([e.encoded_size() for e in events], budget):
            await self._deliver(kind, [events[i] for i in chunk])

    async def _deliver(self, kind: int, events: list[Event]) -> None:
        if self._use_batch:
            verdict, detail = await self._with_retry(functools.partial(self._send_batch, kind, events),
                                                     len(events))
            if verdict is None:
                return
            if verdict == Verdict.UNIMPLEMENTED:
                self._use_batch = False  # fall through to single calls
            elif len(events) > 1:
                # Bisect: a rejected item ends up alone in log2(n) rounds; the rest go through.
                half = len(events) // 2
                log.warning("engine rejected a batch of %d events (%s); splitting it", len(events), detail)
                await self._deliver(kind, events[:half])
                await self._deliver(kind, events[half:])
                return
            else:
                self._rejected(events[0], detail)
                return
        results = await asyncio.gather(*(self._with_retry(functools.partial(self._send_single, e), 1)
                                         for e in events))
        for e, (verdict, detail) in zip(events, results, strict=True):
            if verdict is not None:
                self._rejected(e, detail)

    def _rejected(self, event: Event, detail: str) -> None:
        """Report and drop one event the engine refused; a refused output fails its task."""
        self.dropped += 1
        log.error("engine refused the %s event of task run %s (attempt %d): %s; dropping it",
                  pb.StepActionEventType.Name(event.kind), event.task_run_external_id, event.retry_count + 1,
                  detail)
        if event.kind == COMPLETED and detail.startswith("RESOURCE_EXHAUSTED"):
            text = too_large_message("the task output", event.size, self.max_send) + \
                f" (the engine refused it: {detail})"
            self.put(Event(FAILED, event.task_run_external_id, event.retry_count, event.action_id, text,
                           should_not_retry=True))

    async def _send_batch(self, kind: int, events: list[Event]) -> None:
        req = pb.BatchActionEvent(worker_id=self._worker_id(), event_type=kind)
        req.event_timestamp.GetCurrentTime()
        add = req.items.add
        for e in events:
            item = add(task_run_external_id=e.task_run_external_id, event_payload=e.payload,
                       retry_count=e.retry_count)
            if e.should_not_retry is not None:
                item.should_not_retry = e.should_not_retry
        await self._batch_call(req, timeout=SEND_TIMEOUT, metadata=self._md)
        self.sent += len(events)

    async def _send_single(self, e: Event) -> None:
        req = pb.StepActionEvent(worker_id=self._worker_id(), task_run_external_id=e.task_run_external_id,
                                 action_id=e.action_id, event_type=e.kind,
                                 event_payload=e.payload, retry_count=e.retry_count)
        if e.should_not_retry is not None:
            req.should_not_retry = e.should_not_retry
        req.event_timestamp.GetCurrentTime()
        await self._single_call(req, timeout=SEND_TIMEOUT, metadata=self._md)
        self.sent += 1

    async def _with_retry(self, send: Callable[[], Any], count: int) -> tuple[Verdict | None, str]:
        """``(None, "")`` once sent; else the verdict that ended the attempts and the error."""
        deadline = time.monotonic() + self._retry_window
        delay = 0.2
        attempts = 0
        while True:
            attempts += 1
            try:
                await send()
                return None, ""
            except grpc.aio.AioRpcError as exc:
                code = exc.code()
                detail = f"{code.name}: {exc.details()}"
                verdict = classify(code)
                if verdict in (Verdict.UNIMPLEMENTED, Verdict.REJECT):
                    return verdict, detail
                if verdict == Verdict.FLAKY and attempts >= FLAKY_ATTEMPTS:
                    return Verdict.REJECT, detail
                if time.monotonic() + delay > deadline:
                    log.error("could not report %d task event(s) within %.0f s (%s); the engine will "
                              "time the tasks out", count, self._retry_window, code.name)
                    self.dropped += count
                    return None, ""  # out of time: nothing more to do for these events
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
