"""Exceptions a user of the SDK may raise or catch."""

from __future__ import annotations

from datetime import timedelta


class NonRetryableException(Exception):
    """Raise from a task to fail it without using its remaining retries."""


class OutputTooLargeError(NonRetryableException):
    """A task's output cannot be reported: it is larger than one gRPC message may carry."""


class LifespanSetupError(Exception):
    """The worker's lifespan setup raised; the worker does not start."""


class IllegalTaskOutputError(Exception):
    """A task returned something that is not a JSON object (dict, pydantic model or dataclass)."""


class LoopAlreadyRunningError(Exception):
    """``Worker.start()`` was called from a running event loop; use ``await worker.async_start()``."""


class DedupeViolationError(Exception):
    """The engine refused a trigger or a schedule as a duplicate (gRPC ``ALREADY_EXISTS``).

    Raised where the official SDK raises it: by a single trigger answered ``ALREADY_EXISTS`` with
    any other message than an idempotency key collision, and by a schedule answered
    ``ALREADY_EXISTS`` at all. Engine v0.104.7 sends ``ALREADY_EXISTS`` only for idempotency key
    collisions (``IdempotencyCollisionError``), so with it this is never raised; newer or other
    engines may refuse duplicates this way.
    """


class TaskRunError(Exception):
    """One task of a run failed or was cancelled."""

    def __init__(self, task_name: str, message: str, task_run_external_id: str = "") -> None:
        super().__init__(f"{task_name}: {message}")
        self.task_name = task_name
        self.message = message
        self.task_run_external_id = task_run_external_id
        # The official SDK's names for the parts (``ctx.get_task_run_error`` fills type and trace).
        self.exc = message
        self.exc_type = ""
        self.trace = ""


class FailedTaskRunExceptionGroup(Exception):
    """A workflow run ended FAILED or CANCELLED; ``exceptions`` holds one error per failed task."""

    def __init__(self, message: str, exceptions: list[TaskRunError]) -> None:
        super().__init__(message + "".join(f"\n  {e}" for e in exceptions))
        self.message = message
        self.exceptions = exceptions


class UnsupportedFeatureError(NotImplementedError):
    """An option of the official SDK that this SDK does not implement yet was given a value.

    Raised at declaration or call time, naming the option, so that code relying on it fails loudly
    instead of running with the option silently dropped.
    """

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"{option} is not supported by hatchet_worker: {reason}")
        self.option = option
        self.reason = reason


def unsupported(option: str, value: object, reason: str, default: object = None) -> None:
    """Raise :class:`UnsupportedFeatureError` when ``value`` is not the option's default (or empty)."""
    if value is default or value == default:
        return
    if isinstance(value, list | tuple | dict) and not value:
        return
    raise UnsupportedFeatureError(option, reason)


class InvalidDependencyError(Exception):
    """A ``Depends`` function is malformed (fewer than ``input, ctx``) or depends on itself."""


class RetryAfterException(Exception):
    """Raise from a task to ask for its next attempt after ``after`` (counts against ``retries``).

    The engine this SDK targets (v0.104.7) has no retry-after: as with the official SDK there, the
    attempt fails and the engine retries it per the task's ``retries`` and backoff; the worker logs
    a warning saying so.
    """

    def __init__(self, message: str = "", *, after: timedelta) -> None:
        super().__init__(message)
        self.after = after

    @property
    def after_ms(self) -> int:
        return max(int(self.after.total_seconds() * 1000), 0)


class NonDeterminismError(Exception):
    """A durable task that started over made a different call than its event log recorded at
    ``node_id`` (the engine's check; the official SDK's error, same fields)."""

    def __init__(self, task_external_id: str, invocation_count: int, message: str, node_id: int) -> None:
        self.task_external_id = task_external_id
        self.invocation_count = invocation_count
        self.message = message
        self.node_id = node_id
        super().__init__(message or f"Non-determinism detected in task {task_external_id} on invocation "
                                    f"{invocation_count} at node {node_id}")
