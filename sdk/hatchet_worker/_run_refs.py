"""A run's declarations: the options it is triggered with and the handles that wait for it.

Pure: a :class:`WorkflowRunRef` waits through the client it is given (``client.runs``), so the
declarations (``workflow``) can shape runs without importing the transport (``runs``), which
re-exports these names at their official paths.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from hatchet_worker.labels import DesiredWorkerLabel, labels_by_key

if TYPE_CHECKING:
    from hatchet_worker.client import Hatchet

R = TypeVar("R")


class TriggerWorkflowOptions(BaseModel):
    """Per-run options for ``run``/``run_no_wait`` (the official SDK's fields; unknown ones are refused).

    ``sticky=True`` from inside a task asks the engine to run the new run on this task's worker
    (``desired_worker_id`` wins when given). ``key`` is accepted for compatibility but the engine's
    trigger request has no such field (the official SDK does not send it either), so it warns.
    """

    model_config = ConfigDict(extra="forbid")

    parent_id: str | None = None
    parent_step_run_id: str | None = None
    child_index: int | None = None
    child_key: str | None = None
    namespace: str | None = None
    additional_metadata: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = None
    desired_worker_id: str | None = None
    sticky: bool = False
    key: str | None = None
    desired_worker_label: dict[str, DesiredWorkerLabel] | list[DesiredWorkerLabel] | None = None
    desired_worker_labels: dict[str, DesiredWorkerLabel] = Field(default_factory=dict)
    """This SDK's earlier spelling of ``desired_worker_label`` (dict form only)."""

    def labels(self) -> dict[str, DesiredWorkerLabel]:
        """Both label fields merged into ``{key: label}`` (the list form needs ``key`` on each label)."""
        return {**self.desired_worker_labels, **labels_by_key(self.desired_worker_label)}


_warned: set[str] = set()


def _warn_once(option: str, message: str) -> None:
    if option not in _warned:
        _warned.add(option)
        warnings.warn(message, UserWarning, stacklevel=4)


def merge_options(options: TriggerWorkflowOptions | None, **given: Any) -> TriggerWorkflowOptions:
    """``options`` with the per-call keyword arguments that were given (not None/False/empty) on top."""
    opts = options or TriggerWorkflowOptions()
    update = {k: v for k, v in given.items() if v is not None and v is not False and v != {}}
    if "additional_metadata" in update:
        update["additional_metadata"] = {**opts.additional_metadata, **update["additional_metadata"]}
    if "desired_worker_labels" in update:
        update["desired_worker_label"] = update.pop("desired_worker_labels")
    return TriggerWorkflowOptions.model_validate({**opts.model_dump(exclude_unset=True), **update}) \
        if update else opts


class WorkflowRunRef:
    """A triggered run: ``result()`` / ``await aio_result()`` wait for it."""

    def __init__(self, client: Hatchet, workflow_run_id: str) -> None:
        self._client = client
        self.workflow_run_id = workflow_run_id

    def __str__(self) -> str:
        return self.workflow_run_id

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        """Block until the run finishes; ``{task_name: output}``.

        Raises:
            FailedTaskRunExceptionGroup: the run failed or was cancelled.
            TimeoutError: ``timeout`` seconds passed first.
        """
        return self._client.runs.wait(self.workflow_run_id, timeout)

    async def aio_result(self, timeout: float | None = None) -> dict[str, Any]:
        return await self._client.runs.aio_wait(self.workflow_run_id, timeout)


class TaskRunRef(Generic[R]):
    """A triggered run of a standalone task: ``result()`` returns that task's output, validated into
    the task's declared return type (what ``Standalone.run`` returns)."""

    def __init__(self, ref: WorkflowRunRef, extract: Callable[[dict[str, Any]], R]) -> None:
        self._ref = ref
        self._extract = extract
        self.workflow_run_id = ref.workflow_run_id

    def __str__(self) -> str:
        return self.workflow_run_id

    def result(self, timeout: float | None = None) -> R:
        return self._extract(self._ref.result(timeout))

    async def aio_result(self, timeout: float | None = None) -> R:
        return self._extract(await self._ref.aio_result(timeout))
