"""``hatchet_sdk.clients.listeners.run_event_listener`` names this SDK provides.

The official streaming examples import :class:`StepRunEventType` next to
``hatchet.runs.subscribe_to_stream``; the values are the official ones.
"""

from enum import Enum


class StepRunEventType(str, Enum):  # noqa: UP042 - not StrEnum: str() and format() as the official one
    """What happened to a task of a run, as a run's event stream reports it."""

    STEP_RUN_EVENT_TYPE_STARTED = "STEP_RUN_EVENT_TYPE_STARTED"
    STEP_RUN_EVENT_TYPE_COMPLETED = "STEP_RUN_EVENT_TYPE_COMPLETED"
    STEP_RUN_EVENT_TYPE_FAILED = "STEP_RUN_EVENT_TYPE_FAILED"
    STEP_RUN_EVENT_TYPE_CANCELLED = "STEP_RUN_EVENT_TYPE_CANCELLED"
    STEP_RUN_EVENT_TYPE_TIMED_OUT = "STEP_RUN_EVENT_TYPE_TIMED_OUT"
    STEP_RUN_EVENT_TYPE_STREAM = "STEP_RUN_EVENT_TYPE_STREAM"


__all__ = ["StepRunEventType"]
