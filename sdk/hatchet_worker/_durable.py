"""The worker's durable-task stream (``V1Dispatcher/DurableTask``): durable waits, memos and spawns.

The engine keeps an event log per durable task: each wait (``wait_for``), memo or spawn (``trigger_runs``)
the task makes becomes an entry, numbered in the order the task makes them. The engine acknowledges a
request with the entry's (branch, node) and later sends ``entry_completed`` for it once it is
satisfied (the sleep elapsed, a matching event arrived, the child finished). A task that starts
again (another worker, after its worker died) makes the same requests in the same order and gets
the entries already recorded: satisfied ones complete at once, spawned children are not spawned
again. This is the path the engine honours an event wait's scope and lookback window on; its older
``RegisterDurableEvent`` call ignores both.

One stream per worker, opened on the first durable call. Requests of one task run are sent one at a
time (the engine's acks name only the task and its invocation). The stream is re-opened after errors;
requests still waiting for their ack fail then, while waits already acknowledged keep waiting: the
worker re-announces them (``worker_status``) on the new stream and every few seconds, and the engine
answers with those already satisfied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc.aio

from hatchet_worker import _channel
from hatchet_worker._proto import v1_dispatcher_pb2 as pb
from hatchet_worker.exceptions import NonDeterminismError

log = logging.getLogger("hatchet_worker.durable")
RECONNECT_SECONDS = 1.0
STATUS_SECONDS = 5.0
"""How often waits still pending are re-announced, so a completion the stream missed is re-sent."""
ACK_TIMEOUT_SECONDS = 60.0

Entry = tuple[str, int, int, int]
"""(task run external id, invocation count, branch id, node id) of an event-log entry."""


class EvictedError(Exception):
    """The engine told this worker that the task's invocation is stale (it runs elsewhere now)."""


