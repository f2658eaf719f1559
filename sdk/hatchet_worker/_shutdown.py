"""The shutdown budget: every step of a worker's shutdown gets a deadline derived from one number.

A worker told to stop (SIGTERM, SIGINT, ``worker.stop()``, or its listener lost for good) at time
``t0`` with a drain timeout ``D`` finishes within ``D + SHUTDOWN_MARGIN_SECONDS``:

=====================  ======================================  ==========================
step                   deadline (seconds after ``t0``)         bounded by
=====================  ======================================  ==========================
pause at the engine    ``min(PAUSE, D)``                       the REST call's timeout
drain in-flight tasks  ``D`` (the pause is part of it)         the drain timeout
cancel what is left    ``D + CANCEL``                          asyncio cancellation
flush queued results   ``D + CANCEL + FLUSH``                  the event sender's flush
stop the listener      ``D + CANCEL + FLUSH + LISTENER``       STOP frame, then SIGKILL
lifespan teardown      ``D + CANCEL + FLUSH + LISTENER + TEARDOWN``  ``asyncio.wait_for``
close connections      ``D + SHUTDOWN_MARGIN_SECONDS``         short fixed timeouts
=====================  ======================================  ==========================

Deadlines are absolute, so a step that finishes early leaves its time to the next ones (results
of tasks that finished early can be flushed for longer). A watchdog ends the process with
``os._exit`` at the last deadline if anything still hangs, and threads running sync task code are
daemon threads, so task code can never keep the process alive past the budget. The operator sets
``terminationGracePeriodSeconds`` to the drain timeout plus a larger margin, so the kubelet's
SIGKILL never lands inside the budget (``tests/unit/operator/test_grace_budget.py`` checks it).

The plan is pure; the three process helpers at the end (cancel leftovers, hard exit, watchdog)
are the only I/O here.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import sys
import threading
import time

log = logging.getLogger("hatchet_worker")

PAUSE_SECONDS = 3.0
CANCEL_SECONDS = 2.0
FLUSH_SECONDS = 3.0
LISTENER_SECONDS = 2.0
TEARDOWN_SECONDS = 2.0
CLOSE_SECONDS = 1.0
SHUTDOWN_MARGIN_SECONDS = CANCEL_SECONDS + FLUSH_SECONDS + LISTENER_SECONDS + TEARDOWN_SECONDS + CLOSE_SECONDS
"""What the worker needs beyond the drain timeout, in seconds (10)."""


@dataclasses.dataclass(frozen=True)
class ShutdownPlan:
    """Absolute deadlines (on the caller's monotonic clock) of each shutdown step."""

    started: float
    drain_timeout: float

    @property
    def pause(self) -> float:
        return self.started + min(PAUSE_SECONDS, self.drain_timeout)

    @property
    def drain(self) -> float:
        return self.started + self.drain_timeout

    @property
    def cancel(self) -> float:
        return self.drain + CANCEL_SECONDS

    @property
    def flush(self) -> float:
        return self.cancel + FLUSH_SECONDS

    @property
    def listener(self) -> float:
        return self.flush + LISTENER_SECONDS

    @property
    def teardown(self) -> float:
        return self.listener + TEARDOWN_SECONDS

    @property
    def end(self) -> float:
        """The whole budget: ``started + drain_timeout + SHUTDOWN_MARGIN_SECONDS``."""
        return self.teardown + CLOSE_SECONDS


def budget_seconds(drain_timeout: float) -> float:
    """Seconds from the stop request to the process exit, at most."""
    return drain_timeout + SHUTDOWN_MARGIN_SECONDS


def left(deadline: float, now: float, floor: float = 0.0) -> float:
    """Seconds until ``deadline`` (at least ``floor``)."""
    return max(floor, deadline - now)


def cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel tasks still pending on ``loop`` and let them unwind briefly (as asyncio.run does)."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=0.5))
    with contextlib.suppress(Exception):
        loop.run_until_complete(asyncio.wait_for(loop.shutdown_asyncgens(), 0.5))


def hard_exit(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    logging.shutdown()
    os._exit(code)


def watchdog(plan: ShutdownPlan, name: str) -> threading.Timer:
    """End the process at the end of the shutdown budget if shutdown still hangs by then."""
    def overrun() -> None:
        log.error("worker %s: shutdown did not finish within its budget (drain %.0f s + %.0f s); exiting now",
                  name, plan.drain_timeout, SHUTDOWN_MARGIN_SECONDS)
        hard_exit(1)

    timer = threading.Timer(max(0.0, plan.end - time.monotonic()), overrun)
    timer.daemon = True
    timer.start()
    return timer
