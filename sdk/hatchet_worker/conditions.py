"""Task conditions: when a task waits (``wait_for``), is skipped (``skip_if``) or cancelled (``cancel_if``).

Pure declarations. The engine evaluates them: a task with conditions is created only once its
parents finished and its ``wait_for`` groups are satisfied; a satisfied ``skip_if`` completes it
with the output ``{"skipped": True}``; a satisfied ``cancel_if`` cancels it. Conditions in one
``or_(...)`` group share an or-group id: any one of them satisfies the group; separate groups
must all be satisfied. ``_register`` turns them into the ``TaskConditions`` of ``PutWorkflow``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from hatchet_worker._duration import Duration, duration_expr

if TYPE_CHECKING:
    from hatchet_worker.workflow import Task


class Action(Enum):
    """What a satisfied condition does (the engine's values)."""

    CREATE = 0
    QUEUE = 1
    CANCEL = 2
    SKIP = 3


def _new_group() -> str:
    return str(uuid.uuid4())


class Condition:
    """One condition; ``readable_data_key`` names its data in the task's trigger data."""

    def __init__(self, readable_data_key: str, expression: str | None = None) -> None:
        self.readable_data_key = readable_data_key
        self.expression = expression
        self.or_group_id = _new_group()  # alone, a condition is its own group

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.readable_data_key!r})"


class SleepCondition(Condition):
    """Satisfied ``duration`` after the task's parents finished."""

    def __init__(self, duration: Duration, readable_data_key: str | None = None) -> None:
        self.sleep_for = duration_expr(duration)
        super().__init__(readable_data_key or f"sleep:{self.sleep_for}")
        self.duration = duration


class UserEventCondition(Condition):
    """Satisfied by a pushed event ``event_key`` (namespaced like pushes) matching the CEL
    ``expression`` (over ``input``, the event's payload), in ``scope`` when given, counting events
    since ``consider_events_since`` when given."""

    def __init__(self, event_key: str, expression: str | None = None, readable_data_key: str | None = None,
                 scope: str | None = None, consider_events_since: datetime | None = None) -> None:
        super().__init__(readable_data_key or event_key, expression)
        self.event_key = event_key
        self.scope = scope
        self.consider_events_since = consider_events_since


class ParentCondition(Condition):
    """Satisfied when parent ``parent``'s output matches the CEL ``expression`` (over ``output``)."""

    def __init__(self, parent: Task[Any, Any], expression: str | None = None,
                 readable_data_key: str | None = None) -> None:
        # The default key is unique per declaration (the official SDK's shape: name, expression, time).
        default = f"{parent.name}{':' + expression if expression else ''}:{datetime.now(tz=UTC).isoformat()}"
        super().__init__(readable_data_key or default, expression)
        self.parent = parent


class OrGroup:
    """Conditions of which any one satisfies the group (make with :func:`or_`)."""

    def __init__(self, conditions: Sequence[Condition]) -> None:
        self.or_group_id = _new_group()
        self.conditions = list(conditions)


def or_(*conditions: Condition) -> OrGroup:
    return OrGroup(conditions)


def flatten_conditions(items: Sequence[Condition | OrGroup] | None) -> list[Condition]:
    """The conditions of ``items``, each or-group's members given that group's id."""
    out: list[Condition] = []
    for item in items or []:
        if isinstance(item, OrGroup):
            for condition in item.conditions:
                condition.or_group_id = item.or_group_id
            out.extend(item.conditions)
        elif isinstance(item, Condition):
            out.append(item)
        else:
            raise TypeError(f"a task condition must be a SleepCondition, UserEventCondition, ParentCondition "
                            f"or or_(...), not {type(item).__name__}")
    return out


def task_conditions(wait_for: Sequence[Condition | OrGroup] | None, skip_if: Sequence[Condition | OrGroup] | None,
                    cancel_if: Sequence[Condition | OrGroup] | None) -> list[tuple[Condition, Action]]:
    """Each condition with its action; readable data keys must be unique within the task.

    Raises:
        ValueError: two conditions of the task share a readable data key.
    """
    pairs = ([(c, Action.QUEUE) for c in flatten_conditions(wait_for)]
             + [(c, Action.CANCEL) for c in flatten_conditions(cancel_if)]
             + [(c, Action.SKIP) for c in flatten_conditions(skip_if)])
    keys = [c.readable_data_key for c, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"conditions of a task must have unique readable data keys, got {keys}")
    return pairs
