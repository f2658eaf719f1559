"""What ``workflow.schedule`` / ``create_cron`` refuse before calling the engine.

The requests themselves are compared with the official SDK's in ``test_parity_protos.py``, and the
calls are proven on the real engine under both SDKs in ``tests/integration/sdk/test_parity_schedule.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hatchet_worker import DesiredWorkerLabel, TriggerWorkflowOptions
from hatchet_worker._schedules import check_cron_expression, schedule_request
from hatchet_worker.exceptions import UnsupportedFeatureError

AT = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("options", [
    TriggerWorkflowOptions(sticky=True), TriggerWorkflowOptions(desired_worker_id="w"),
    TriggerWorkflowOptions(desired_worker_label=[DesiredWorkerLabel(key="gpu", value=1)]),
    TriggerWorkflowOptions(key="k"), TriggerWorkflowOptions(namespace="other"),
])
def test_options_a_scheduled_run_cannot_carry_are_refused_by_name(options: TriggerWorkflowOptions) -> None:
    field = next(iter(options.model_dump(exclude_defaults=True)))
    with pytest.raises(UnsupportedFeatureError, match=f"options.{field}"):
        schedule_request("wf", AT, {}, options, {})


def test_parent_and_child_fields_are_sent() -> None:
    opts = TriggerWorkflowOptions(parent_id="p", parent_step_run_id="s", child_index=2, child_key="c", priority=1)
    req = schedule_request("wf", AT, {"a": 1}, opts, {})
    assert (req.parent_id, req.parent_task_run_external_id, req.child_index, req.child_key, req.priority) == (
        "p", "s", 2, "c", 1)
    assert req.schedules[0].ToDatetime(tzinfo=UTC) == AT


@pytest.mark.parametrize("expression", ["* * * * *", "*/5 0-6 1,15 * *", "0 0 * * * 1", " @daily "])
def test_cron_expressions_the_official_sdk_accepts(expression: str) -> None:
    assert check_cron_expression(expression) == (expression.strip() if "@" in expression else expression)


@pytest.mark.parametrize("expression", ["", "* * * *", "a * * * *", "@never"])
def test_cron_expressions_the_official_sdk_refuses(expression: str) -> None:
    with pytest.raises(ValueError):
        check_cron_expression(expression)
