"""What a running task sees: its input, parents' outputs, lifespan value, retry count, cancellation.

A :class:`Context` is created per task run by the runner and passed as the second argument of
the task function. Its engine-facing methods come in pairs: ``release_slot()`` blocks until the
engine answered (from a sync task; from async code it is sent in the background), and
``await aio_release_slot()`` is the async form.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
from collections.abc import Coroutine, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from hatchet_worker._durable_ops import DurableOps
from hatchet_worker._durable_ops import SleepResult as SleepResult  # the official path hatchet_sdk.context.context
from hatchet_worker._streaming import StreamingContext
from hatchet_worker._task_scope import current_context as current_context  # set by the runner
from hatchet_worker._worker_labels import LabelsContext
from hatchet_worker.workflow import Duration, Task, duration_expr

if TYPE_CHECKING:
    from hatchet_worker._proto.dispatcher_pb2 import AssignedAction
    from hatchet_worker.exceptions import TaskRunError

log = logging.getLogger("hatchet_worker.task")
T = TypeVar("T")

class TaskRuntime(Protocol):
    """The engine calls a context can make (implemented by the runner)."""

    loop: asyncio.AbstractEventLoop
    lifespan: Any
    worker_id: str

    async def release_slot(self, ctx: Context) -> None: ...
    async def refresh_timeout(self, ctx: Context, increment: str) -> None: ...
    async def cancel_run(self, ctx: Context) -> None: ...
    def log(self, ctx: Context, message: str, level: str) -> None: ...
    def put_stream(self, ctx: Context, data: bytes, index: int) -> Coroutine[Any, Any, None]: ...
    labels: dict[str, str | int]
    def upsert_worker_labels(self, ctx: Context, labels: dict[str, str | int]) -> Coroutine[Any, Any, None]: ...


class Context(StreamingContext, LabelsContext):
    """The per-run context passed to every task function as ``ctx``."""

    def __init__(self, action: AssignedAction, payload: Mapping[str, Any], runtime: TaskRuntime,
                 task: Task[Any, Any]) -> None:
        self._action = action
        self._payload = payload
        self._runtime = runtime
        self._task = task
        self._cancelled = threading.Event()
        self._slot_released = False
        self._child_index = 0

    # -- identity ---------------------------------------------------------------------------------
    @property
    def workflow_run_id(self) -> str:
        return str(self._action.workflow_run_id)

    @property
    def task_run_id(self) -> str:
        """The task run's external id, used by every engine call about this run."""
        return str(self._action.task_run_external_id)

    step_run_id = task_run_id

    @property
    def task_name(self) -> str:
        return str(self._action.task_name)

    @property
    def action_id(self) -> str:
        return str(self._action.action_id)

    @property
    def workflow_name(self) -> str:
        return self._task.workflow.name

    @property
    def worker_id(self) -> str:
        return self._runtime.worker_id

    @property
    def workflow_id(self) -> str | None:
        return self._action.workflow_id if self._action.HasField("workflow_id") else None

    @property
    def workflow_version_id(self) -> str | None:
        return self._action.workflow_version_id if self._action.HasField("workflow_version_id") else None

    @property
    def parent_workflow_run_id(self) -> str | None:
        a = self._action
        return a.parent_workflow_run_id if a.HasField("parent_workflow_run_id") else None

    @property
    def priority(self) -> int | None:
        return self._action.priority or None

    # -- attempts -----------------------------------------------------------------------------------
    @property
    def retry_count(self) -> int:
        """How many times this task was retried before this attempt (0 on the first)."""
        return int(self._action.retry_count)

    @property
    def attempt_number(self) -> int:
        return int(self._action.retry_count) + 1

    @property
    def max_attempts(self) -> int:
        return self._task.retries + 1

    # -- data ---------------------------------------------------------------------------------------
    @property
    def lifespan(self) -> Any:
        """The value the worker's lifespan yielded (None without a lifespan)."""
        return self._runtime.lifespan

    @property
    def workflow_input(self) -> Mapping[str, Any]:
        """The run's input as received (before validation)."""
        value = self._payload.get("input")
        return value if isinstance(value, Mapping) else {}

    @property
    def input(self) -> Mapping[str, Any]:
        return self.workflow_input

    @property
    def additional_metadata(self) -> Mapping[str, Any]:
        raw = self._action.additional_metadata if self._action.HasField("additional_metadata") else ""
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def trigger_data(self) -> Mapping[str, Any]:
        value = self._payload.get("triggers")
        return value if isinstance(value, Mapping) else {}

    @property
    def filter_payload(self) -> Mapping[str, Any]:
        value = self.trigger_data.get("filter_payload")
        return value if isinstance(value, Mapping) else {}

    @property
    def triggered_by(self) -> str:
        return str(self._payload.get("triggered_by") or "")

    @property
    def triggering_event_key(self) -> str | None:
        """The key of the event that triggered this run (None when not triggered by an event)."""
        a = self._action
        return str(a.triggering_event_key) if a.HasField("triggering_event_key") else None

    @property
    def was_triggered_by_event(self) -> bool:
        return self.triggered_by == "event" or self.triggering_event_key is not None

    @property
    def parent_outputs(self) -> Mapping[str, Any]:
        value = self._payload.get("parents")
        return value if isinstance(value, Mapping) else {}

    def task_output(self, task: Task[Any, T]) -> T:
        """The output of parent ``task`` in this run, validated into that task's declared return
        type (a pydantic model, dataclass, ...) as the official SDK does; unannotated: the JSON.

        Raises:
            ValueError: ``task`` was skipped, or is not a completed parent of this task.
            pydantic.ValidationError: the output does not fit the declared return type.
        """
        if self.was_skipped(task):
            raise ValueError(f"{task.name} was skipped")
        parents = self.parent_outputs
        if task.name not in parents:
            raise ValueError(f"Step output for '{task.name}' not found: it is not a completed parent of "
                             f"{self.task_name!r}")
        return task.validate_output(parents[task.name])  # type: ignore[no-any-return]

    async def aio_task_output(self, task: Task[Any, T]) -> T:
        return self.task_output(task)

    def was_skipped(self, task: Task[Any, Any]) -> bool:
        out = self.parent_outputs.get(task.name)
        return isinstance(out, Mapping) and out.get("skipped") is True

    @property
    def task_run_errors(self) -> Mapping[str, str]:
        """For an on-failure task: the errors of the failed tasks, by task name."""
        value = self._payload.get("step_run_errors")
        return value if isinstance(value, Mapping) else {}

    def get_task_run_error(self, task: Task[Any, Any]) -> TaskRunError | None:
        """For an on-failure task: ``task``'s error with its type and traceback (the official
        ``TaskRunError`` attributes), None if it did not fail (``_task_errors``)."""
        from hatchet_worker._task_errors import task_run_error

        return task_run_error(task.name, self.task_run_errors.get(task.name))

    # -- cancellation ---------------------------------------------------------------------------------
    @property
    def is_cancelled(self) -> bool:
        """True once the engine cancelled this run (timeout, user cancel, concurrency policy)."""
        return self._cancelled.is_set()

    @property
    def exit_flag(self) -> bool:
        return self._cancelled.is_set()

    def _mark_cancelled(self) -> None:
        self._cancelled.set()

    def wait_for_cancellation(self, timeout: float | None = None) -> bool:
        """Block (a sync task) until the run is cancelled or ``timeout`` passes; True if cancelled."""
        return self._cancelled.wait(timeout)

    def cancel(self) -> None:
        """Ask the engine to cancel this task run."""
        self._call(self._runtime.cancel_run(self))
        self._mark_cancelled()

    async def aio_cancel(self) -> None:
        await self._runtime.cancel_run(self)
        self._mark_cancelled()

    # -- engine calls --------------------------------------------------------------------------------
    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        loop = self._runtime.loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            task = loop.create_task(coro)  # from async code: don't block the loop
            task.add_done_callback(_log_failure)
            return
        asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=30.0)

    def release_slot(self) -> None:
        """Free this task's slot now (the task keeps running); use before long waits on I/O."""
        if not self._slot_released:
            self._slot_released = True
            self._call(self._runtime.release_slot(self))

    async def aio_release_slot(self) -> None:
        if not self._slot_released:
            self._slot_released = True
            await self._runtime.release_slot(self)

    def refresh_timeout(self, increment_by: Duration) -> None:
        """Extend this run's execution timeout by ``increment_by`` (e.g. ``"5m"`` or a timedelta)."""
        self._call(self._runtime.refresh_timeout(self, duration_expr(increment_by)))

    async def aio_refresh_timeout(self, increment_by: Duration | timedelta) -> None:
        await self._runtime.refresh_timeout(self, duration_expr(increment_by))

    def log(self, line: str | Mapping[str, Any], raise_on_error: bool = False) -> None:
        """Ship a log line to the engine (visible on the run in the dashboard); never blocks."""
        if not isinstance(line, str):
            try:
                line = json.dumps(line, default=str)
            except (TypeError, ValueError):
                line = str(line)
        log.info("%s", line)
        self._runtime.log(self, line, "INFO")

    async def aio_log(self, line: str | Mapping[str, Any], raise_on_error: bool = False) -> None:
        self.log(line, raise_on_error)

    def _next_child_index(self) -> int:
        index = self._child_index
        self._child_index += 1
        return index


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("engine call from a task failed: %r", task.exception())


class DurableContext(DurableOps, Context):
    """The context of a durable task (runs from the ``durable`` slot pool); its durable calls
    (``aio_wait_for``, ``aio_sleep_for``, ``aio_wait_for_event``, ``aio_now``, ``aio_sleep_until``)
    are in ``_durable_ops``."""


# The official SDK's path ``hatchet_sdk.context.context``: this module doubles as that submodule
# (the import system uses an entry registered in sys.modules while importing the parent module).
sys.modules.setdefault(__name__ + ".context", sys.modules[__name__])
