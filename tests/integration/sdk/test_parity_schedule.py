"""Scheduled runs, crons created from the client and declared crons with ``cron_input`` behave as with
the official SDK (issue §4).

``apps/parity_schedule_app.py`` is one program in the official documentation's style; the test runs it
under our SDK and under the official one (``APP_SDK``). Its ``parity_scheduler`` task calls
``schedule``/``aio_schedule``/``aio_create_cron`` with the worker's own SDK, so both SDKs' clients talk
to the real engine; the test then reads what the engine recorded (its cron list) and waits for the
scheduled and cron runs to happen, with the inputs and metadata they were given.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from harness.hatchet import HatchetEngine
from hatchet_worker import Hatchet

from .conftest import APP, wait_until

SCHEDULE = APP.parent / "parity_schedule_app.py"
SDKS = ["hatchet_worker",
        pytest.param("hatchet_sdk", marks=pytest.mark.skipif(importlib.util.find_spec("hatchet_sdk") is None,
                                                             reason="needs the official SDK"))]


def seen(markers: Path, kind: str) -> list[dict[str, Any]]:
    return sorted((json.loads(p.read_text()) for p in markers.glob(f"{kind}-*.json")), key=lambda r: r["n"])


def crons_of(hatchet: HatchetEngine, client: Hatchet) -> dict[str, dict[str, Any]]:
    """The engine's cron triggers of this test's workflows: ``{workflow name: cron}``."""
    rows = hatchet.rest("GET", f"/api/v1/tenants/{hatchet.tenant_id}/workflows/crons?limit=1000")["rows"] or []
    prefix = client.config.apply_namespace("")
    return {r["workflowName"].removeprefix(prefix): r for r in rows if r["workflowName"].startswith(prefix)}


@pytest.mark.parametrize("sdk", SDKS)
def test_schedule_create_cron_and_cron_input(client: Hatchet, hatchet: HatchetEngine, start_worker: Any,
                                             markers: Path, sdk: str) -> None:
    start_worker(script=SCHEDULE, APP_SDK=sdk)
    created: dict[str, dict[str, Any]] = {}
    try:
        out = client.workflow(name="parity_scheduler").run()["parity_scheduler"]
        created = crons_of(hatchet, client)
        # Both SDKs return the engine's WorkflowVersion (one per call, for the same version) with the
        # scheduled run at the requested time, and the created cron as CronWorkflows.
        assert out == {
            "versions": ["WorkflowVersion", "WorkflowVersion"], "same_version": True,
            "scheduled_ids": [True, True], "trigger_at_ms": [0, 1000],
            "cron": {"type": "CronWorkflows", "name": "every-minute", "cron": "* * * * *", "input": {"n": 9},
                     "additional_metadata": {"c": "1"}, "enabled": True, "method": "API", "priority": 2,
                     "workflow_name": "parity_cron_target", "has_id": True}}
        # What the engine recorded: the created cron, and the declared one with its cron_input.
        assert {name: (c["cron"], c["input"], c["method"]) for name, c in created.items()} == {
            "parity_cron_target": ("* * * * *", {"n": 9}, "API"),
            "parity_declared_cron": ("* * * * *", {"n": 7}, "DEFAULT")}
        # The scheduled runs happen with their input and the workflow's default metadata under theirs.
        assert wait_until(lambda: len(seen(markers, "later")) == 2 and seen(markers, "later"), 30,
                          "the scheduled runs") == [{"n": 5, "metadata": {"from": "default", "k": "v"}},
                                                    {"n": 6, "metadata": {"from": "default"}}]
        # Both crons fire at the next minute with their inputs (and the created one's metadata).
        assert wait_until(lambda: seen(markers, "cron"), 75, "the created cron's run")[0] == {
            "n": 9, "metadata": {"c": "1"}}
        assert wait_until(lambda: seen(markers, "declared"), 15, "the declared cron's run")[0]["n"] == 7
    finally:
        for cron in created.values():  # no cron of this test keeps firing after it
            hatchet.rest("DELETE", f"/api/v1/tenants/{hatchet.tenant_id}/workflows/crons/{cron['metadata']['id']}")
