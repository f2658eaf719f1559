"""One shutdown budget: drain timeout + a fixed margin, inside the pod's grace period (real workers)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

from harness.hatchet import HatchetEngine
from harness.proxy import TcpProxy
from hatchet_operator import render
from hatchet_worker import Hatchet
from hatchet_worker._shutdown import budget_seconds

from .conftest import ExecutionLog, WorkerProc, standalone, wait_until


def grace_period(drain: float) -> float:
    """What the operator gives the pod before the kubelet's SIGKILL."""
    return drain + render.TEARDOWN_SECONDS


def test_tasks_ending_just_before_the_drain_deadline_are_recorded_once(
        client: Hatchet, start_worker: Any, hatchet: HatchetEngine, executions_db: ExecutionLog) -> None:
    drain = 8
    worker: WorkerProc = start_worker(APP_SLOTS="12", APP_TAG="a", **executions_db.env,
                                      HATCHET_CLIENT_WORKER_DRAIN_TIMEOUT_SECONDS=str(drain))
    t0 = time.time()
    sigterm_at = t0 + 8
    until = sigterm_at + drain - 1  # each task ends about a second before the drain deadline
    refs = [standalone(client, "recorded").run_no_wait({"until": until, "sync": i % 2 == 0}) for i in range(8)]
    refs += [standalone(client, "recorded_sync").run_no_wait({"until": until}) for _ in range(4)]
    run_ids = {r.workflow_run_id for r in refs}
    wait_until(lambda: set(executions_db.counts()) == run_ids, 30, "all runs executing")
    time.sleep(max(0.0, sigterm_at - time.time()))
    sent = time.monotonic()
    worker.signal(signal.SIGTERM)
    code = worker.wait_exit(grace_period(drain))  # before the kubelet would SIGKILL the container
    took = time.monotonic() - sent
    assert code == 0, worker.output()
    assert took < grace_period(drain)
    for ref in refs:
        assert next(iter(ref.result(timeout=30).values()))["tag"] == "a"
        tasks = hatchet.rest("GET", f"/api/v1/stable/workflow-runs/{ref.workflow_run_id}")["tasks"]
        assert [(t["status"], t["retryCount"]) for t in tasks] == [("COMPLETED", 0)]
    assert executions_db.counts() == dict.fromkeys(run_ids, 1)
    assert "drain timeout" not in worker.output()


def test_stuck_sync_tasks_do_not_keep_the_process_alive(client: Hatchet, start_worker: Any,
                                                        markers: Path) -> None:
    drain = 2
    worker: WorkerProc = start_worker(HATCHET_CLIENT_WORKER_DRAIN_TIMEOUT_SECONDS=str(drain))
    standalone(client, "stuck").run_no_wait({"seconds": 600})  # on the SDK's task threads
    standalone(client, "sleepy").run_no_wait({"seconds": 600, "sync": True})  # in asyncio.to_thread
    wait_until(lambda: worker.metric("hatchet_worker_slots_in_use") == 2, 30, "2 tasks running")
    worker.signal(signal.SIGTERM)
    assert worker.wait_exit(grace_period(drain)) == 0, worker.output()
    out = worker.output()
    assert f"drain timeout ({drain} s) reached with 2 task(s) running" in out
    assert "thread(s) still run task code after shutdown" in out
    assert (markers / "stuck").read_text().splitlines() == ["started"]
    assert budget_seconds(drain) < grace_period(drain)


def test_cancelled_sync_task_keeps_its_slot_until_its_thread_is_free(client: Hatchet, start_worker: Any,
                                                                     markers: Path) -> None:
    worker: WorkerProc = start_worker(APP_SLOTS="2")
    ref = standalone(client, "stuck").run_no_wait({"seconds": 12})
    wait_until(lambda: (markers / "stuck").exists(), 30, "stuck task started")
    client.runs.cancel(ref.workflow_run_id)
    wait_until(lambda: worker.metric("hatchet_worker_tasks_cancelled_total") == 1, 20, "cancel seen")
    # The engine freed the slot, but the thread still runs the cancelled function: counted busy.
    assert worker.metric("hatchet_worker_slots_in_use") == 1
    # New sync tasks start on other threads, not behind the busy one.
    for i in range(3):
        assert standalone(client, "echo").run({"value": i})["value"] == i
    assert (markers / "stuck").read_text().splitlines() == ["started"]
    wait_until(lambda: "returned" in (markers / "stuck").read_text(), 30, "the stuck function returned")
    wait_until(lambda: worker.metric("hatchet_worker_slots_in_use") == 0, 10, "the slot freed")


def test_a_failed_pause_is_retried_so_a_draining_worker_gets_no_new_work(
        client: Hatchet, start_worker: Any, hatchet: HatchetEngine, executions_db: ExecutionLog) -> None:
    """The pause request is lost (the engine's API does not answer for a few seconds) while the worker
    drains a long task: the worker pauses itself once the API answers, and work triggered after that
    all goes to the other worker. Without the retry the draining worker stays open for its whole
    drain and takes new tasks it may not finish."""
    drain = 30
    with TcpProxy(hatchet.rest_url) as api:
        draining: WorkerProc = start_worker(APP_SLOTS="20", APP_TAG="a", HATCHET_CLIENT_SERVER_URL=f"http://{api.address}",
                                            HATCHET_CLIENT_WORKER_DRAIN_TIMEOUT_SECONDS=str(drain), **executions_db.env)
        long = standalone(client, "recorded").run_no_wait({"seconds": 20})
        wait_until(lambda: executions_db.counts() == {long.workflow_run_id: 1}, 30, "the long task running")
        start_worker(APP_SLOTS="20", APP_TAG="b", **executions_db.env)
        worker_id = draining.health()[1]["worker_id"]
        api.hang()
        draining.signal(signal.SIGTERM)
        wait_until(lambda: "could not pause worker" in draining.output(), 15, "the first pause to fail")
        api.resume()
        # Then the scheduler's view of the workers (refreshed every 5 s) has caught up: with one failed
        # attempt and no retry, the worker would stay open for its whole drain.
        deadline = time.monotonic() + 12
        paused = False
        while not paused and time.monotonic() < deadline:
            paused = hatchet.rest("GET", f"/api/v1/workers/{worker_id}")["status"] == "PAUSED"
            time.sleep(0.2)
        time.sleep(max(0.0, deadline - time.monotonic()))
        refs = [standalone(client, "echo").run_no_wait({"value": i}) for i in range(40)]
        tags = [next(iter(ref.result(timeout=60).values()))["tag"] for ref in refs]
        assert tags == ["b"] * 40, draining.output()
        assert paused, "the engine never recorded the worker paused"
        assert "into the drain; it runs here" not in draining.output()
        assert "paused worker" in draining.output()
        assert next(iter(long.result(timeout=60).values()))["tag"] == "a"
        assert draining.wait_exit(grace_period(drain)) == 0, draining.output()
