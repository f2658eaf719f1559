"""`durableSlots: 0` (HATCHET_CLIENT_WORKER_DURABLE_SLOTS=0) means "no durable pool": the worker
registers with the real engine offering only its default pool and runs ordinary tasks; with a durable
task registered it refuses to start, saying why, instead of crash-looping on an opaque error."""

from __future__ import annotations

from typing import Any

from harness.hatchet import HatchetEngine
from hatchet_operator import render
from hatchet_operator.api import v1alpha1 as api
from hatchet_worker import Hatchet

from .conftest import WorkerProc, standalone
from .test_scheduling import worker_info


def _operator_value() -> str:
    """What the operator renders for a HatchetWorker with `durableSlots: 0` (CRD -> model -> env)."""
    worker = api.HatchetWorker.model_validate({"metadata": {"name": "w"}, "spec": {"image": "i", "durableSlots": 0}})
    env = {e["name"]: e.get("value") for e in render.worker_env(worker)}
    return str(env["HATCHET_CLIENT_WORKER_DURABLE_SLOTS"])


def test_zero_durable_slots_registers_without_a_durable_pool_and_runs_tasks(
    client: Hatchet, start_worker: Any, hatchet: HatchetEngine
) -> None:
    worker: WorkerProc = start_worker(HATCHET_CLIENT_WORKER_DURABLE_SLOTS=_operator_value())
    info = worker_info(hatchet, worker.health()[1]["worker_id"])
    # The engine's own record of the registration, not the worker's claim.
    assert "durable" not in info["slotConfig"], info["slotConfig"]
    assert info["slotConfig"]["default"]["limit"] == 100
    out = standalone(client, "sleepy").run({"seconds": 0.1})
    assert out["end"] >= out["start"]
    assert worker.metric("hatchet_worker_tasks_succeeded_total") >= 1


def test_zero_durable_slots_with_a_durable_task_fails_fast_naming_the_setting(start_worker: Any) -> None:
    worker: WorkerProc = start_worker(
        APP_DURABLE="1", HATCHET_CLIENT_WORKER_DURABLE_SLOTS=_operator_value(), healthy=False
    )
    assert worker.wait_exit(30) == 2
    assert "needs 1 durable slot(s) but the worker offers 0" in worker.output()
