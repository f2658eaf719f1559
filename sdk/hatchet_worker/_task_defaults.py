"""``hatchet.workflow(task_defaults=TaskDefaults(...))``: option values for the tasks of one workflow.

A task option left at its parameter's default takes the workflow's default instead, as in the
official SDK: ``execution_timeout`` (60 s), ``schedule_timeout`` (5 min), ``retries`` (0),
``backoff_factor`` and ``backoff_max_seconds`` (unset). As there, "left at the default" means
"equal to it": a task that passes ``retries=0`` explicitly also takes the workflow's value. The
defaults apply to ``task`` and ``durable_task``, not to the on-failure / on-success tasks.
"""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hatchet_worker import _parity
from hatchet_worker._duration import Duration

_PARAM_DEFAULTS: dict[str, Any] = {
    "execution_timeout": timedelta(seconds=60),
    "schedule_timeout": timedelta(minutes=5),
    "retries": 0,
    "backoff_factor": None,
    "backoff_max_seconds": None,
}


class TaskDefaults(BaseModel):
    """Default option values for the tasks of a workflow (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")  # an unknown option is refused, naming it

    schedule_timeout: Duration | None = None
    execution_timeout: Duration | None = None
    priority: int | None = Field(default=None, gt=0, lt=4)
    retries: int | None = None
    backoff_factor: float | None = None
    backoff_max_seconds: int | None = None

    @model_validator(mode="after")
    def _warn_priority(self) -> TaskDefaults:
        if self.priority is not None and "priority" not in _warned:
            _warned.add("priority")
            warnings.warn(f"TaskDefaults(priority=...) has no effect: {_parity.NO_EFFECT['TaskDefaults']['priority']}",
                          UserWarning, stacklevel=2)
        return self


_warned: set[str] = set()


def _seconds(value: Any) -> Any:
    # A number duration means seconds (the official SDK's pydantic validation reads an int the same
    # way), so an explicit ``60`` counts as the 60 s default.
    return timedelta(seconds=value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def apply(opts: dict[str, Any], defaults: TaskDefaults | None) -> dict[str, Any]:
    """``opts`` (a task's declared options) with each one left at its default replaced by ``defaults``."""
    if defaults is None:
        return opts
    out = dict(opts)
    for key, param_default in _PARAM_DEFAULTS.items():
        fallback = getattr(defaults, key)
        value = _seconds(out[key]) if key.endswith("_timeout") else out[key]
        if fallback is not None and value == param_default:
            out[key] = fallback
    return out
