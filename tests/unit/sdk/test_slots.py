"""Slot pool resolution (defaults, environment overrides, impossible slot costs)."""

from __future__ import annotations

import pytest

from hatchet_worker._slots import resolve_slots

STD = ("wf:a", "default", 1)
DUR = ("wf:d", "durable", 1)


@pytest.mark.parametrize(("code", "env", "tasks", "expected"), [
    ((None, None), (None, None), [], {"default": 100}),
    ((None, None), (None, None), [STD], {"default": 100}),
    ((None, None), (None, None), [DUR], {"durable": 1000}),
    ((None, None), (None, None), [STD, DUR], {"default": 100, "durable": 1000}),
    ((5, None), (None, None), [STD, DUR], {"default": 5, "durable": 1000}),
    ((5, 50), (None, None), [STD], {"default": 5, "durable": 50}),
    ((5, 50), (8, 80), [STD, DUR], {"default": 8, "durable": 80}),
    ((None, None), (3, None), [DUR], {"default": 3, "durable": 1000}),
])
def test_resolution(code: tuple[int | None, int | None], env: tuple[int | None, int | None],
                    tasks: list[tuple[str, str, int]], expected: dict[str, int]) -> None:
    plan = resolve_slots(code_slots=code[0], code_durable_slots=code[1], env_slots=env[0],
                         env_durable_slots=env[1], task_slots=tasks)
    assert plan.slot_config == expected


def test_environment_override_is_reported() -> None:
    plan = resolve_slots(code_slots=5, code_durable_slots=None, env_slots=8, env_durable_slots=None,
                         task_slots=[STD])
    assert plan.overrides == ("default slots: HATCHET_CLIENT_WORKER_SLOTS=8 overrides 5 set in code",)
    same = resolve_slots(code_slots=8, code_durable_slots=None, env_slots=8, env_durable_slots=None,
                         task_slots=[STD])
    assert same.overrides == ()


def test_slot_cost_larger_than_the_pool_is_rejected() -> None:
    with pytest.raises(ValueError, match="needs 4 default slot"):
        resolve_slots(code_slots=3, code_durable_slots=None, env_slots=None, env_durable_slots=None,
                      task_slots=[("wf:big", "default", 4)])


def test_non_positive_slots_are_rejected() -> None:
    with pytest.raises(ValueError, match=">= 1"):
        resolve_slots(code_slots=0, code_durable_slots=None, env_slots=None, env_durable_slots=None,
                      task_slots=[STD])


def test_zero_durable_slots_means_no_durable_pool() -> None:
    # The operator passes HATCHET_CLIENT_WORKER_DURABLE_SLOTS=0 for `durableSlots: 0`.
    plan = resolve_slots(code_slots=None, code_durable_slots=50, env_slots=None, env_durable_slots=0,
                         task_slots=[STD])
    assert plan.slot_config == {"default": 100}
    plan = resolve_slots(code_slots=4, code_durable_slots=0, env_slots=None, env_durable_slots=None,
                         task_slots=[])
    assert plan.slot_config == {"default": 4}


def test_zero_durable_slots_with_a_durable_task_is_rejected() -> None:
    with pytest.raises(ValueError, match="needs 1 durable slot"):
        resolve_slots(code_slots=None, code_durable_slots=None, env_slots=None, env_durable_slots=0,
                      task_slots=[STD, DUR])


def test_negative_durable_slots_are_rejected() -> None:
    with pytest.raises(ValueError, match="durable slots must be >= 0"):
        resolve_slots(code_slots=None, code_durable_slots=-1, env_slots=None, env_durable_slots=None,
                      task_slots=[STD])
