"""``hatchet.cron`` and ``hatchet.scheduled`` behave as in the official SDK (issue §10).

``apps/parity_triggers_app.py`` is one program in the official documentation's style; the test runs it
under our SDK and under the official one (``APP_SDK``). Its task creates, reads, lists, moves and
deletes a cron trigger and a scheduled run with the worker's own SDK; both SDKs must return the same
model types with the same fields and values, and leave the engine in the same state.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from harness.hatchet import HatchetEngine
from hatchet_worker import Hatchet

from .conftest import APP, standalone

TRIGGERS = APP.parent / "parity_triggers_app.py"
SDKS = ["hatchet_worker",
        pytest.param("hatchet_sdk", marks=pytest.mark.skipif(importlib.util.find_spec("hatchet_sdk") is None,
                                                             reason="needs the official SDK"))]
CRON_FIELDS = ["additional_metadata", "cron", "enabled", "input", "metadata", "method", "name", "priority",
               "tenant_id", "workflow_id", "workflow_name", "workflow_version_id"]
SCHED_FIELDS = ["additional_metadata", "input", "metadata", "method", "priority", "tenant_id", "trigger_at",
                "workflow_id", "workflow_name", "workflow_run_created_at", "workflow_run_id", "workflow_run_name",
                "workflow_run_status", "workflow_version_id"]


@pytest.mark.parametrize("sdk", SDKS)
def test_cron_and_scheduled_clients(client: Hatchet, hatchet: HatchetEngine, start_worker: Any, sdk: str) -> None:
    start_worker(script=TRIGGERS, APP_SDK=sdk)
    out = standalone(client, "t_manage").run()
    name = client.config.apply_namespace("parity_trig_target")
    cron = {"type": "CronWorkflows", "fields": CRON_FIELDS, "workflow_name": name, "cron": "0 3 * * *",
            "name": "nightly", "input": {"who": "cron"}, "additional_metadata": {"team": "a"}, "enabled": True,
            "method": "API", "priority": 1}
    sched = {"type": "ScheduledWorkflows", "fields": SCHED_FIELDS, "workflow_name": name,
             "input": {"who": "sched"}, "additional_metadata": {"team": "b"}, "method": "API", "priority": 1}
    assert out == {
        "cron_created": cron, "cron_got": cron,
        "cron_listed": {"type": "CronWorkflowsList", "ids": [True], "pagination": "PaginationResponse"},
        "cron_after_delete": 0,
        "sched_created": sched, "sched_at": True, "sched_moved": True, "sched_got": sched, "sched_listed": [True],
        "sched_after_delete": 0,
    }
