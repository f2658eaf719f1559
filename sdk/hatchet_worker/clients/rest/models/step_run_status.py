"""``StepRunStatus`` under the official module path."""

from hatchet_worker.clients.rest.models._enums import StepRunStatus

__all__ = ["StepRunStatus"]
