"""Probes against the real engine: ``/livez`` stays up through an engine outage and fails for a
zombie whose listener frames no longer reach the runner."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from harness.hatchet import HatchetEngine
from hatchet_worker import Hatchet
from hatchet_worker.worker import PUMP_STALE_SECONDS

from .conftest import ExecutionLog, WorkerProc, standalone, wait_until

FAULT_APP = Path(__file__).parent / "apps" / "pump_fault_app.py"
OUTAGE_SECONDS = 90
# The operator's default liveness probe: every 15 s, 3 failures (render.LIVENESS).
LIVENESS_WINDOW = 45


class Sampler:
    """Polls endpoints of a worker once a second in a thread; counts the status codes seen."""

    def __init__(self, worker: WorkerProc, paths: tuple[str, ...]) -> None:
        self.worker = worker
        self.seen: dict[str, Counter[int]] = {p: Counter() for p in paths}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            for path, counts in self.seen.items():
                try:
                    counts[self.worker.get(path)[0]] += 1
                except OSError:  # no answer at all counts as a failed probe
                    counts[0] += 1

    def stop(self) -> dict[str, Counter[int]]:
        self._stop.set()
        self._thread.join(10)
        return self.seen


@pytest.mark.engine_restart
def test_engine_outage_of_90s_keeps_livez_up_and_every_task_completes_once(
        client: Hatchet, start_worker: Any, hatchet: HatchetEngine, executions_db: ExecutionLog) -> None:
    worker: WorkerProc = start_worker(APP_SLOTS="10", APP_TAG="a", **executions_db.env)
    recorded = standalone(client, "recorded")
    now = time.time()
    # Half end while the engine is down (their results wait in the SDK), half after it is back.
    refs = [recorded.run_no_wait({"until": now + (40 if i % 2 else OUTAGE_SECONDS + 30), "sync": i % 4 < 2})
            for i in range(8)]
    run_ids = {r.workflow_run_id for r in refs}
    wait_until(lambda: set(executions_db.counts()) == run_ids, 30, "all 8 runs executing")
    sampler = Sampler(worker, ("/livez", "/readyz", "/health"))
    hatchet.restart(down_seconds=OUTAGE_SECONDS)
    wait_until(lambda: worker.get("/readyz")[0] == 200, 60, "ready again after the outage")
    seen = sampler.stop()
    # About one sample a second over the outage and the engine's start: /livez answered 200 every
    # time, while readiness and the official-SDK /health did see the outage.
    assert sum(seen["/livez"].values()) >= OUTAGE_SECONDS, seen
    assert set(seen["/livez"]) == {200}, seen
    assert seen["/readyz"][503] > 0 and seen["/health"][503] > 0, seen
    for ref in refs:
        assert next(iter(ref.result(timeout=180).values()))["tag"] == "a"
    assert worker.popen.poll() is None
    assert worker.metric("hatchet_worker_listener_restarts_total") == 0
    # Exactly once, counted in PostgreSQL and at the engine.
    assert executions_db.counts() == dict.fromkeys(run_ids, 1)
    for ref in refs:
        tasks = hatchet.rest("GET", f"/api/v1/stable/workflow-runs/{ref.workflow_run_id}")["tasks"]
        assert [(t["status"], t["retryCount"]) for t in tasks] == [("COMPLETED", 0)]


def test_stalled_pump_fails_livez_and_its_runs_complete_elsewhere_once(
        client: Hatchet, start_worker: Any, hatchet: HatchetEngine, markers: Path,
        executions_db: ExecutionLog) -> None:
    zombie: WorkerProc = start_worker(FAULT_APP, APP_SLOTS="10", APP_TAG="zombie", **executions_db.env)
    listener = zombie.listener_pid()
    worker_id = zombie.health()[1]["worker_id"]
    (markers / "break-pump").write_text("stall")
    body = wait_until(lambda: (r := zombie.get("/livez"))[0] == 503 and r, LIVENESS_WINDOW, "/livez 503")[1]
    assert "no frame from the action listener" in body, body
    # The listener keeps the engine session: the zombie stays an ACTIVE, heartbeating worker, and the
    # engine fills its slots with runs that never reach its runner.
    recorded = standalone(client, "recorded")
    refs = [recorded.run_no_wait({"seconds": 0.2}) for _ in range(6)]

    def zombie_row() -> dict[str, Any] | None:
        return next((w for w in hatchet.workers("ACTIVE") if w["metadata"]["id"] == worker_id), None)

    row = wait_until(lambda: (w := zombie_row()) and w["slotConfig"]["default"]["available"] == 4 and w,
                     30, "the 6 runs assigned to the zombie")
    assert zombie.get("/health")[0] == 503 and zombie.get("/readyz")[0] == 503
    assert zombie.popen.poll() is None and zombie.listener_pid() == listener
    beat = row["lastHeartbeatAt"]
    wait_until(lambda: (w := zombie_row()) and w["lastHeartbeatAt"] != beat, 15, "a later heartbeat")
    assert executions_db.counts() == {}  # assigned to the zombie, never executed by it
    # What the kubelet does on a failed liveness probe: kill the container. A healthy worker then
    # gets the runs the zombie held, once the engine has stopped hearing from it.
    zombie.popen.kill()
    zombie.wait_exit(10)
    start_worker(APP_SLOTS="10", APP_TAG="healthy", **executions_db.env)
    for ref in refs:
        assert next(iter(ref.result(timeout=120).values()))["tag"] == "healthy"
    assert executions_db.counts() == dict.fromkeys({r.workflow_run_id for r in refs}, 1)


def test_idle_worker_stays_live_and_a_crashed_pump_fails_livez(start_worker: Any, markers: Path) -> None:
    worker: WorkerProc = start_worker(FAULT_APP)
    # No task for longer than the pump's staleness limit: the ticks alone keep /livez up.
    sampler = Sampler(worker, ("/livez",))
    time.sleep(PUMP_STALE_SECONDS + 5)  # an idle period of a chosen length is the point here
    seen = sampler.stop()
    assert set(seen["/livez"]) == {200} and seen["/livez"][200] >= PUMP_STALE_SECONDS, seen
    (markers / "break-pump").write_text("crash")
    # The next tick (every 2 s) reaches the crashing read.
    body = wait_until(lambda: (r := worker.get("/livez"))[0] == 503 and r, 10, "/livez 503")[1]
    assert "pump delivering the action listener's frames has stopped" in body, body
    assert "the pump delivering the action listener's frames crashed" in worker.output()
    assert "injected pump fault" in worker.output()
    assert worker.popen.poll() is None  # a zombie: only a probe gets it restarted
