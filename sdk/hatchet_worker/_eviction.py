"""Durable-task eviction: a durable task that has waited long enough gives its slot back.

As the official SDK does on engines that support it (v0.80 and later; the pinned v0.104.7 does): while
a durable task waits (``aio_wait_for`` and what builds on it, or a spawned child's result), the
worker may evict it. It tells the engine (``evict_invocation`` on the durable-task stream, answered
with ``eviction_ack``), then stops the task locally without reporting anything. The engine frees
the slot and, once the wait is satisfied, starts the task again (its invocation count one higher),
on any worker; the task replays its event log and goes on from the wait.

A waiting run is evicted when its policy's ``ttl`` has passed since the wait began (lowest
``priority`` first, then longest waiting); else, when the worker's waiting durable runs fill its
durable slots, one that allows capacity eviction and has waited at least 10 s. On shutdown every
waiting durable run is evicted, so the drain does not wait for it. ``eviction_policy=None`` makes a
task never evicted; the default policy evicts after 15 minutes of waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from datetime import timedelta

from pydantic import BaseModel, ConfigDict

log = logging.getLogger("hatchet_worker.eviction")
CHECK_SECONDS = 1.0
MIN_WAIT_FOR_CAPACITY_SECONDS = 10.0


class EvictionPolicy(BaseModel):
    """When a waiting durable task may be evicted: after ``ttl`` of continuous waiting (None:
    never for time), under durable-slot pressure if ``allow_capacity_eviction``; lower
    ``priority`` goes first."""

    model_config = ConfigDict(frozen=True)

    ttl: timedelta | None
    allow_capacity_eviction: bool = True
    priority: int = 0


DEFAULT_DURABLE_TASK_EVICTION_POLICY = EvictionPolicy(ttl=timedelta(minutes=15), allow_capacity_eviction=True,
                                                      priority=0)
"""The official SDK's default for ``durable_task(eviction_policy=)``."""


@dataclasses.dataclass
class Waiting:
    """A durable run this worker executes, and whether (since when, on what) it waits."""

    task_run_id: str
    invocation: int
    policy: EvictionPolicy | None
    since: float | None = None
    count: int = 0  # concurrent waits (e.g. gathered children); waiting while above 0
    on: str = ""


def choose(runs: dict[Hashable, Waiting], now: float, durable_slots: int) -> tuple[Hashable, str] | None:
    """The run to evict now and why, or None (pure)."""
    waiting = {k: r for k, r in runs.items() if r.count > 0 and r.policy is not None and r.since is not None}

    def order(item: tuple[Hashable, Waiting]) -> tuple[int, float]:
        return (item[1].policy.priority if item[1].policy else 0, item[1].since or now)

    expired = [(k, r) for k, r in waiting.items()
               if r.policy and r.policy.ttl is not None and now - (r.since or now) >= r.policy.ttl.total_seconds()]
    if expired:
        key, run = min(expired, key=order)
        return key, f"Wait TTL ({run.policy.ttl if run.policy else None}) exceeded while waiting on {run.on}"
    if durable_slots <= 0 or len(waiting) < durable_slots:
        return None
    movable = [(k, r) for k, r in waiting.items() if r.policy and r.policy.allow_capacity_eviction
               and now - (r.since or now) >= MIN_WAIT_FOR_CAPACITY_SECONDS]
    if not movable:
        return None
    key, run = min(movable, key=order)
    return key, f"Worker at capacity while waiting on {run.on}"


class Evictor:
    """Tracks the worker's durable runs and evicts waiting ones (checked every second)."""

    def __init__(self, durable_slots: Callable[[], int], request: Callable[[Waiting, str], Awaitable[None]],
                 stop: Callable[[Hashable], None]) -> None:
        self._slots = durable_slots
        self._request = request  # tells the engine, waiting for its ack
        self._stop = stop  # ends the run locally, reporting nothing
        self.runs: dict[Hashable, Waiting] = {}
        self._loop_task: asyncio.Task[None] | None = None

    def register(self, key: Hashable, task_run_id: str, invocation: int, policy: EvictionPolicy | None) -> None:
        self.runs[key] = Waiting(task_run_id, invocation, policy)
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.get_running_loop().create_task(self._loop(), name="hatchet-durable-eviction")

    def unregister(self, key: Hashable) -> None:
        self.runs.pop(key, None)

    @contextlib.asynccontextmanager
    async def waiting(self, key: Hashable, on: str) -> AsyncIterator[None]:
        run = self.runs.get(key)
        if run is not None:
            run.count += 1
            if run.count == 1:
                run.since = time.monotonic()
            run.on = on
        try:
            yield
        finally:
            if run is not None:
                run.count = max(0, run.count - 1)
                if run.count == 0:
                    run.since = None

    async def _loop(self) -> None:
        while self.runs:
            await asyncio.sleep(CHECK_SECONDS)
            try:
                await self.tick()
            except Exception:
                log.exception("durable eviction check failed")

    async def tick(self) -> None:
        tried: set[Hashable] = set()
        while (chosen := choose(self.runs, time.monotonic(), self._slots())) is not None:
            key, reason = chosen
            run = self.runs.get(key)
            if key in tried or run is None:
                return
            tried.add(key)
            log.info("evicting durable task run %s: %s", run.task_run_id, reason)
            await self._request(run, reason)
            self._stop(key)
            self.unregister(key)

    async def evict_all_waiting(self) -> int:
        """On shutdown: evict every waiting run, whatever its policy's ttl (the drain need not wait)."""
        if self._loop_task is not None:
            self._loop_task.cancel()
        waiting = [(k, r) for k, r in self.runs.items() if r.count > 0]
        for key, run in waiting:
            try:
                await self._request(run, f"Worker shutdown while waiting on {run.on}")
            except Exception as exc:  # stop it locally anyway: the engine reassigns it on its own
                log.warning("eviction of %s at shutdown failed: %r", run.task_run_id, exc)
            self._stop(key)
            self.unregister(key)
        return len(waiting)
