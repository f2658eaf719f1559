"""Lifecycle hooks of a workflow: how on-success (and on-failure) tasks are named and wired.

The engine has a field for the on-failure task but none for an on-success one. An on-success task
is an ordinary task of the DAG whose parents are the workflow's leaf tasks, declared when the
workflow is registered (so tasks added after the hook still count): the engine runs it once every
leaf succeeded, and never when one failed or was cancelled. Its name carries the ``-on-success``
suffix, so its action id (``<workflow>:<name>-on-success``) and its key in a run's result are the
ones a worker of the official SDK registers, and both SDKs can serve the same workflow.

The on-failure task goes in the engine's own field, but its name carries ``-on-failure`` for the same
reason: the engine dispatches it by action id, so a worker of either SDK in a mixed fleet must
register the same ``<workflow>:<name>-on-failure``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hatchet_worker.workflow import Task

_SUFFIX = {"on_success": "-on-success", "on_failure": "-on-failure"}


def name_suffix(hook: str | None) -> str:
    """What is appended to the task name of a hook (``None``: an ordinary task)."""
    return _SUFFIX.get(hook or "", "")


def leaf_tasks(tasks: Sequence[Task[Any, Any]]) -> list[Task[Any, Any]]:
    """The tasks no other task depends on, in declaration order: the on-success task's parents."""
    return [t for t in tasks if not any(t in other.parents for other in tasks if other is not t)]
