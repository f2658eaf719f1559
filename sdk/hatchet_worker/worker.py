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
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING, Any

from hatchet_worker import _ipc, _lifespan, _shutdown
from hatchet_worker._lifespan import LifespanFn
from hatchet_worker._shutdown import ShutdownPlan, left
from hatchet_worker._slots import resolve_slots
from hatchet_worker._stats import Stats
from hatchet_worker.exceptions import LifespanSetupError, LoopAlreadyRunningError
from hatchet_worker.workflow import Workflow

if TYPE_CHECKING:
    from hatchet_worker._health import HealthServer
    from hatchet_worker._runner import Runner
    from hatchet_worker.client import Hatchet

log = logging.getLogger("hatchet_worker")

STARTING_GRACE_SECONDS = 10.0
HEARTBEAT_STALE_SECONDS = 12.0
PUMP_STALE_SECONDS = 15.0
"""Age of the last frame read from the listener beyond which ``/livez`` fails: the listener sends a
tick every ``_ipc.TICK_INTERVAL`` (2 s) whatever the engine does, so this is ~7 missed ticks, never
an idle worker or an engine outage."""
EXIT_LISTENER_DIED = 1
EXIT_GAVE_UP = 3
"""The listener's exit status after ``worker_listener_give_up_seconds`` without reaching the engine."""
LISTENER_RESTARTS = 3
"""Restarts in a row whose listener never reached the engine before the worker gives up."""
LISTENER_RESTART_DELAYS = (0.2, 1.0, 3.0)
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


