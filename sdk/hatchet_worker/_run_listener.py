"""Waiting for many runs at once over one ``Dispatcher/SubscribeToWorkflowRuns`` stream.

``await ref.aio_result()`` subscribes the run id on a single bidirectional stream per event loop;
the engine pushes one ``WorkflowRunEvent`` when the run is finalised (and re-checks unacknowledged
runs every second, so a run that finished before the subscription still arrives). This costs the
engine one stream instead of one poll per waiting run. After a stream error every pending run is
subscribed again on a new stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc.aio

from hatchet_worker import _channel, _serde
from hatchet_worker._proto import dispatcher_pb2 as pb
from hatchet_worker.exceptions import FailedTaskRunExceptionGroup, TaskRunError

log = logging.getLogger("hatchet_worker.runs")
RECONNECT_SECONDS = 1.0


def interpret_event(event: Any) -> dict[str, Any]:
    """``{task_name: output}`` of a finished run.

    Raises:
        FailedTaskRunExceptionGroup: a task of the run failed or was cancelled.
    """
    errors = [TaskRunError(r.task_name, _serde.error_text(r.error), r.task_run_external_id)
              for r in event.results if r.HasField("error")]
    if errors:
        raise FailedTaskRunExceptionGroup(f"workflow run {event.workflow_run_id} failed", errors)
    out: dict[str, Any] = {}
    for r in event.results:
        text = r.output if r.HasField("output") else ""
        try:
            out[r.task_name] = json.loads(text) if text else None
        except ValueError:
            out[r.task_name] = text
    return out


class RunListener:
    def __init__(self, channel: grpc.aio.Channel, metadata: Any) -> None:
        self._subscribe = _channel.stream_stream(channel, pb, "Dispatcher", "SubscribeToWorkflowRuns")
        self._md = metadata
        self._waiters: dict[str, list[asyncio.Future[Any]]] = {}
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def wait(self, run_id: str) -> Any:
        """The run's ``WorkflowRunEvent`` once it finished."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        first = run_id not in self._waiters
        self._waiters.setdefault(run_id, []).append(future)
        if first:
            self._outbox.put_nowait(run_id)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="hatchet-run-listener")
        try:
            return await future
        finally:
            waiting = self._waiters.get(run_id)
            if waiting is not None and future in waiting:
                waiting.remove(future)
                if not waiting:
                    del self._waiters[run_id]

    async def _requests(self) -> AsyncIterator[Any]:
        for run_id in list(self._waiters):
            yield pb.SubscribeToWorkflowRunsRequest(workflow_run_id=run_id)
        while True:
            yield pb.SubscribeToWorkflowRunsRequest(workflow_run_id=await self._outbox.get())

    async def _run(self) -> None:
        while self._waiters:
            while not self._outbox.empty():  # _requests() re-subscribes every pending run first
                self._outbox.get_nowait()
            call = self._subscribe(self._requests(), metadata=self._md)
            try:
                async for event in call:
                    for future in self._waiters.pop(event.workflow_run_id, []):
                        if not future.done():
                            future.set_result(event)
                    if not self._waiters:
                        break
            except grpc.aio.AioRpcError as exc:
                log.warning("run subscription stream failed (%s); re-subscribing", exc.code().name)
                await asyncio.sleep(RECONNECT_SECONDS)
            finally:
                call.cancel()
