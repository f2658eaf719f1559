"""Workflow settings are registered as the official SDK registers them (issue §9).

``apps/parity_settings_app.py`` is one program in the official documentation's style; each test runs it
under our SDK and under the official one (``APP_SDK``) and reads back what the engine recorded for each
workflow version (priority, stickiness, concurrency, input schema): the expected records are the same
for both SDKs. The client side is always ours.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from harness.hatchet import HatchetEngine
from hatchet_worker import Hatchet
from hatchet_worker.exceptions import FailedTaskRunExceptionGroup

from .conftest import APP, wait_until

SETTINGS = APP.parent / "parity_settings_app.py"
SDKS = ["hatchet_worker",
        pytest.param("hatchet_sdk", marks=pytest.mark.skipif(importlib.util.find_spec("hatchet_sdk") is None,
                                                             reason="needs the official SDK"))]


def versions(hatchet: HatchetEngine, client: Hatchet) -> dict[str, dict[str, Any]]:
    """The engine's current version of each of this test's workflows: ``{workflow name: version}``."""
    rows = hatchet.rest("GET", f"/api/v1/tenants/{hatchet.tenant_id}/workflows?limit=1000")["rows"] or []
    prefix = client.config.apply_namespace("")
    return {r["name"].removeprefix(prefix): hatchet.rest("GET", f"/api/v1/workflows/{r['metadata']['id']}/versions")
            for r in rows if r["name"].startswith(prefix)}


def recorded(version: dict[str, Any]) -> dict[str, Any]:
    """What the settings change in a version record."""
    return {"defaultPriority": version.get("defaultPriority"), "sticky": version.get("sticky"),
            "v1Concurrency": [{k: c.get(k) for k in ("expression", "maxRuns", "limitStrategy")}
                              for c in version.get("v1Concurrency") or []],
            "inputJsonSchema": version.get("inputJsonSchema")}


JOB_SCHEMA = {"properties": {"group": {"title": "Group", "type": "string"},
                              "seconds": {"default": 0, "title": "Seconds", "type": "number"}},
              "required": ["group"], "title": "Job", "type": "object"}


@pytest.mark.parametrize("sdk", SDKS)
def test_the_engine_records_the_same_settings(client: Hatchet, hatchet: HatchetEngine, start_worker: Any,
                                              sdk: str) -> None:
    start_worker(script=SETTINGS, APP_SDK=sdk)
    got = {name: recorded(v) for name, v in versions(hatchet, client).items()}
    assert got == {
        # Nothing given: priority 1 (Priority.LOW), no stickiness, no concurrency, no schema for EmptyModel.
        "parity_settings_plain": {"defaultPriority": 1, "sticky": None, "v1Concurrency": [],
                                  "inputJsonSchema": None},
        # A dataclass input has its schema recorded, as a model's.
        "parity_settings_orders": {"defaultPriority": 3, "sticky": "soft", "v1Concurrency": [], "inputJsonSchema": {
            "properties": {"qty": {"default": 1, "title": "Qty", "type": "integer"},
                           "sku": {"title": "Sku", "type": "string"}},
            "required": ["sku"], "title": "Order", "type": "object"}},
        "parity_settings_limited": {"defaultPriority": 1, "sticky": None, "inputJsonSchema": JOB_SCHEMA,
                                    "v1Concurrency": [{"expression": "input.group", "maxRuns": 1,
                                                       "limitStrategy": "CANCEL_NEWEST"}]},
        "parity_settings_listed": {"defaultPriority": 1, "sticky": None, "inputJsonSchema": JOB_SCHEMA,
                                   "v1Concurrency": [{"expression": "input.group", "maxRuns": 2,
                                                      "limitStrategy": "GROUP_ROUND_ROBIN"}]},
        # A standalone task's int concurrency is its task's constant group.
        "parity_settings_standalone": {"defaultPriority": 2, "sticky": None, "inputJsonSchema": None,
                                       "v1Concurrency": [{"expression": "'constant'", "maxRuns": 3,
                                                          "limitStrategy": "GROUP_ROUND_ROBIN"}]},
    }
    assert client.workflow(name="parity_settings_orders").run({"sku": "x"}) == {"s_order": {"sku": "x", "qty": 1}}


@pytest.mark.parametrize("sdk", SDKS)
def test_a_single_workflow_concurrency_expression_is_enforced(client: Hatchet, start_worker: Any, sdk: str) -> None:
    """Sent in the request's single concurrency field (as the official SDK sends it), the engine applies it:
    with CANCEL_NEWEST a second run of a busy group is cancelled, another group runs."""
    start_worker(script=SETTINGS, APP_SDK=sdk)
    limited = client.workflow(name="parity_settings_limited")
    first = limited.run({"group": "a", "seconds": 4}, wait_for_result=False)
    wait_until(lambda: client.runs.get_status(first.workflow_run_id) == "RUNNING", 30, "the first run to start")
    second = limited.run({"group": "a"}, wait_for_result=False)
    other = limited.run({"group": "b"}, wait_for_result=False)
    assert other.result(timeout=60) == {"s_limited": {"group": "b"}}
    with pytest.raises(FailedTaskRunExceptionGroup):
        second.result(timeout=60)
    assert client.runs.get_status(second.workflow_run_id) == "CANCELLED"
    assert first.result(timeout=60) == {"s_limited": {"group": "a"}}
