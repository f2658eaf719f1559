"""The worker's side of the action listener subprocess: spawn it, pump its frames, restart it, stop it.

The listener (``_listener``, a separate process speaking ``_ipc`` frames over a socket pair) holds
the engine connection; this mixin of :class:`hatchet_worker.worker.Worker` feeds what it reads to
the runner and turns the listener's status into the worker's state (read by ``_worker_health``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import time
from typing import TYPE_CHECKING, Any

from hatchet_worker import _ipc
from hatchet_worker._stats import Stats

if TYPE_CHECKING:
    from hatchet_worker._runner import Runner

log = logging.getLogger("hatchet_worker")

EXIT_LISTENER_DIED = 1
EXIT_GAVE_UP = 3
"""The listener's exit status after ``worker_listener_give_up_seconds`` without reaching the engine."""
LISTENER_RESTARTS = 3
"""Restarts in a row whose listener never reached the engine before the worker gives up."""
LISTENER_RESTART_DELAYS = (0.2, 1.0, 3.0)


class ListenerSupervisor:
    """Spawns, pumps, restarts and stops the listener; the state is the worker's (``Worker.__init__``)."""

    stats: Stats
    worker_id: str | None
    _listener_state: dict[str, Any]
    _registered: bool
    _draining: bool
    _listener_died: bool
    _stopping_listener: bool
    _shutdown_event: asyncio.Event
    _runner: Runner | None
    _proc: asyncio.subprocess.Process | None
    _writer: asyncio.StreamWriter | None
    _start: dict[str, Any] | None
    _reconnect_base: int
    _pump_at: float | None
    _repausing: asyncio.Task[None] | None
    """The pause of a worker registered again during the drain (held so it is not collected)."""

    if TYPE_CHECKING:  # provided by _worker_drain.WorkerDrain
        async def _pause_while_draining(self) -> None: ...

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
            self._repausing = asyncio.get_running_loop().create_task(self._pause_while_draining())

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
