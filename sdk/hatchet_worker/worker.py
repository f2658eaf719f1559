"""The worker: registers workflows, runs the action listener subprocess, executes tasks, drains.

Start-up (``start()`` blocks until shutdown):

1. the health server starts (``/health`` says STARTING) and the listener subprocess is spawned,
   while, concurrently, the lifespan setup runs and every workflow is declared (``PutWorkflow``);
   a failing lifespan or declaration stops the worker with a non-zero exit before it registers;
2. the listener registers the worker, opens ``ListenV2`` and heartbeats; once it reports the
   registration the worker is HEALTHY and assignments flow to the runner.

Shutdown on SIGTERM/SIGINT (a second signal forces an immediate exit): readiness turns off, the
worker is paused at the engine so nothing new is assigned, in-flight tasks finish (up to the drain
timeout), queued results are flushed while the listener keeps heartbeating, the listener stops
and unsubscribes, then the lifespan teardown runs; every step has a deadline from one budget
(drain timeout + ``_shutdown.SHUTDOWN_MARGIN_SECONDS``). If the listener subprocess dies it is
restarted under the same worker id; only if it gave up reaching the engine, or cannot come back,
does the worker turn UNHEALTHY, perform the same drain and exit non-zero.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import sys
import threading
import time
from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING, Any

from hatchet_worker import _lifespan, _shutdown
from hatchet_worker._lifespan import LifespanFn
from hatchet_worker._shutdown import ShutdownPlan, left
from hatchet_worker._slots import resolve_slots
from hatchet_worker._stats import Stats
from hatchet_worker._worker_drain import WorkerDrain
from hatchet_worker._worker_health import HEARTBEAT_STALE_SECONDS as HEARTBEAT_STALE_SECONDS
from hatchet_worker._worker_health import PUMP_STALE_SECONDS as PUMP_STALE_SECONDS
from hatchet_worker._worker_health import STARTING_GRACE_SECONDS as STARTING_GRACE_SECONDS
from hatchet_worker._worker_health import WorkerHealth
from hatchet_worker._worker_listener import EXIT_GAVE_UP as EXIT_GAVE_UP
from hatchet_worker._worker_listener import EXIT_LISTENER_DIED, ListenerSupervisor
from hatchet_worker._worker_listener import LISTENER_RESTART_DELAYS as LISTENER_RESTART_DELAYS
from hatchet_worker._worker_listener import LISTENER_RESTARTS as LISTENER_RESTARTS
from hatchet_worker._worker_signals import WorkerSignals
from hatchet_worker.exceptions import LifespanSetupError, LoopAlreadyRunningError
from hatchet_worker.workflow import Workflow

if TYPE_CHECKING:
    from hatchet_worker._runner import Runner
    from hatchet_worker.client import Hatchet

log = logging.getLogger("hatchet_worker")

_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")


def _default_logging() -> None:
    """Show the worker's INFO logs on stderr unless the application configured logging itself."""
    if logging.getLogger().handlers or log.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"))
    log.addHandler(handler)
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)


