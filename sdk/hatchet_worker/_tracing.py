"""The tracing hook points of the runtime and the client (OpenTelemetry, when instrumented).

The runtime calls :func:`current` at each place a span belongs: running a task, cancelling one,
triggering, scheduling and pushing. Without an instrumentor the answer is :class:`NoTracing`,
whose context managers do nothing, so the SDK neither imports nor needs OpenTelemetry.
``hatchet_worker.opentelemetry.instrumentor.HatchetInstrumentor.instrument()`` installs itself
here (and ``uninstrument()`` removes it): explicit hooks instead of patching our own methods.

A hook on the client side receives the request it is about to send and may add the trace context
to its ``additional_metadata`` (a JSON object in text) before the call goes out; that is how the
worker which runs the task, of either SDK, joins the trigger's trace.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol

ErrorRecorder = Callable[[BaseException], None]
"""Called by the runner with the exception a task run ended with."""


class Tracing(Protocol):
    def task_run(self, action: Any, worker_id: str) -> contextlib.AbstractContextManager[ErrorRecorder]:
        """Around one task run (an ``AssignedAction``); current for the task's own code."""
        ...

    def task_cancel(self, action: Any) -> contextlib.AbstractContextManager[None]:
        """Around the handling of an engine cancel."""
        ...

    def trigger(self, request: Any, options: Any) -> contextlib.AbstractContextManager[None]:
        """Around one ``TriggerWorkflow`` call; may add the trace context to the request."""
        ...

    def trigger_many(self, requests: Sequence[Any], options: Sequence[Any]) -> contextlib.AbstractContextManager[None]:
        """Around a bulk trigger (all its chunks); may add the trace context to each request."""
        ...

    def spawn(self, requests: Sequence[Any], options: Sequence[Any]) -> contextlib.AbstractContextManager[None]:
        """Around the children a durable task spawns through its event log; may add the trace context."""
        ...

    def schedule(self, request: Any, options: Any) -> contextlib.AbstractContextManager[None]:
        """Around one ``ScheduleWorkflow`` call; may add the trace context to the request."""
        ...

    def durable_wait(self, signal_key: str, conditions: int,
                     task_run_id: str) -> contextlib.AbstractContextManager[None]:
        """Around a durable task's wait (``aio_wait_for`` and the sleeps and event waits built on it)."""
        ...

    def push(self, request: Any) -> contextlib.AbstractContextManager[None]:
        """Around one event push; may add the trace context to the request."""
        ...

    def bulk_push(self, request: Any) -> contextlib.AbstractContextManager[None]:
        """Around one bulk push; may add the trace context to each event of the request."""
        ...


def _ignore(_: BaseException) -> None:
    return None


_NO_SPAN = contextlib.nullcontext(_ignore)


class NoTracing:
    """The hooks when nothing is instrumented: no span, the requests unchanged."""

    def task_run(self, action: Any, worker_id: str) -> contextlib.AbstractContextManager[ErrorRecorder]:
        return _NO_SPAN  # on every task's path: nothing is built per call

    def task_cancel(self, action: Any) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def trigger(self, request: Any, options: Any) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def trigger_many(self, requests: Sequence[Any], options: Sequence[Any]) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def spawn(self, requests: Sequence[Any], options: Sequence[Any]) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def schedule(self, request: Any, options: Any) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def durable_wait(self, signal_key: str, conditions: int,
                     task_run_id: str) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def push(self, request: Any) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def bulk_push(self, request: Any) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


_NONE = NoTracing()
_active: Tracing = _NONE


def current() -> Tracing:
    """The installed hooks (process-wide, as the official instrumentor's are)."""
    return _active


def install(tracing: Tracing) -> None:
    global _active
    _active = tracing


def uninstall(tracing: Tracing) -> None:
    """Remove ``tracing`` if it is the one installed (another instrumentor's hooks stay)."""
    global _active
    if _active is tracing:
        _active = _NONE