class Worker:
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

    # -- health -------------------------------------------------------------------------------------
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

    async def _setup(self, channel: Any, md: Any) -> tuple[Any, AsyncGenerator[Any, None] | None]:
        """Run the lifespan setup and declare every workflow, concurrently."""
        from hatchet_worker import _channel
        from hatchet_worker._proto import v1_workflows_pb2
        from hatchet_worker._register import workflow_proto

        put = _channel.unary(channel, v1_workflows_pb2, "AdminService", "PutWorkflow")
        namespace = self.config.namespace
        declare = [put(workflow_proto(wf, namespace), timeout=30.0, metadata=md, wait_for_ready=True)
                   for wf in self.workflows]
        lifespan_task = asyncio.create_task(_lifespan.enter(self.lifespan))
        declare_task = asyncio.ensure_future(asyncio.gather(*declare))
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

    async def _spawn_listener(self) -> asyncio.StreamReader:
        parent_sock, child_sock = socket.socketpair()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                # -P: never import modules from the current directory in the listener.
                sys.executable, "-P", "-m", "hatchet_worker._listener", str(child_sock.fileno()),
                pass_fds=(child_sock.fileno(),), stdin=asyncio.subprocess.DEVNULL)
        finally:
            child_sock.close()
        reader, self._writer = await asyncio.open_unix_connection(sock=parent_sock, limit=1 << 22)
        return reader

    def _send_start(self) -> None:
        """Tell a freshly spawned listener to connect; a restarted one resumes the same worker id."""
        assert self._writer is not None and self._start is not None
        self._writer.write(_ipc.encode_json(_ipc.START, {**self._start, "worker_id": self.worker_id}))

    async def _supervise(self, reader: asyncio.StreamReader, runner: Runner) -> None:
        """Pump frames from the listener; restart it when it dies, give up when it cannot come back.

        The listener holds no state but the worker id, which it is given again: the engine keeps
        seeing heartbeats for the same worker (it reassigns tasks only after 30 s without one), so
        in-flight tasks keep running here and their results go out over the worker's own channel.
        """
        failed_restarts = 0
        while True:
            listened = await self._pump(reader, runner)
            code = await self._proc.wait() if self._proc is not None else None
            if self._stopping_listener:
                return
            failed_restarts = 0 if listened else failed_restarts + 1
            if code == EXIT_GAVE_UP or failed_restarts >= LISTENER_RESTARTS:
                why = ("it gave up reaching the engine" if code == EXIT_GAVE_UP else
                       f"{failed_restarts} restart(s) in a row never reached the engine")
                self._listener_died = True
                log.error("the action listener subprocess exited unexpectedly (exit code %s) and %s; the worker "
                          "is UNHEALTHY and shuts down", code, why)
                self._shutdown_event.set()
                return
            delay = LISTENER_RESTART_DELAYS[min(failed_restarts, len(LISTENER_RESTART_DELAYS) - 1)]
            log.error("the action listener subprocess exited unexpectedly (exit code %s); restarting it in "
                      "%.1f s (%d task(s) in flight keep running)", code, delay, runner.in_flight)
            self._listener_state = {**self._listener_state, "state": "restarting"}
            self.stats.listener_restarts += 1
            self._reconnect_base = self.stats.listener_reconnects  # the new listener counts from 0
            await asyncio.sleep(delay)
            if self._stopping_listener:
                return
            try:
                reader = await self._spawn_listener()
                self._send_start()
            except OSError as exc:
                log.error("could not restart the action listener: %s", exc)
                self._listener_died = True
                self._shutdown_event.set()
                return

    def _pump_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("the pump delivering the action listener's frames crashed; /livez fails so the "
                      "pod is restarted", exc_info=task.exception())

    async def _pump(self, reader: asyncio.StreamReader, runner: Runner) -> bool:
        """Feed frames from the listener to the runner until it exits; True if it reached the engine."""
        handle = runner.handle
        listened = False
        self._pump_at = time.monotonic()  # a new listener: its first tick is on the way
        while True:
            try:
                frame = await _ipc.read_frame(reader)
            except ValueError as exc:  # a corrupt frame: this listener cannot be trusted any more
                log.error("bad frame from the action listener (%s); stopping it", exc)
                if self._proc is not None and self._proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        self._proc.kill()
                return listened
            if frame is None:
                return listened
            self._pump_at = time.monotonic()
            kind, body = frame
            if kind == _ipc.ACTION:
                try:
                    handle(body)
                except Exception:
                    log.exception("could not start an assigned task")
            elif kind == _ipc.STATUS:
                self._on_status(body)
                listened = listened or self._listener_state.get("state") == "listening"
            elif kind == _ipc.REGISTERED:
                self._on_registered(body)

    def _on_status(self, body: bytes) -> None:
        import json

        status = json.loads(body)
        self._listener_state = status
        self.stats.listener_reconnects = self._reconnect_base + int(status.get("reconnects") or 0)
        if status.get("last_heartbeat"):
            self.stats.last_heartbeat = status["last_heartbeat"]

    def _on_registered(self, body: bytes) -> None:
        import json

        info = json.loads(body)
        self.worker_id = info["worker_id"]
        self._registered = True
        if self._runner is not None:
            self._runner.worker_id = info["worker_id"]
        if self._draining:  # re-registered while draining: the new worker id must not get work either
            asyncio.get_running_loop().create_task(self._pause())

    async def _watch_loop_lag(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(1.0)
            self._loop_lag = max(0.0, time.monotonic() - before - 1.0)

    # -- shutdown ---------------------------------------------------------------------------------
    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._on_signal, sig)

    def _remove_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        if self._signals > 1:
            log.error("second %s: exiting immediately without waiting for tasks", sig.name)
            if self._proc is not None and self._proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self._proc.kill()
            os._exit(1)
        log.info("%s received: draining (signal again to force exit)", sig.name)
        self._shutdown_event.set()

    def stop(self) -> None:
        """Ask a running worker to drain and stop (same as SIGTERM); callable from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._shutdown_event.set)

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

    async def _stop_listener(self, force: bool, timeout: float = 5.0) -> None:
        self._stopping_listener = True
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        if not force and self._writer is not None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                self._writer.write(_ipc.encode(_ipc.STOP, b""))
                await asyncio.wait_for(self._writer.drain(), 0.5)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(proc.wait(), max(0.1, timeout - 0.5))
                return
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(proc.wait(), 0.5)