class DurableStream:
    def __init__(self, channel: grpc.aio.Channel, metadata: Any, worker_id: Callable[[], str],
                 on_server_evict: Callable[[str, int], None]) -> None:
        self._call = _channel.stream_stream(channel, pb, "V1Dispatcher", "DurableTask")
        self._md = metadata
        self._worker_id = worker_id
        self._on_server_evict = on_server_evict
        self._outbox: asyncio.Queue[Any] = asyncio.Queue()
        self._acks: dict[tuple[str, int], asyncio.Future[Any]] = {}
        self._waiters: dict[Entry, asyncio.Future[Any]] = {}
        self._completed: dict[Entry, Any] = {}  # completions that arrived before their waiter
        self._locks: dict[tuple[str, int], asyncio.Lock] = {}
        self._pump: asyncio.Task[None] | None = None
        self._status: asyncio.Task[None] | None = None

    # -- requests ----------------------------------------------------------------------------------
    async def wait_for(self, task_id: str, invocation: int, conditions: Any, label: str | None) -> Any:
        """Record a wait; returns its entry's reference (wait with :meth:`result`)."""
        request = pb.DurableTaskWaitForRequest(durable_task_external_id=task_id, invocation_count=invocation,
                                               wait_for_conditions=conditions)
        if label is not None:
            request.label = label
        ack = await self._request(task_id, invocation, pb.DurableTaskRequest(wait_for=request))
        return ack.wait_for_ack.ref

    async def memo(self, task_id: str, invocation: int, key: bytes) -> Any:
        """Look a memo up (recording it when new); returns the ``memo_ack`` message."""
        request = pb.DurableTaskMemoRequest(durable_task_external_id=task_id, invocation_count=invocation, key=key)
        ack = await self._request(task_id, invocation, pb.DurableTaskRequest(memo=request))
        # The engine also sends a completion for a memo entry; nobody waits for it.
        self._completed.pop(_entry(ack.memo_ack.ref), None)
        return ack.memo_ack

    def complete_memo(self, ref: Any, key: bytes, payload: bytes) -> None:
        self._ensure_started()
        self._outbox.put_nowait(pb.DurableTaskRequest(complete_memo=pb.DurableTaskCompleteMemoRequest(
            ref=ref, memo_key=key, payload=payload)))

    async def trigger_runs(self, task_id: str, invocation: int, requests: list[Any]) -> list[Any]:
        """Spawn children (recorded; not spawned again when the task starts again); their run entries."""
        entries: list[Any] = []
        for start in range(0, len(requests), 100):  # the official SDK's chunk size
            ack = await self._request(task_id, invocation, pb.DurableTaskRequest(
                trigger_runs=pb.DurableTaskTriggerRunsRequest(durable_task_external_id=task_id,
                                                              invocation_count=invocation,
                                                              trigger_opts=requests[start:start + 100])))
            entries.extend(ack.trigger_runs_ack.run_entries)
        return entries

    async def evict(self, task_id: str, invocation: int, reason: str) -> None:
        """Tell the engine this invocation gives its slot back (see ``_eviction``); waits for the ack."""
        request = pb.DurableTaskEvictInvocationRequest(durable_task_external_id=task_id, invocation_count=invocation,
                                                       reason=reason)
        await self._request(task_id, invocation, pb.DurableTaskRequest(evict_invocation=request), 30.0)

    async def result(self, task_id: str, invocation: int, branch_id: int, node_id: int) -> Any:
        """The ``entry_completed`` message of an entry, waiting for it."""
        key = (task_id, invocation, branch_id, node_id)
        if key in self._completed:
            return self._completed.pop(key)
        future = self._waiters.get(key)
        if future is None:
            future = self._waiters[key] = asyncio.get_running_loop().create_future()
            self._announce([key])
        try:
            return await asyncio.shield(future)
        finally:
            if future.done() or future.cancelled():
                self._waiters.pop(key, None)

    def forget(self, task_id: str) -> None:
        """Drop what is kept for a task run that ended."""
        for store in (self._waiters, self._completed):
            for key in [k for k in store if k[0] == task_id]:
                value = store.pop(key)
                if isinstance(value, asyncio.Future) and not value.done():
                    value.cancel()
        for lock_key in [k for k in self._locks if k[0] == task_id]:
            self._locks.pop(lock_key, None)

    async def _request(self, task_id: str, invocation: int, request: Any,
                       timeout: float = ACK_TIMEOUT_SECONDS) -> Any:
        self._ensure_started()
        key = (task_id, invocation)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._acks[key] = future
            self._outbox.put_nowait(request)
            try:
                return await asyncio.wait_for(asyncio.shield(future), timeout)
            finally:
                if self._acks.get(key) is future:
                    del self._acks[key]

    def _announce(self, keys: list[Entry]) -> None:
        if not keys:
            return
        self._outbox.put_nowait(pb.DurableTaskRequest(worker_status=pb.DurableTaskWorkerStatusRequest(
            worker_id=self._worker_id(), waiting_entries=[
                pb.DurableTaskAwaitedCompletedEntry(durable_task_external_id=t, invocation_count=i,
                                                    branch_id=b, node_id=n) for t, i, b, n in keys])))

    # -- the stream --------------------------------------------------------------------------------
    def _ensure_started(self) -> None:
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._run(), name="hatchet-durable-stream")
        if self._status is None or self._status.done():
            self._status = asyncio.create_task(self._reannounce(), name="hatchet-durable-status")

    async def _requests(self) -> AsyncIterator[Any]:
        yield pb.DurableTaskRequest(register_worker=pb.DurableTaskRequestRegisterWorker(worker_id=self._worker_id()))
        waiting = list(self._waiters)
        if waiting:
            self._announce(waiting)
        while True:
            yield await self._outbox.get()

    async def _run(self) -> None:
        while True:
            call = self._call(self._requests(), metadata=self._md)
            try:
                async for response in call:
                    self._dispatch(response)
            except grpc.aio.AioRpcError as exc:
                log.warning("durable task stream failed (%s); reopening", exc.code().name)
            # An ack the engine had not sent yet is lost with the stream: fail those requests.
            for future in self._acks.values():
                if not future.done():
                    future.set_exception(ConnectionError("the durable task stream broke before the engine "
                                                         "acknowledged the request"))
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _reannounce(self) -> None:
        while True:
            await asyncio.sleep(STATUS_SECONDS)
            self._announce(list(self._waiters))

    def _dispatch(self, response: Any) -> None:
        kind = response.WhichOneof("message")
        if kind in ("wait_for_ack", "memo_ack"):
            ref = getattr(response, kind).ref
            self._ack((ref.durable_task_external_id, ref.invocation_count), response)
        elif kind in ("trigger_runs_ack", "eviction_ack"):
            ack = getattr(response, kind)
            self._ack((ack.durable_task_external_id, ack.invocation_count), response)
        elif kind == "entry_completed":
            key = _entry(response.entry_completed.ref)
            future = self._waiters.pop(key, None)
            if future is not None and not future.done():
                future.set_result(response.entry_completed)
            elif future is None and key[0] in {k[0] for k in self._locks}:  # its waiter may come next
                self._completed[key] = response.entry_completed
        elif kind == "server_evict":
            notice = response.server_evict
            log.info("engine evicted task %s invocation %d: %s", notice.durable_task_external_id,
                     notice.invocation_count, notice.reason)
            self._fail(notice.durable_task_external_id, notice.invocation_count, None, EvictedError(notice.reason))
            self._on_server_evict(notice.durable_task_external_id, notice.invocation_count)
        elif kind == "error":
            error, ref = response.error, response.error.ref
            exc: Exception
            if error.error_type == pb.DURABLE_TASK_ERROR_TYPE_NONDETERMINISM:
                exc = NonDeterminismError(ref.durable_task_external_id, ref.invocation_count, error.error_message,
                                          ref.node_id)
            else:
                exc = RuntimeError(f"durable task error: {error.error_message}")
            self._fail(ref.durable_task_external_id, ref.invocation_count, _entry(ref), exc)

    def _ack(self, key: tuple[str, int], response: Any) -> None:
        future = self._acks.get(key)
        if future is not None and not future.done():
            future.set_result(response)

    def _fail(self, task_id: str, invocation: int, entry: Entry | None, exc: Exception) -> None:
        """Fail the pending request of an invocation and its wait on ``entry`` (every wait of this
        and older invocations when ``entry`` is None)."""
        futures = [f for k, f in self._acks.items() if k == (task_id, invocation)]
        futures += [f for k, f in self._waiters.items()
                    if (k == entry if entry is not None else (k[0] == task_id and k[1] <= invocation))]
        for future in futures:
            if not future.done():
                future.set_exception(exc)

    async def close(self) -> None:
        for task in (self._pump, self._status):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def _entry(ref: Any) -> Entry:
    return (ref.durable_task_external_id, ref.invocation_count, ref.branch_id, ref.node_id)
