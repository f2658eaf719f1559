"""Durable waits: the engine, not the worker, keeps the timer (``DurableContext.aio_sleep_for``).

Uses the engine's durable-event calls: ``V1Dispatcher/RegisterDurableEvent`` records a sleep
condition for the task run under a signal key, and one ``ListenForDurableEvent`` stream per worker
receives the event once the engine has seen the condition satisfied. The stream is re-opened after
errors and every pending wait is re-announced on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import grpc.aio

from hatchet_worker import _channel
from hatchet_worker._proto import v1_condition_pb2, v1_dispatcher_pb2

if TYPE_CHECKING:
    from hatchet_worker.context import Context

log = logging.getLogger("hatchet_worker.durable")
RECONNECT_SECONDS = 1.0


def _base(readable: str, expression: str) -> Any:
    return v1_condition_pb2.BaseMatchCondition(readable_data_key=readable, action=v1_condition_pb2.CREATE,
                                               or_group_id=str(uuid.uuid4()), expression=expression)


class DurableEvents:
    def __init__(self, channel: grpc.aio.Channel, metadata: Any) -> None:
        self._register = _channel.unary(channel, v1_dispatcher_pb2, "V1Dispatcher", "RegisterDurableEvent")
        self._listen = _channel.stream_stream(channel, v1_dispatcher_pb2, "V1Dispatcher", "ListenForDurableEvent")
        self._md = metadata
        self._waiters: dict[tuple[str, str], asyncio.Future[bytes]] = {}
        self._outbox: asyncio.Queue[Any] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None

    async def sleep(self, ctx: Context, duration: str) -> dict[str, Any]:
        """Wait ``duration`` (an engine duration string) with the timer kept by the engine."""
        readable = f"sleep:{duration}"
        condition = v1_condition_pb2.SleepMatchCondition(base=_base(readable, ""), sleep_for=duration)
        conditions = v1_condition_pb2.DurableEventListenerConditions(sleep_conditions=[condition])
        return await self._wait(ctx, readable, conditions)

    async def wait_for_event(self, ctx: Context, event_key: str, expression: str, scope: str | None,
                             since: Any = None) -> dict[str, Any]:
        """Wait until an event ``event_key`` (namespaced) matching the CEL ``expression`` is pushed."""
        condition = v1_condition_pb2.UserEventMatchCondition(base=_base(event_key, expression),
                                                             user_event_key=event_key)
        if scope is not None:
            condition.event_scope = scope
        if since is not None:
            condition.consider_events_since.FromDatetime(since)
        conditions = v1_condition_pb2.DurableEventListenerConditions(user_event_conditions=[condition])
        data = await self._wait(ctx, event_key, conditions)
        # The engine answers {"CREATE": {"<readable key>": [<event payload>, ...]}}.
        matches = (data.get("CREATE") or {}).get(event_key) if isinstance(data.get("CREATE"), dict) else None
        if isinstance(matches, list) and matches and isinstance(matches[0], dict):
            return matches[0]
        return data

    async def _wait(self, ctx: Context, readable: str, conditions: Any) -> dict[str, Any]:
        signal_key = f"{readable}-{ctx._next_durable_index()}"
        await self._register(v1_dispatcher_pb2.RegisterDurableEventRequest(
            task_id=ctx.task_run_id, signal_key=signal_key, conditions=conditions),
            timeout=30.0, metadata=self._md)
        key = (ctx.task_run_id, signal_key)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiters[key] = future
        self._outbox.put_nowait(v1_dispatcher_pb2.ListenForDurableEventRequest(task_id=key[0], signal_key=key[1]))
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._run(), name="hatchet-durable-events")
        try:
            data = await future
        finally:
            self._waiters.pop(key, None)
        try:
            value = json.loads(data) if data else {}
        except ValueError:
            value = {}
        return value if isinstance(value, dict) else {"data": value}

    async def _requests(self) -> AsyncIterator[Any]:
        for task_id, signal_key in list(self._waiters):  # re-announce pending waits on a new stream
            yield v1_dispatcher_pb2.ListenForDurableEventRequest(task_id=task_id, signal_key=signal_key)
        while True:
            yield await self._outbox.get()

    async def _run(self) -> None:
        """One stream per worker, kept open once needed; re-opened after errors."""
        while True:
            while not self._outbox.empty():  # _requests() replays every pending wait first
                self._outbox.get_nowait()
            call = self._listen(self._requests(), metadata=self._md)
            try:
                async for event in call:
                    future = self._waiters.get((event.task_id, event.signal_key))
                    if future is not None and not future.done():
                        future.set_result(bytes(event.data))
            except grpc.aio.AioRpcError as exc:
                log.warning("durable event stream failed (%s); reopening", exc.code().name)
            await asyncio.sleep(RECONNECT_SECONDS)

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
