"""``hatchet.runs`` behaves as in the official SDK (issue §10).

``apps/parity_runs_app.py`` is one program in the official documentation's style; the test runs it
under our SDK and under the official one (``APP_SDK``). Its tasks trigger runs, then get, list,
replay (one and in bulk) and cancel (by filter and by id) them, and create one over REST, with the
worker's own SDK, sync and ``aio_`` forms; both SDKs must return the same model types and values,
and the engine must do the same: replayed runs run again (counted by the app), cancelled runs end
CANCELLED, others untouched.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from harness.hatchet import HatchetEngine
from hatchet_worker import Hatchet

from .conftest import APP, standalone

RUNS = APP.parent / "parity_runs_app.py"
SDKS = ["hatchet_worker",
        pytest.param("hatchet_sdk", marks=pytest.mark.skipif(importlib.util.find_spec("hatchet_sdk") is None,
                                                             reason="needs the official SDK"))]


@pytest.mark.parametrize("sdk", SDKS)
def test_runs_client(client: Hatchet, hatchet: HatchetEngine, start_worker: Any, sdk: str) -> None:
    start_worker(script=RUNS, APP_SDK=sdk)
    out = standalone(client, "t_runs").run()
    details = {"type": "V1WorkflowRunDetails", "run": "V1WorkflowRun", "status": "COMPLETED", "output_keys": ["key"],
               "tasks": [["V1TaskSummary", "t_count", "COMPLETED"]], "shape": ["t_count"]}
    assert out == {
        "status": ["V1TaskStatus", True, True],
        "get": details,
        "list": {"type": "V1TaskSummaryList", "pagination": "PaginationResponse",
                 "rows": [["V1TaskSummary", "COMPLETED", "DAG", True]] * 2},
        "list_completed": 2, "list_failed": 0,
        "ran": [3, 2],
        "cancelled": ["CANCELLED", "CANCELLED"],
        "completed_untouched": ["COMPLETED", "COMPLETED"],
        "created": ["V1WorkflowRunDetails", 1, ["key"], "V1TaskSummary", "COMPLETED", ["key"]],
    }
    aio = standalone(client, "t_aio_runs").run()
    assert aio == {"status": ["V1TaskStatus", "COMPLETED"], "get": details, "list": [[True, "COMPLETED"]],
                   "ran": 3, "cancelled": "CANCELLED"}
