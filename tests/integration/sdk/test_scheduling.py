"""Slots bound concurrency; labels steer tasks; durable tasks get their own slot pool."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from harness.hatchet import HatchetEngine
from hatchet_worker import Hatchet

from .conftest import WorkerProc, standalone, wait_until


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    points = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    best = cur = 0
    for _, delta in points:  # an end at the same instant as a start sorts first (-1 < 1)
        cur += delta
        best = max(best, cur)
    return best


def worker_info(hatchet: HatchetEngine, worker_id: str) -> dict[str, Any]:
    req = urllib.request.Request(f"{hatchet.rest_url}/api/v1/workers/{worker_id}",
                                 headers={"Authorization": f"Bearer {hatchet.token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return dict(json.loads(r.read()))


def test_slots_bound_concurrency(client: Hatchet, start_worker: Any) -> None:
    worker: WorkerProc = start_worker(APP_SLOTS="2")
    sleepy = standalone(client, "sleepy")
    refs = [sleepy.run_no_wait({"seconds": 0.6, "sync": i % 2 == 0}) for i in range(8)]
    outs = [r.result(timeout=60)["sleepy"] for r in refs]
    overlap = max_overlap([(o["start"], o["end"]) for o in outs])
    assert overlap == 2, f"slots=2 but {overlap} tasks overlapped"
    assert worker.metric("hatchet_worker_slots") == 2


def test_env_slots_override_code(client: Hatchet, start_worker: Any, hatchet: HatchetEngine) -> None:
    worker: WorkerProc = start_worker(APP_SLOTS="2", HATCHET_CLIENT_WORKER_SLOTS="3",
                                      HATCHET_CLIENT_WORKER_NAME="renamed-by-operator")
    _, health = worker.health()
    info = worker_info(hatchet, health["worker_id"])
    assert info["slotConfig"]["default"]["limit"] == 3
    assert info["name"].endswith("renamed-by-operator")
    assert "HATCHET_CLIENT_WORKER_SLOTS=3 overrides 2 set in code" in worker.output()
    outs = [r.result(timeout=60)["sleepy"] for r in
            [standalone(client, "sleepy").run_no_wait({"seconds": 0.6}) for _ in range(6)]]
    assert max_overlap([(o["start"], o["end"]) for o in outs]) == 3


def test_labels_registered_and_required_label_routes(client: Hatchet, start_worker: Any,
                                                     hatchet: HatchetEngine) -> None:
    a: WorkerProc = start_worker(APP_TAG="a", APP_LABELS='{"model": "a", "gpu": 0}')
    b: WorkerProc = start_worker(APP_TAG="b", APP_LABELS='{"model": "b", "gpu": 1}',
                                 HATCHET_CLIENT_WORKER_PRESET_LABELS='{"zone": "z1"}')
    labels = {lab["key"]: lab["value"] for lab in worker_info(hatchet, b.health()[1]["worker_id"])["labels"]}
    assert labels == {"model": "b", "gpu": "1", "zone": "z1"}
    refs = [standalone(client, "labelled").run_no_wait({}) for _ in range(6)]
    assert [r.result(timeout=60)["labelled"]["tag"] for r in refs] == ["b"] * 6
    # Unlabelled tasks may go to either worker: the label only constrains the labelled task.
    assert a.metric("hatchet_worker_tasks_started_total") == 0


def test_durable_task_uses_durable_slot_pool(client: Hatchet, start_worker: Any,
                                             hatchet: HatchetEngine) -> None:
    worker: WorkerProc = start_worker(APP_DURABLE="1")
    info = worker_info(hatchet, worker.health()[1]["worker_id"])
    assert info["slotConfig"]["durable"]["limit"] == 1000
    assert info["slotConfig"]["default"]["limit"] == 100
    assert standalone(client, "durable").run({})["durable"] is True
    wait_until(lambda: worker.metric("hatchet_worker_tasks_succeeded_total") == 1, 10, "metric")
    out = standalone(client, "durable").run({"value": 2})
    assert 2 <= out["slept"] < 10


def test_release_slot_is_accepted_and_accounted(client: Hatchet, start_worker: Any) -> None:
    # The engine (v0.104.7) accepts ReleaseSlot but was not observed to hand the freed slot to another
    # task before the releasing task ends (the official SDK sends the same call); this proves our side:
    # the call succeeds, the task keeps running to completion, and the worker's slot accounting drops it.
    worker: WorkerProc = start_worker(APP_SLOTS="1")
    long = standalone(client, "releaser").run_no_wait({"seconds": 3})
    wait_until(lambda: worker.metric("hatchet_worker_tasks_started_total") == 1, 30, "releaser started")
    wait_until(lambda: worker.metric("hatchet_worker_slots_in_use") == 0, 5, "slot released locally")
    assert client.runs.get_status(long.workflow_run_id) == "RUNNING"
    assert long.result(timeout=30)["releaser"]["end"] > 0


def test_refresh_timeout_extends_execution_timeout_and_logs_ship(client: Hatchet, start_worker: Any,
                                                                  hatchet: HatchetEngine) -> None:
    start_worker()
    ref = standalone(client, "refresher").run_no_wait({"seconds": 5})
    assert ref.result(timeout=60) == {"refresher": {"slept": 5}}
    task_id = client.runs.get_details(ref.workflow_run_id).task_runs["refresher"].external_id

    def logged() -> list[str]:
        req = urllib.request.Request(f"{hatchet.rest_url}/api/v1/stable/tasks/{task_id}/logs",
                                     headers={"Authorization": f"Bearer {hatchet.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return [row["message"] for row in json.loads(r.read()).get("rows") or []]

    assert wait_until(logged, 15, "the ctx.log line at the engine") == ["refreshed the timeout"]


def test_concurrency_expression_limits_runs_per_group(client: Hatchet, start_worker: Any) -> None:
    start_worker()  # 100 slots: only the concurrency rule can serialise the runs
    limited = standalone(client, "limited")
    outs = limited.run_many([limited.create_bulk_run_item({"group": g}) for g in "aaabbb"])
    by_group = {g: [(o["start"], o["end"]) for o in outs if o["group"] == g] for g in "ab"}
    assert max_overlap(by_group["a"]) == 1 and max_overlap(by_group["b"]) == 1
    assert max_overlap(by_group["a"] + by_group["b"]) == 2  # the two groups did run side by side


def test_durable_wait_for_event(client: Hatchet, start_worker: Any, markers: Any) -> None:
    start_worker(APP_DURABLE="1")
    ref = standalone(client, "waiter").run_no_wait({})
    wait_until(lambda: (markers / "waiter").exists(), 30, "the durable task to wait")
    client.event.push("app:go", {"ok": False, "n": 1}, scope="app")  # does not match the expression
    client.event.push("app:go", {"ok": True, "n": 2}, scope="app")
    assert ref.result(timeout=60)["waiter"] == {"event": {"ok": True, "n": 2}}
