"""Worker labels changed by a task, concurrency strategies and rate limits behave as with the official
SDK (issue §7).

``apps/parity_limits_app.py`` is one program in the official documentation's style; each test runs it
under our SDK and under the official one (``APP_SDK``) on the real engine and expects the same
behaviour: what the engine records for the worker, which runs it cancels, how it spaces rate-limited
runs. The client side is always ours.
"""

from __future__ import annotations

import importlib.util
import time
from typing import Any

import pytest

from harness.hatchet import HatchetEngine
from hatchet_worker import Hatchet
from hatchet_worker.exceptions import FailedTaskRunExceptionGroup

from .conftest import APP, standalone, wait_until

LIMITS = APP.parent / "parity_limits_app.py"
SDKS = ["hatchet_worker",
        pytest.param("hatchet_sdk", marks=pytest.mark.skipif(importlib.util.find_spec("hatchet_sdk") is None,
                                                             reason="needs the official SDK"))]


def engine_labels(hatchet: HatchetEngine, worker_id: str) -> dict[str, str]:
    return {lab["key"]: lab["value"] for lab in hatchet.rest("GET", f"/api/v1/workers/{worker_id}")["labels"] or []}


@pytest.mark.parametrize("sdk", SDKS)
def test_upserted_labels_reach_the_engine_and_steer_tasks(client: Hatchet, hatchet: HatchetEngine,
                                                          start_worker: Any, sdk: str) -> None:
    start_worker(script=LIMITS, APP_SDK=sdk)
    # Nothing offers model=fancy yet: the task that requires it waits.
    waiting = standalone(client, "needs_fancy").run_no_wait()
    time.sleep(3)
    assert client.runs.get_status(waiting.workflow_run_id) == "QUEUED"
    out = standalone(client, "relabel").run()
    assert out["labels"] == {"model": "fancy", "memory": 512}
    assert engine_labels(hatchet, out["worker"]) == {"model": "fancy", "memory": "512"}
    # Now the worker matches: the waiting task runs.
    assert waiting.result(timeout=60) == {"needs_fancy": {"ran": True}}
    # The async form; the engine keeps the earlier labels.
    assert standalone(client, "aio_relabel").run()["labels"]["stage"] == "two"
    assert engine_labels(hatchet, out["worker"]) == {"model": "fancy", "memory": "512", "stage": "two"}


@pytest.mark.parametrize("sdk", SDKS)
def test_concurrency_strategies(client: Hatchet, start_worker: Any, sdk: str) -> None:
    start_worker(script=LIMITS, APP_SDK=sdk)
    # CANCEL_IN_PROGRESS: a new run of a busy group cancels the running one.
    cip = client.workflow(name="parity_cancel_in_progress")
    first = cip.run({"group": "a", "seconds": 20}, wait_for_result=False)
    wait_until(lambda: client.runs.get_status(first.workflow_run_id) == "RUNNING", 30, "the first run to start")
    second = cip.run({"group": "a"}, wait_for_result=False)
    assert second.result(timeout=60)["cip_task"]["group"] == "a"
    with pytest.raises(FailedTaskRunExceptionGroup):
        first.result(timeout=60)
    assert client.runs.get_status(first.workflow_run_id) == "CANCELLED"
    # GROUP_ROUND_ROBIN with max_runs=1: runs of one group run one after the other, other groups alongside.
    rr = standalone(client, "parity_round_robin")
    refs = [rr.run_no_wait({"group": g, "seconds": 1.5}) for g in ("x", "x", "y")]
    outs = [r.result(timeout=60)["parity_round_robin"] for r in refs]
    (x1, x2), y = sorted((o for o in outs if o["group"] == "x"), key=lambda o: o["start"]), outs[2]
    assert x2["start"] >= x1["at"] - 0.05  # the second x started after the first ended
    assert y["start"] < x1["at"]  # y did not wait for x


def spread(outs: list[dict[str, Any]]) -> float:
    stamps = sorted(o["at"] for o in outs)
    return stamps[-1] - stamps[0]


@pytest.mark.parametrize("sdk", SDKS)
def test_static_and_dynamic_rate_limits(client: Hatchet, hatchet: HatchetEngine, start_worker: Any,
                                        sdk: str) -> None:
    start_worker(script=LIMITS, APP_SDK=sdk)  # the app puts its static limit (1 per second) first
    static = standalone(client, "parity_static_limited")
    outs = [r.result(timeout=60)["parity_static_limited"] for r in [static.run_no_wait({"user": str(i)})
                                                                   for i in range(3)]]
    assert spread(outs) >= 1.5  # one unit per second: three runs take at least two windows
    dynamic = standalone(client, "parity_dynamic_limited")
    # Dynamic keys are tenant-wide too: this test's namespace keeps its users apart from other tests'.
    ns = client.config.namespace
    same = [r.result(timeout=60)["parity_dynamic_limited"] for r in [dynamic.run_no_wait({"user": ns + "same"})
                                                                      for _ in range(3)]]
    assert spread(same) >= 1.5  # one per second for one user
    users = [f"{ns}u{i}" for i in range(3)]
    others = [r.result(timeout=60)["parity_dynamic_limited"] for r in [dynamic.run_no_wait({"user": u})
                                                                        for u in users]]
    assert sorted(o["user"] for o in others) == users
    # The engine created one limit per user, with the declared limit and window, as it did for the
    # static key put by the app.
    rows = hatchet.rest("GET", f"/api/v1/tenants/{hatchet.tenant_id}/rate-limits?limit=1000")["rows"]
    mine = {r["key"].removeprefix(ns): (r["limitValue"], r["window"]) for r in rows if r["key"].startswith(ns)}
    assert mine == {k: (1, "1 SECOND") for k in ("parity-static", "same", "u0", "u1", "u2")}
