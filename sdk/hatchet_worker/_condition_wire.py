"""Task conditions as the engine's ``v1.TaskConditions`` (protocol translation; no I/O)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hatchet_worker._proto import v1_condition_pb2 as pb
from hatchet_worker.conditions import Action, Condition, ParentCondition, SleepCondition, UserEventCondition


def _base(condition: Condition, action: Action) -> pb.BaseMatchCondition:
    return pb.BaseMatchCondition(readable_data_key=condition.readable_data_key, action=action.value,
                                 or_group_id=condition.or_group_id, expression=condition.expression or "")


def add_sleep_or_event(msg: Any, base: pb.BaseMatchCondition, condition: Condition,
                       apply_namespace: Callable[[str], str]) -> bool:
    """Add a sleep or user-event condition to ``msg`` (a ``TaskConditions`` or a durable wait's
    ``DurableEventListenerConditions``: both hold them the same way); False for any other kind."""
    if isinstance(condition, SleepCondition):
        msg.sleep_conditions.add(base=base, sleep_for=condition.sleep_for)
    elif isinstance(condition, UserEventCondition):
        event = msg.user_event_conditions.add(base=base, user_event_key=apply_namespace(condition.event_key))
        if condition.scope is not None:
            event.event_scope = condition.scope
        if condition.consider_events_since is not None:
            event.consider_events_since.FromDatetime(condition.consider_events_since)
    else:
        return False
    return True


def conditions_proto(pairs: Sequence[tuple[Condition, Action]],
                     apply_namespace: Callable[[str], str]) -> pb.TaskConditions:
    """``pairs`` (from ``conditions.task_conditions``); event keys namespaced like pushed events."""
    msg = pb.TaskConditions()
    for condition, action in pairs:
        base = _base(condition, action)
        if add_sleep_or_event(msg, base, condition, apply_namespace):
            continue
        if isinstance(condition, ParentCondition):
            msg.parent_override_conditions.add(base=base, parent_readable_id=condition.parent.name)
        else:  # flatten_conditions admits only the three kinds
            raise TypeError(f"unknown condition {condition!r}")
    return msg
