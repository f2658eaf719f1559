"""Lifespan, graceful drain on SIGTERM, listener death, cancellation, engine restarts."""

from __future__ import annotations

import contextlib
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from harness.hatchet import HatchetEngine
from hatchet_worker import FailedTaskRunExceptionGroup, Hatchet

from .conftest import TcpProxy, WorkerProc, standalone, wait_until


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_lifespan_value_reaches_tasks_and_teardown_runs(client: Hatchet, start_worker: Any,
                                                        markers: Path) -> None:
    worker: WorkerProc = start_worker(APP_LIFESPAN="ok", APP_TAG="L")
    assert standalone(client, "echo").run({})["lifespan"] == {"db": "connected", "tag": "L"}
    assert lines(markers / "lifespan") == ["setup"]
    worker.signal(signal.SIGTERM)
    assert worker.wait_exit(30) == 0
    assert lines(markers / "lifespan") == ["setup", "teardown"]


def test_lifespan_failure_prevents_start(start_worker: Any, markers: Path) -> None:
    worker: WorkerProc = start_worker(APP_LIFESPAN="fail", healthy=False)
    assert worker.wait_exit(30) != 0
    out = worker.output()
    assert "lifespan setup failed, the worker does not start: RuntimeError: database unreachable" in out
    assert "registered worker" not in out


def test_sigterm_drains_in_flight_tasks(client: Hatchet, start_worker: Any) -> None:
    worker: WorkerProc = start_worker(APP_SLOTS="4", HATCHET_CLIENT_WORKER_DRAIN_TIMEOUT_SECONDS="60")
    refs = [standalone(client, "sleepy").run_no_wait({"seconds": 3, "sync": i % 2 == 0}) for i in range(4)]
    wait_until(lambda: worker.metric("hatchet_worker_slots_in_use") == 4, 30, "4 tasks running")
    worker.signal(signal.SIGTERM)
    wait_until(lambda: worker.get("/readyz")[0] == 503, 5, "readiness off while draining")
    late = standalone(client, "echo").run_no_wait({"value": "late"})  # must not land on a draining worker
    assert worker.wait_exit(60) == 0
    for ref in refs:
        assert ref.result(timeout=10)["sleepy"]["end"] > 0
        assert client.runs.get_status(ref.workflow_run_id) == "COMPLETED"
    assert client.runs.get_status(late.workflow_run_id) == "QUEUED"
    assert "paused worker" in worker.output()
    # A fresh worker picks the queued run up: nothing was lost.
    start_worker()
    assert late.result(timeout=30)["echo"]["value"] == "late"


def test_drain_timeout_bounds_shutdown(client: Hatchet, start_worker: Any) -> None:
    worker: WorkerProc = start_worker(HATCHET_CLIENT_WORKER_DRAIN_TIMEOUT_SECONDS="1")
    standalone(client, "sleepy").run_no_wait({"seconds": 60})
    wait_until(lambda: worker.metric("hatchet_worker_slots_in_use") == 1, 30, "task running")
    started = time.monotonic()
    worker.signal(signal.SIGTERM)
    assert worker.wait_exit(30) == 0
    assert time.monotonic() - started < 15
    assert "drain timeout (1 s) reached with 1 task(s) running" in worker.output()


def test_cancelling_a_run_cancels_the_task(client: Hatchet, start_worker: Any, markers: Path) -> None:
    worker: WorkerProc = start_worker()
    ref = standalone(client, "cancellable").run_no_wait({"key": "c"})
    wait_until(lambda: "started" in lines(markers / "c"), 30, "task started")
    client.runs.cancel(ref.workflow_run_id)
    wait_until(lambda: "cancelled" in lines(markers / "c"), 15, "task cancelled on the worker")
    assert "saw is_cancelled" in lines(markers / "c")  # the flag is set before the task is interrupted
    with pytest.raises(FailedTaskRunExceptionGroup, match="CANCELLED"):
        ref.result(timeout=30)
    wait_until(lambda: worker.metric("hatchet_worker_tasks_cancelled_total") == 1, 10, "cancel metric")
    assert worker.metric("hatchet_worker_slots_in_use") == 0


def test_blocking_sync_task_does_not_stop_heartbeats(client: Hatchet, start_worker: Any) -> None:
    worker: WorkerProc = start_worker()
    ref = standalone(client, "blocking").run_no_wait({"seconds": 10})
    wait_until(lambda: worker.metric("hatchet_worker_slots_in_use") == 1, 30, "task running")
    time.sleep(8)  # longer than two heartbeat intervals while the task blocks its thread
    assert 0 <= worker.metric("hatchet_worker_heartbeat_age_seconds") < 6
    assert worker.health()[0] == 200
    assert ref.result(timeout=30)["blocking"]["end"] > 0


