"""The drain: pause the worker at the engine, let in-flight tasks finish, flush, stop the listener.

A mixin of :class:`hatchet_worker.worker.Worker`; each step ends at its own deadline from one
shutdown budget (``_shutdown.ShutdownPlan``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from hatchet_worker import _shutdown
from hatchet_worker._shutdown import ShutdownPlan, left

if TYPE_CHECKING:
    from hatchet_worker._runner import Runner
    from hatchet_worker.config import ClientConfig

log = logging.getLogger("hatchet_worker")


class WorkerDrain:
    """Pause and drain; the state is the worker's (``Worker.__init__``)."""

    config: ClientConfig
    worker_id: str | None
    _draining: bool

    if TYPE_CHECKING:  # provided by _worker_listener.ListenerSupervisor
        async def _stop_listener(self, force: bool, timeout: float = 5.0) -> None: ...

    async def _pause(self, timeout: float = _shutdown.PAUSE_SECONDS) -> None:
        if not self.worker_id or not self.config.server_url:
            return
        from hatchet_worker._rest import pause_worker

        try:
            await asyncio.wait_for(asyncio.to_thread(
                pause_worker, self.config.server_url, self.config.token, self.worker_id,
                root_ca_file=self.config.tls_config.root_ca_file, timeout=max(0.1, timeout)), timeout + 0.5)
            log.info("paused worker %s at the engine: no new tasks will be assigned", self.worker_id)
        except (OSError, TimeoutError) as exc:
            log.warning("could not pause worker %s at the engine (%s); draining anyway", self.worker_id,
                        type(exc).__name__)

    async def _drain(self, runner: Runner, events: Any, plan: ShutdownPlan) -> None:
        """Steps of the shutdown budget (see ``_shutdown``), each ending at its own deadline."""
        self._draining = True
        timeout = plan.drain_timeout
        await self._pause(left(plan.pause, time.monotonic()))
        if evicted := await runner.evict_waiting():  # waiting durable tasks resume elsewhere (_eviction)
            log.info("evicted %d waiting durable task(s)", evicted)
        if runner.in_flight:
            log.info("waiting up to %.0f s for %d in-flight task(s)", timeout, runner.in_flight)
        if not await runner.wait_idle(left(plan.drain, time.monotonic())):
            log.error("drain timeout (%.0f s) reached with %d task(s) running; abandoning them (the engine "
                      "reassigns them)", timeout, runner.in_flight)
            await runner.cancel_all(left(plan.cancel, time.monotonic()))
        if not await events.flush(left(plan.flush, time.monotonic(), 0.5)):
            log.error("some task results could not be reported before shutdown")
        await self._stop_listener(force=False, timeout=left(plan.listener, time.monotonic(), 0.5))
