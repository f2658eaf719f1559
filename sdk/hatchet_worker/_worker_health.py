"""The worker's health: what ``/health``, ``/livez``, ``/readyz`` and ``/metrics`` answer.

A mixin of :class:`hatchet_worker.worker.Worker`: it reads the state the worker, its listener
supervisor and its drain keep (declared below) and never changes it, so a probe cannot disturb the
worker it reports on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from hatchet_worker._stats import Stats

if TYPE_CHECKING:
    from hatchet_worker._health import HealthServer
    from hatchet_worker.config import ClientConfig

log = logging.getLogger("hatchet_worker")

STARTING_GRACE_SECONDS = 10.0
HEARTBEAT_STALE_SECONDS = 12.0
PUMP_STALE_SECONDS = 15.0
"""Age of the last frame read from the listener beyond which ``/livez`` fails: the listener sends a
tick every ``_ipc.TICK_INTERVAL`` (2 s) whatever the engine does, so this is ~7 missed ticks, never
an idle worker or an engine outage."""


class WorkerHealth:
    """Health status and the probes; the state is the worker's (set in ``Worker.__init__``)."""

    config: ClientConfig
    stats: Stats
    worker_id: str | None
    health_port: int | None
    _listener_state: dict[str, Any]
    _registered: bool
    _draining: bool
    _listener_died: bool
    _stopping_listener: bool
    _started_mono: float
    _loop_lag: float
    _pump_task: asyncio.Task[None] | None
    _pump_at: float | None

    if TYPE_CHECKING:  # provided by Worker
        @property
        def name(self) -> str: ...

    def health_status(self) -> str:
        """STARTING, HEALTHY or UNHEALTHY, with the official SDK's meaning."""
        if self._listener_died or self._draining or self._listener_state.get("state") == "given_up":
            return "UNHEALTHY"
        if self._pump_problem() is not None:
            return "UNHEALTHY"
        if self._loop_lag > self.config.healthcheck.event_loop_block_threshold_seconds:
            return "UNHEALTHY"
        if not self._registered or self.stats.last_heartbeat is None:
            if time.monotonic() - self._started_mono > STARTING_GRACE_SECONDS:
                return "UNHEALTHY"
            return "STARTING"
        if self._listener_state.get("state") != "listening":
            return "UNHEALTHY"
        return "HEALTHY"

    def _pump_problem(self) -> str | None:
        """Why frames from the listener no longer reach the runner, or None.

        The listener keeps heartbeating the engine on its own, so a pump that died or stopped
        reading leaves a worker the engine still assigns tasks to and that never runs them.
        """
        task = self._pump_task
        if task is None or self._stopping_listener or self._listener_died:
            return None  # not started yet, stopping on purpose, or reported as a dead listener
        if task.done():
            return "the pump delivering the action listener's frames has stopped"
        age = None if self._pump_at is None else time.monotonic() - self._pump_at
        if age is not None and age > PUMP_STALE_SECONDS:
            return f"no frame from the action listener for {age:.0f} s (its pump is stuck)"
        return None

    def _probe_health(self) -> tuple[bool, dict[str, Any]]:
        status = self.health_status()
        return status == "HEALTHY", {"status": status, "name": self.name, "worker_id": self.worker_id}

    def _probe_live(self) -> tuple[bool, dict[str, Any]]:
        if self._listener_died:
            return False, {"status": "dead", "reason": "the action listener subprocess exited"}
        if self._listener_state.get("state") == "given_up":
            return False, {"status": "dead", "reason": "the action listener gave up reconnecting"}
        pump = self._pump_problem()
        if pump is not None:
            return False, {"status": "dead", "reason": pump}
        age = self.stats.heartbeat_age()
        if age is not None and age > self.config.worker_listener_give_up_seconds + 30:
            # The listener should have given up by now: it is wedged, not reconnecting.
            return False, {"status": "dead", "reason": f"no heartbeat for {age:.0f} s"}
        return True, {"status": "alive", "listener": self._listener_state.get("state", "starting")}

    def _probe_ready(self) -> tuple[bool, dict[str, Any]]:
        age = self.stats.heartbeat_age()
        reasons = []
        if self._draining:
            reasons.append("draining")
        if not self._registered:
            reasons.append("not registered")
        if self._listener_state.get("state") != "listening":
            reasons.append(f"listener {self._listener_state.get('state', 'starting')}")
        if age is None or age > HEARTBEAT_STALE_SECONDS:
            reasons.append("no recent heartbeat")
        pump = self._pump_problem()
        if pump is not None:
            reasons.append(pump)
        return not reasons, {"status": "ready" if not reasons else "not ready", "reasons": reasons}

    async def _start_health(self) -> HealthServer | None:
        hc = self.config.healthcheck
        if not hc.enabled:
            return None
        from hatchet_worker._health import HealthServer

        metrics: Any = None

        def render_metrics() -> bytes:
            nonlocal metrics
            if metrics is None:
                from hatchet_worker._metrics import Metrics

                metrics = Metrics(self.stats, lambda: self.health_status() == "HEALTHY")
            return bytes(metrics.render())

        server = HealthServer(health=self._probe_health, live=self._probe_live, ready=self._probe_ready,
                              metrics=render_metrics)
        await server.start(hc.bind_address, hc.port)
        self.health_port = server.port
        return server

    async def _watch_loop_lag(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(1.0)
            self._loop_lag = max(0.0, time.monotonic() - before - 1.0)