@pytest.mark.engine_restart
def test_engine_restart_mid_run(client: Hatchet, start_worker: Any, hatchet: HatchetEngine) -> None:
    worker: WorkerProc = start_worker(APP_SLOTS="10")
    sleepy = standalone(client, "sleepy")
    refs = [sleepy.run_no_wait({"seconds": 2}) for _ in range(10)]
    wait_until(lambda: worker.metric("hatchet_worker_tasks_started_total") >= 5, 30, "tasks started")
    hatchet.restart(down_seconds=3)
    refs += [sleepy.run_no_wait({"seconds": 0.2}) for _ in range(10)]
    for ref in refs:
        assert ref.result(timeout=120)["sleepy"]["end"] > 0
    assert worker.metric("hatchet_worker_listener_reconnects_total") >= 1
    wait_until(lambda: worker.health()[0] == 200, 30, "HEALTHY again")


def test_listener_gives_up_loudly_and_liveness_fails(start_worker: Any, hatchet: HatchetEngine) -> None:
    proxy = TcpProxy(hatchet.grpc_address)
    worker: WorkerProc = start_worker(HATCHET_CLIENT_WORKER_LISTENER_GIVE_UP_SECONDS="3",
                                      HATCHET_CLIENT_HOST_PORT=proxy.address)
    proxy.close()  # the engine is now unreachable for this worker
    seen: list[int] = []

    def livez_failed_or_exited() -> bool:
        with contextlib.suppress(OSError):
            seen.append(worker.get("/livez")[0])
        return worker.popen.poll() is not None

    try:
        wait_until(livez_failed_or_exited, 30, "the worker to give up and exit", interval=0.05)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{worker.output()}") from None
    assert worker.wait_exit(5) == 1
    # Liveness fails for the moment between giving up and exiting; with nothing in flight that
    # moment is shorter than the polling interval, so the exit itself is what is checked here.
    assert set(seen) <= {200, 503}
    out = worker.output()
    assert "giving up: no successful call to the engine" in out
    assert "action listener subprocess exited unexpectedly (exit code 3)" in out


def test_second_signal_forces_exit(client: Hatchet, start_worker: Any) -> None:
    worker: WorkerProc = start_worker()
    standalone(client, "sleepy").run_no_wait({"seconds": 60})
    wait_until(lambda: worker.metric("hatchet_worker_slots_in_use") == 1, 30, "task running")
    worker.signal(signal.SIGTERM)
    wait_until(lambda: "waiting up to" in worker.output(), 10, "the drain to start")
    started = time.monotonic()
    worker.signal(signal.SIGINT)
    assert worker.wait_exit(10) == 1
    assert time.monotonic() - started < 5
    assert "exiting immediately without waiting for tasks" in worker.output()


def test_worker_forgotten_by_the_engine_registers_again(client: Hatchet, start_worker: Any,
                                                         hatchet: HatchetEngine) -> None:
    worker: WorkerProc = start_worker()
    old_id = worker.health()[1]["worker_id"]
    hatchet.postgres.psql(f"DELETE FROM \"Worker\" WHERE id = '{old_id}'", db="hatchet")
    new_id = wait_until(lambda: (worker.health()[1].get("worker_id") or old_id) != old_id
                        and worker.health()[1]["worker_id"], 30, "a new registration")
    assert new_id != old_id
    wait_until(lambda: worker.health()[0] == 200, 30, "HEALTHY again")
    assert standalone(client, "echo").run({"value": 5})["worker_id"] == new_id


def test_replicas_declaring_the_same_workflows_at_once_all_start(start_worker: Any, client: Hatchet) -> None:
    """Replicas of a new Deployment start together: every one declares the same new workflows at the
    same moment, and the engine answers some of those concurrent declarations INTERNAL (seen on real
    pods: the worker exited and the kubelet restarted it). Each retries; all start, none exits."""
    workers: list[WorkerProc] = [start_worker(healthy=False) for _ in range(8)]
    for worker in workers:
        worker.wait_healthy(90)
    for worker in workers:
        assert worker.popen.poll() is None, worker.output()
    out = standalone(client, "echo").run({"value": 1})
    assert out["value"] == 1 and out["pid"] in {w.popen.pid for w in workers}, out