class Worker(WorkerHealth, ListenerSupervisor, WorkerSignals, WorkerDrain):
    """A worker process; create with ``hatchet.worker(name, ...)`` and call :meth:`start`."""

    def __init__(self, client: Hatchet, name: str, *, slots: int | None = None,
                 durable_slots: int | None = None, labels: dict[str, str | int] | None = None,
                 workflows: Sequence[Workflow[Any]] | None = None,
                 lifespan: LifespanFn | None = None) -> None:
        self._client = client
        self.config = client.config
        self._code_name = name
        self._code_slots = slots
        self._code_durable_slots = durable_slots
        self.labels: dict[str, str | int] = {**self.config.worker_preset_labels, **(labels or {})}
        self.workflows: list[Workflow[Any]] = []
        self.lifespan = lifespan
        self.stats = Stats()
        self.worker_id: str | None = None
        self.health_port: int | None = None
        self._state = "created"
        self._listener_state: dict[str, Any] = {}
        self._registered = False
        self._draining = False
        self._drain_until = 0.0
        self._repausing: asyncio.Task[None] | None = None
        self._listener_died = False
        self._started_mono = time.monotonic()
        self._loop_lag = 0.0
        self._shutdown_event = asyncio.Event()
        self._stopping_listener = False
        self._runner: Runner | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._start: dict[str, Any] | None = None
        self._reconnect_base = 0
        self._signals = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._pump_at: float | None = None
        self.register_workflows(workflows or [])

    # -- configuration --------------------------------------------------------------------------
    def register_workflow(self, workflow: Workflow[Any]) -> None:
        if not isinstance(workflow, Workflow):
            raise TypeError(f"expected a workflow made by hatchet.workflow/task/durable_task, got "
                            f"{type(workflow).__name__} (pass the workflow, not one of its tasks)")
        if workflow not in self.workflows:
            self.workflows.append(workflow)

    def register_workflows(self, workflows: Sequence[Workflow[Any]]) -> None:
        for wf in workflows:
            self.register_workflow(wf)

    @property
    def name(self) -> str:
        """The registered worker name: ``HATCHET_CLIENT_WORKER_NAME`` wins, then the name in code."""
        return self.config.apply_namespace(self.config.worker_name or self._code_name)

    def _tasks(self) -> dict[str, Any]:
        from hatchet_worker._register import all_tasks

        return {wf.action_id(t): t for wf, t in all_tasks(self.workflows)}

    # -- running ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Run the worker until SIGTERM/SIGINT; raises SystemExit with a non-zero code on failure."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise LoopAlreadyRunningError("Worker.start() needs its own event loop; "
                                          "use `await worker.async_start()` inside a running loop")
        _default_logging()
        loop = asyncio.new_event_loop()
        try:
            asyncio.set_event_loop(loop)
            code = loop.run_until_complete(self.async_start())
            _shutdown.cancel_leftovers(loop)
        finally:
            asyncio.set_event_loop(None)
            loop.close()  # unlike asyncio.run, never waits for threads still running task code
        stray = [t.name for t in threading.enumerate()
                 if t is not threading.current_thread() and t.is_alive() and not t.daemon]
        if stray:
            # Interpreter exit would join these forever (a sync task stuck in asyncio.to_thread...).
            log.warning("%d thread(s) still run task code after shutdown (%s); exiting without waiting",
                        len(stray), ", ".join(stray[:5]))
            _shutdown.hard_exit(code)
        if code:
            raise SystemExit(code)

    async def async_start(self) -> int:
        """Run the worker on the current loop; returns the process exit code."""
        from hatchet_worker import _events
        from hatchet_worker._channel import aio_channel, auth_metadata
        from hatchet_worker._register import register_request
        from hatchet_worker._runner import Runner

        loop = self._loop = asyncio.get_running_loop()
        self._started_mono = time.monotonic()
        self._shutdown_event = asyncio.Event()
        self._stopping_listener = self._listener_died = self._draining = self._registered = False
        self._pump_task, self._pump_at = None, None
        name = self.name
        if not name or not set(name) <= _NAME_OK:
            log.error("invalid worker name %r: use letters, digits, '.', '-' and '_'", name)
            return 2
        tasks = self._tasks()
        cfg = self.config
        try:
            plan = resolve_slots(code_slots=self._code_slots, code_durable_slots=self._code_durable_slots,
                                 env_slots=cfg.worker_slots, env_durable_slots=cfg.worker_durable_slots,
                                 task_slots=[(a, t.slot_type, t.slot_cost) for a, t in tasks.items()])
        except ValueError as exc:
            log.error("invalid slot configuration: %s", exc)
            return 2
        for note in plan.overrides:
            log.warning("%s", note)
        self.stats.slot_capacity = dict(plan.slot_config)
        self.stats.register_actions(tasks)  # every series exists from the start (rate() works from 0)
        try:
            health = await self._start_health()
        except OSError as exc:
            hc = self.config.healthcheck
            log.error("cannot serve health checks on %s:%d: %s", hc.bind_address, hc.port, exc)
            return 2
        self._install_signals(loop)  # early: a signal during set-up stops the worker right after it
        settings = self.config.listener_settings()
        channel = aio_channel(settings)
        md = auth_metadata(self.config.token)
        request_bytes = register_request(name, tasks.keys(), plan.slot_config, self.labels).SerializeToString()
        spawn = asyncio.create_task(self._spawn_listener())
        events = _events.EventSender(channel, md, lambda: self.worker_id or "",
                                     max_send=cfg.grpc_max_send_message_length)
        lifespan_gen: AsyncGenerator[Any, None] | None = None
        exit_code = 0
        budget: ShutdownPlan | None = None
        watchdog: threading.Timer | None = None
        try:
            try:
                lifespan_value, lifespan_gen = await self._setup(channel, md)
            except LifespanSetupError as exc:
                log.error("%s", exc)
                with contextlib.suppress(Exception):
                    await spawn
                await self._stop_listener(force=True)
                return 1
            except Exception as exc:
                log.error("could not declare workflows at the engine: %s", exc)
                with contextlib.suppress(Exception):
                    await spawn
                await self._stop_listener(force=True)
                return 1
            reader = await spawn
            self._start = {"settings": settings,
                           "register": base64.b64encode(request_bytes).decode()}
            events.start()
            self._runner = runner = Runner(tasks, events, self.stats, channel, md, labels=self.labels,
                                           threads=sum(plan.slot_config.values()), lifespan=lifespan_value)
            self._send_start()
            log.info("starting worker %s: %d action(s), slots %s, labels %s", name, len(tasks),
                     plan.slot_config, self.labels or {})
            pump = self._pump_task = asyncio.create_task(self._supervise(reader, runner))
            pump.add_done_callback(self._pump_ended)
            lag = asyncio.create_task(self._watch_loop_lag())
            await self._shutdown_event.wait()
            exit_code = EXIT_LISTENER_DIED if self._listener_died else 0
            budget = ShutdownPlan(time.monotonic(), cfg.worker_drain_timeout_seconds)
            watchdog = _shutdown.watchdog(budget, name)
            await self._drain(runner, events, budget)
            pump.cancel()
            lag.cancel()
        finally:
            budget = budget or ShutdownPlan(time.monotonic(), 0.0)
            if lifespan_gen is not None:
                try:
                    await asyncio.wait_for(_lifespan.leave(lifespan_gen),
                                           left(budget.teardown, time.monotonic(), 0.5))
                except TimeoutError:
                    log.error("lifespan teardown did not finish within the shutdown budget; abandoned")
            await events.close()
            if self._runner is not None:
                await self._runner.aclose(timeout=0.5)
            await self._stop_listener(force=True, timeout=0.5)
            if health is not None:
                await health.close()
            await channel.close(grace=0.3)
            self._remove_signals(loop)
            if watchdog is not None:
                watchdog.cancel()
        log.info("worker %s stopped (exit code %d)", name, exit_code)
        return exit_code

    async def _setup(self, channel: Any, md: Any) -> tuple[Any, AsyncGenerator[Any, None] | None]:
        """Run the lifespan setup and declare every workflow, concurrently."""
        from hatchet_worker import _channel, _declare
        from hatchet_worker._proto import v1_workflows_pb2
        from hatchet_worker._register import workflow_proto

        put = _channel.unary(channel, v1_workflows_pb2, "AdminService", "PutWorkflow")
        namespace = self.config.namespace
        declare = [_declare.declare(put, workflow_proto(wf, namespace), name=wf.name, metadata=md,
                                    policy=self.config.tenacity) for wf in self.workflows]
        lifespan_task = asyncio.create_task(_lifespan.enter(self.lifespan))
        declare_task: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(*declare))
        await asyncio.wait({lifespan_task, declare_task}, return_when=asyncio.FIRST_EXCEPTION)
        if lifespan_task.done() and lifespan_task.exception() is not None:
            declare_task.cancel()  # no need to wait for the engine: the worker will not start
            with contextlib.suppress(BaseException):
                await declare_task
            return await lifespan_task  # raises LifespanSetupError
        try:
            await declare_task
        except BaseException:
            with contextlib.suppress(BaseException):
                gen = (await lifespan_task)[1]
                if gen is not None:
                    await _lifespan.leave(gen)
            raise
        return await lifespan_task
