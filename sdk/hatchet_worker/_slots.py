"""Pure slot-pool resolution: what a worker offers the engine in ``Register.slot_config``.

The engine enforces slots: it assigns a task only when the worker has ``slot_requests`` units free
in the task's pool. Defaults follow the official worker documentation: a ``default`` pool of 100
when a standard task is registered (or nothing is), a ``durable`` pool of 1000 only when a durable
task is registered. Values set by the operator through the environment win over values in code.
Durable slots 0 means "no durable pool": the worker offers only the default pool, and registering a
durable task is then a configuration error (the task could never run on this worker).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

DEFAULT_SLOTS = 100
DEFAULT_DURABLE_SLOTS = 1000


@dataclasses.dataclass(frozen=True)
class SlotPlan:
    slot_config: dict[str, int]
    """Slot type -> units, as sent in Register."""
    overrides: tuple[str, ...]
    """Human-readable notes on environment values that replaced values from code."""


def resolve_slots(*, code_slots: int | None, code_durable_slots: int | None, env_slots: int | None,
                  env_durable_slots: int | None, task_slots: Iterable[tuple[str, str, int]]) -> SlotPlan:
    """Resolve the slot pools.

    Args:
        code_slots: ``slots=`` given in code.
        code_durable_slots: ``durable_slots=`` given in code.
        env_slots: ``HATCHET_CLIENT_WORKER_SLOTS``.
        env_durable_slots: ``HATCHET_CLIENT_WORKER_DURABLE_SLOTS``.
        task_slots: ``(task action, slot type, units)`` for every registered task.

    Raises:
        ValueError: a default pool is not positive, a durable pool is negative, or a task needs more
            units than its pool offers.
    """
    tasks = list(task_slots)
    needs_default = not tasks or any(kind == "default" for _, kind, _ in tasks)
    needs_durable = any(kind == "durable" for _, kind, _ in tasks)
    notes: list[str] = []

    def pick(kind: str, code: int | None, env: int | None, var: str, least: int) -> int | None:
        if env is not None and code is not None and env != code:
            notes.append(f"{kind} slots: {var}={env} overrides {code} set in code")
        value = env if env is not None else code
        if value is not None and value < least:
            raise ValueError(f"{kind} slots must be >= {least}, got {value}")
        return value

    config: dict[str, int] = {}
    default = pick("default", code_slots, env_slots, "HATCHET_CLIENT_WORKER_SLOTS", 1)
    if default is not None or needs_default:
        config["default"] = default if default is not None else DEFAULT_SLOTS
    durable = pick("durable", code_durable_slots, env_durable_slots, "HATCHET_CLIENT_WORKER_DURABLE_SLOTS", 0)
    if durable == 0:
        pass  # No durable pool at all: the engine gets no "durable" entry rather than a zero-unit pool.
    elif durable is not None or needs_durable:
        config["durable"] = durable if durable is not None else DEFAULT_DURABLE_SLOTS
    for action, kind, units in tasks:
        if units > config.get(kind, 0):
            raise ValueError(f"task {action} needs {units} {kind} slot(s) but the worker offers "
                             f"{config.get(kind, 0)}; raise the worker's {kind} slots or lower slot_cost")
    return SlotPlan(slot_config=config, overrides=tuple(notes))
