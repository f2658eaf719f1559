"""A dead listener subprocess is restarted; in-flight tasks keep running and are executed once."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from harness.hatchet import HatchetEngine
from hatchet_worker import Hatchet

from .conftest import ExecutionLog, TcpProxy, WorkerProc, standalone, wait_until

# Longer than the engine's 30 s heartbeat window (after which it reassigns a silent worker's tasks),
# counted from the kill: a worker that stopped heartbeating would see its tasks run a second time
# on the standby worker.
TASK_SECONDS = 36


def test_killed_listener_is_restarted_and_every_run_executes_once(
        client: Hatchet, start_worker: Any, hatchet: HatchetEngine, executions_db: ExecutionLog) -> None:
    worker: WorkerProc = start_worker(APP_SLOTS="20", APP_TAG="a", **executions_db.env)
    refs = [standalone(client, "recorded").run_no_wait({"seconds": TASK_SECONDS, "sync": i % 2 == 0})
            for i in range(8)]
    refs += [standalone(client, "recorded_sync").run_no_wait({"seconds": TASK_SECONDS}) for _ in range(4)]
    run_ids = {r.workflow_run_id for r in refs}
    wait_until(lambda: set(executions_db.counts()) == run_ids, 60, "all 12 runs executing on worker a")
    # A second, idle worker: if the engine gave up on worker a, it would run the tasks again here.
    standby: WorkerProc = start_worker(APP_SLOTS="20", APP_TAG="b", **executions_db.env)
    old = worker.listener_pid()
    os.kill(old, signal.SIGKILL)
    new = wait_until(lambda: (pid := worker.listener_pid()) != old and pid, 15, "a new listener")
    wait_until(lambda: worker.health()[0] == 200, 15, "HEALTHY again")
    assert worker.metric("hatchet_worker_listener_restarts_total") == 1
    assert worker.get("/livez")[0] == 200
    for ref in refs:
        assert next(iter(ref.result(timeout=120).values()))["tag"] == "a"
    # Exactly once, counted in PostgreSQL and at the engine.
    assert executions_db.counts() == dict.fromkeys(run_ids, 1)
    assert {tag for *_, tag in executions_db.rows()} == {"a"}
    for ref in refs:
        tasks = hatchet.rest("GET", f"/api/v1/stable/workflow-runs/{ref.workflow_run_id}")["tasks"]
        assert [(t["status"], t["retryCount"]) for t in tasks] == [("COMPLETED", 0)]
    # New work still reaches the worker through the restarted listener, under the same worker id.
    assert worker.popen.poll() is None and worker.listener_pid() == new
    standby.stop()
    assert standalone(client, "echo").run({"value": 1})["worker_id"] == worker.health()[1]["worker_id"]
    assert "restarting it in" in worker.output()


def test_listener_that_cannot_come_back_makes_the_worker_exit(start_worker: Any, hatchet: HatchetEngine) -> None:
    proxy = TcpProxy(hatchet.grpc_address)
    worker: WorkerProc = start_worker(HATCHET_CLIENT_WORKER_LISTENER_GIVE_UP_SECONDS="4",
                                      HATCHET_CLIENT_HOST_PORT=proxy.address)
    old = worker.listener_pid()
    proxy.close()  # the engine is unreachable for the restarted listener
    os.kill(old, signal.SIGKILL)
    code = worker.wait_exit(60)
    out = worker.output()
    assert code == 1, out
    assert "restarting it in" in out
    assert "gave up reaching the engine" in out


def test_listener_killed_repeatedly_before_it_connects_gives_up(start_worker: Any, hatchet: HatchetEngine) -> None:
    """Bounded attempts: restarts whose listener never reaches the engine end the worker."""
    proxy = TcpProxy(hatchet.grpc_address)
    worker: WorkerProc = start_worker(HATCHET_CLIENT_HOST_PORT=proxy.address)
    proxy.close()
    killed: set[int] = set()
    deadline = time.monotonic() + 60
    while worker.popen.poll() is None and time.monotonic() < deadline and len(killed) < 10:
        try:
            pid = worker.listener_pid()
        except (AssertionError, OSError):
            time.sleep(0.05)
            continue
        if pid not in killed:
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        time.sleep(0.05)
    code = worker.wait_exit(30)
    out = worker.output()
    assert code == 1, out
    assert "restart(s) in a row never reached the engine" in out
    assert len(killed) == 4  # the original listener and three restarts
