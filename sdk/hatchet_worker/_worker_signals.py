"""SIGTERM/SIGINT and ``Worker.stop()``: the ways a running worker is asked to drain.

A mixin of :class:`hatchet_worker.worker.Worker`: a first signal sets the shutdown event (the drain
follows in ``async_start``), a second one kills the listener and exits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

log = logging.getLogger("hatchet_worker")


class WorkerSignals:
    """Signal handlers; the state is the worker's (``Worker.__init__``)."""

    _signals: int
    _proc: asyncio.subprocess.Process | None
    _shutdown_event: asyncio.Event
    _loop: asyncio.AbstractEventLoop | None

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
