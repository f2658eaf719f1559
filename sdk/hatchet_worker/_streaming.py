"""Streaming: a task sends chunks (``ctx.put_stream``), a client reads them (``hatchet.runs.subscribe_to_stream``).

A chunk is one ``EventsService/PutStreamEvent`` call carrying the task run's id and the chunk's index
within the attempt (from 0, as the official SDK numbers them). The engine holds back a chunk that
arrives before its predecessor, but only for a few seconds, so chunks of one run are also *sent* one
at a time, in the order they were put (a per-run lock: a sync ``put_stream`` called from async code
does not wait for its send, and two sends must still not overtake each other).

A reader subscribes with ``Dispatcher/SubscribeToWorkflowEvents`` for the run and keeps the stream
events' payloads; the engine ends the subscription once the run is finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from hatchet_worker import _channel
from hatchet_worker._proto import dispatcher_pb2, events_pb2

if TYPE_CHECKING:
    from hatchet_worker.client import Hatchet
    from hatchet_worker.context import Context

log = logging.getLogger("hatchet_worker.task")


def chunk_bytes(data: str | bytes) -> bytes:
    """What a chunk is sent as: text in UTF-8, bytes as they are (anything else is refused)."""
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, bytes):
        return data
    raise ValueError(f"put_stream takes str or bytes, not {type(data).__name__}")


def put_request(task_run_external_id: str, data: bytes, index: int) -> events_pb2.PutStreamEventRequest:
    req = events_pb2.PutStreamEventRequest(task_run_external_id=task_run_external_id, message=data,
                                           event_index=index)
    req.created_at.GetCurrentTime()
    return req


class _RunStreams:
    """The sends of one task run: one at a time, and how many are still to go."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.pending = 0
        self.idle = asyncio.Event()


class StreamSender:
    """Sends the chunks of the runs of one worker, one at a time per run."""

    def __init__(self, channel: Any, metadata: Any) -> None:
        self._put = _channel.unary(channel, events_pb2, "EventsService", "PutStreamEvent")
        self._md = metadata
        self._runs: dict[str, _RunStreams] = {}

    def send(self, task_run_external_id: str, data: bytes, index: int) -> Coroutine[Any, Any, None]:
        """The send of one chunk, counted as pending from this call on (not only once it runs), so
        :meth:`settle` also waits for chunks put just before the task returned."""
        run = self._runs.setdefault(task_run_external_id, _RunStreams())
        run.pending += 1
        run.idle.clear()
        return self._send(task_run_external_id, run, put_request(task_run_external_id, data, index))

    async def _send(self, task_run_external_id: str, run: _RunStreams,
                    request: events_pb2.PutStreamEventRequest) -> None:
        try:
            async with run.lock:  # FIFO: sends go out in the order put_stream was called
                await self._put(request, timeout=30.0, metadata=self._md)
        finally:
            run.pending -= 1
            if run.pending == 0:
                run.idle.set()
                if self._runs.get(task_run_external_id) is run:
                    del self._runs[task_run_external_id]

    async def settle(self, task_run_external_id: str, timeout: float = 30.0) -> None:
        """Wait until the run's chunks are sent: the official SDK's ``put_stream`` blocks until its
        chunk is sent, so every chunk is out before the task's result, and readers see them all."""
        run = self._runs.get(task_run_external_id)
        if run is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.idle.wait(), timeout)


class _StreamRuntime(Protocol):
    def put_stream(self, ctx: Context, data: bytes, index: int) -> Coroutine[Any, Any, None]: ...


class StreamingContext:
    """``put_stream`` / ``aio_put_stream`` of :class:`~hatchet_worker.context.Context`.

    As in the official SDK, a chunk that cannot be sent is logged, not raised: streaming is a side
    channel and must not fail the task.
    """

    _stream_index = 0

    if TYPE_CHECKING:
        def _call(self, coro: Coroutine[Any, Any, None]) -> None: ...

    def _streams(self) -> _StreamRuntime:
        runtime: _StreamRuntime = self.__dict__["_runtime"]  # the Context's (its TaskRuntime has put_stream)
        return runtime

    def _next_stream_index(self) -> int:
        index = self._stream_index
        self._stream_index = index + 1
        return index

    def put_stream(self, data: str | bytes) -> None:
        """Send ``data`` to the run's stream readers (``hatchet.runs.subscribe_to_stream``)."""
        try:
            payload = chunk_bytes(data)
            self._call(self._streams().put_stream(self, payload, self._next_stream_index()))  # type: ignore[arg-type]
        except Exception:
            log.exception("error putting stream event")

    async def aio_put_stream(self, data: str | bytes) -> None:
        try:
            payload = chunk_bytes(data)
            await self._streams().put_stream(self, payload, self._next_stream_index())  # type: ignore[arg-type]
        except Exception:
            log.exception("error putting stream event")


class StreamSubscriber:
    """``subscribe_to_stream`` of the client's ``runs`` feature."""

    if TYPE_CHECKING:
        _client: Hatchet

    async def subscribe_to_stream(self, workflow_run_id: str) -> AsyncIterator[str]:
        """The chunks the run's tasks put, as text, until the run is finished."""
        channel = _channel.aio_channel(self._client.config.listener_settings())
        try:
            call = _channel.unary_stream_raw(channel, dispatcher_pb2, "Dispatcher", "SubscribeToWorkflowEvents")
            request = dispatcher_pb2.SubscribeToWorkflowEventsRequest(workflow_run_id=workflow_run_id)
            async for raw in call(request, metadata=_channel.auth_metadata(self._client.config.token)):
                event = dispatcher_pb2.WorkflowEvent.FromString(raw)
                if (event.resource_type == dispatcher_pb2.RESOURCE_TYPE_STEP_RUN
                        and event.event_type == dispatcher_pb2.RESOURCE_EVENT_TYPE_STREAM):
                    yield event.event_payload
                if event.hangup:
                    break
        finally:
            with contextlib.suppress(Exception):
                await channel.close()
