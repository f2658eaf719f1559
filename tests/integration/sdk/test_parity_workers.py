"""``hatchet.workers`` behaves as in the official SDK (issue §10).

``apps/parity_workers_app.py`` is one program in the official documentation's style; the test runs it
under our SDK and under the official one (``APP_SDK``). Its tasks list and get their own worker,
pause, unpause and update it with the worker's own SDK (sync and ``aio_`` forms); both SDKs must
return the same model types and values, and the engine must report the same worker states.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from harness.hatchet import HatchetEngine
from hatchet_worker import Hatchet

from .conftest import APP, standalone

WORKERS = APP.parent / "parity_workers_app.py"
SDKS = ["hatchet_worker",
        pytest.param("hatchet_sdk", marks=pytest.mark.skipif(importlib.util.find_spec("hatchet_sdk") is None,
                                                             reason="needs the official SDK"))]


@pytest.mark.parametrize("sdk", SDKS)
def test_workers_client(client: Hatchet, hatchet: HatchetEngine, start_worker: Any, sdk: str) -> None:
    start_worker(script=WORKERS, APP_SDK=sdk)
    out = standalone(client, "t_workers").run()
    ns = client.config.apply_namespace
    worker = {"model": "Worker", "name": ns("parity-workers-worker"), "type": "SELFHOSTED", "status": "ACTIVE",
              "actions": [f"{ns('t_aio_workers')}:t_aio_workers", f"{ns('t_workers')}:t_workers"],
              "labels": [["n", "3"], ["team", "a"]], "slots": {"default": 3}, "language": "PYTHON"}
    assert out == {"list": {"model": "WorkerList", "mine": 1, "status": "ACTIVE"}, "get": worker,
                   "pause": ["Worker", "PAUSED"], "unpause": ["Worker", "ACTIVE"]}
    aio = standalone(client, "t_aio_workers").run()
    assert aio == {"list": 1, "get": worker, "pause": "PAUSED", "unpause": "ACTIVE", "update_paused": "PAUSED",
                   "update_unpaused": ["Worker", "ACTIVE"]}
