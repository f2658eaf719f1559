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
    _drain_until: float
    """When the drain wait ends (monotonic): pauses are retried until then."""

    if TYPE_CHECKING:  # provided by _worker_listener.ListenerSupervisor
        async def _stop_listener(self, force: bool, timeout: float = 5.0) -> None: ...

    async def _pause(self, timeout: float = _shutdown.PAUSE_SECONDS) -> bool:
        """One pause request; True when the engine took it (or there is no worker to pause)."""
        if not self.worker_id or not self.config.server_url:
            return True
        from hatchet_worker._rest import pause_worker

        try:
            await asyncio.wait_for(asyncio.to_thread(
                pause_worker, self.config.server_url, self.config.token, self.worker_id,
                root_ca_file=self.config.tls_config.root_ca_file, timeout=max(0.1, timeout)), timeout + 0.5)
        except (OSError, TimeoutError) as exc:
            log.warning("could not pause worker %s at the engine (%s); draining anyway and trying again",
                        self.worker_id, type(exc).__name__)
            return False
        log.info("paused worker %s at the engine: no new tasks will be assigned", self.worker_id)
        return True

    async def _keep_pausing(self, until: float) -> None:
        """Retry the pause until it lands or the drain ends.

        An unpaused draining worker keeps being assigned new tasks for its whole drain, and those
        still running at the drain deadline are cut there (the engine runs them again): one failed
        request (an engine restarting, a slow API under load) must not leave the worker open.
        """
        delay = 0.5
        while (remaining := until - time.monotonic()) > 0:
            await asyncio.sleep(min(delay, remaining))
            if await self._pause(min(_shutdown.PAUSE_SECONDS, left(until, time.monotonic(), 0.1))):
                return
            delay = min(delay * 2, 4.0)

    async def _pause_while_draining(self) -> None:
        """Pause the worker as it is registered now (a listener that registered again during the
        drain), retried like the drain's first pause."""
        if not await self._pause(min(_shutdown.PAUSE_SECONDS, left(self._drain_until, time.monotonic(), 0.1))):
            await self._keep_pausing(self._drain_until)

    async def _drain(self, runner: Runner, events: Any, plan: ShutdownPlan) -> None:
        """Steps of the shutdown budget (see ``_shutdown``), each ending at its own deadline."""
        self._draining = True
        self._drain_until = plan.drain
        runner.draining_since = plan.started
        retrying = None
        if not await self._pause(left(plan.pause, time.monotonic())):
            retrying = asyncio.get_running_loop().create_task(self._keep_pausing(plan.drain))
        try:
            await self._wait_in_flight(runner, plan)
        finally:
            if retrying is not None:
                retrying.cancel()
        if not await events.flush(left(plan.flush, time.monotonic(), 0.5)):
            log.error("some task results could not be reported before shutdown")
        await self._stop_listener(force=False, timeout=left(plan.listener, time.monotonic(), 0.5))

    async def _wait_in_flight(self, runner: Runner, plan: ShutdownPlan) -> None:
        timeout = plan.drain_timeout
        if evicted := await runner.evict_waiting():  # waiting durable tasks resume elsewhere (_eviction)
            log.info("evicted %d waiting durable task(s)", evicted)
        if runner.in_flight:
            log.info("waiting up to %.0f s for %d in-flight task(s)", timeout, runner.in_flight)
        idle = await runner.wait_idle(left(plan.drain, time.monotonic()))
        runner.accepting = False  # what arrives from now on could not finish: the engine reassigns it
        if not idle:
            log.error("drain timeout (%.0f s) reached with %d task(s) running; abandoning them (the engine "
                      "reassigns them)", timeout, runner.in_flight)
            await runner.cancel_all(left(plan.cancel, time.monotonic()))
