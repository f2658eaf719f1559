"""The autoscaler's definition reads against the real engine: slot costs and required worker labels
come from the workflow definitions the engine holds, read per tenant once per workflow (and again
when a new worker registers it), not per poll; label-bound work counts only toward the
HatchetWorker whose labels can take it, and each task counts in the slot pool the engine charges."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp

from harness.hatchet import HatchetEngine
from hatchet_operator import autoscale
from hatchet_operator.enginedefs import DEFAULT, DURABLE, ActionDef, LabelRule, shape
from hatchet_operator.enginemetrics import EngineClient, IdleClock, Reading, TenantPoller, to_inputs
from hatchet_worker import Hatchet

from .conftest import WorkerProc, standalone, wait_until

APP = Path(__file__).parent / "apps" / "autoscale_defs_app.py"
LABEL = "hatchetworker"
POLICY = autoscale.Policy(min_replicas=0, max_replicas=10, target_percent=100, down_window=0)


def _labels(**labels: Any) -> str:
    return json.dumps(labels)


async def _polls(hatchet: HatchetEngine, owners: dict[str, dict[str, str]], n: int,
                 poller: TenantPoller | None = None) -> tuple[TenantPoller, list[int]]:
    """``n`` polls of one poller; the requests each took."""
    async with aiohttp.ClientSession() as session:
        if poller is None:
            poller = TenantPoller(EngineClient(hatchet.rest_url, hatchet.token, session))
            for key, owner in owners.items():
                poller.watch(key, owner)
        else:
            poller.client._session = session
        took = []
        for _ in range(n):
            before = poller.client.requests
            assert await poller.poll_once(), poller._error
            took.append(poller.client.requests - before)
        return poller, took


def _decide(reading: Reading, labels: dict[str, str]) -> tuple[autoscale.Inputs, autoscale.Decision]:
    now = time.time()
    inputs = to_inputs(reading, now=now, current_replicas=len(reading.workers), spec_slots=None, labels=labels,
                       idle_since=IdleClock().update(reading.workers, now))
    return inputs, autoscale.decide(POLICY, inputs)


def test_required_labels_count_only_for_the_hatchetworker_that_can_serve_them(
    hatchet: HatchetEngine, client: Hatchet, ns: str, start_worker: Any
) -> None:
    gpu_labels = {LABEL: "hw-gpu", "gpu": "yes", "mem": "32"}
    cpu_labels = {LABEL: "hw-cpu", "gpu": "no", "mem": "8"}
    # Both fleets run the same code, so both register every action; only their labels differ.
    gpu_preset = _labels(hatchetworker="hw-gpu", gpu="yes", mem=32)
    gpu: WorkerProc = start_worker(APP, APP_SLOTS="2", HATCHET_CLIENT_WORKER_PRESET_LABELS=gpu_preset)
    start_worker(APP, APP_SLOTS="2",
                 HATCHET_CLIENT_WORKER_PRESET_LABELS=_labels(hatchetworker="hw-cpu", gpu="no", mem=8))
    gpu_action, mem_action = f"{ns}_gpu-work:gpu-work", f"{ns}_big-mem:big-mem"
    # 7 tasks that only hw-gpu's worker may run (gpu == "yes"; mem >= 16): 2 run on its 2 slots, 5 queue.
    refs = [standalone(client, "gpu-work").run_no_wait({"seconds": 25}) for _ in range(4)]
    refs += [standalone(client, "big-mem").run_no_wait({"seconds": 25}) for _ in range(3)]
    owners = {"gpu": {LABEL: "hw-gpu"}, "cpu": {LABEL: "hw-cpu"}}

    seen: list[Any] = []

    def settled() -> Any:
        poller, took = asyncio.run(_polls(hatchet, owners, 2))
        r = poller.reading("gpu")
        seen[:] = [took, r and r.queued, r and [w.slots for w in r.workers]]
        queued = r and r.queued.get(gpu_action, 0) + r.queued.get(mem_action, 0)
        if r and sum(w.used_slots for w in r.workers) == 2 and queued == 5:
            return poller, took
        return None

    try:
        poller, took = wait_until(settled, 60, "2 running and 5 queued on hw-gpu", interval=1.0)
    except AssertionError as e:
        raise AssertionError(f"{e}; last: {seen}") from None

    rg, rc = poller.reading("gpu"), poller.reading("cpu")
    assert rg is not None and rc is not None
    [wg] = rg.workers
    assert wg.id == gpu.health()[1]["worker_id"]
    # What the engine holds: gpu-work requires gpu == "yes" (its weighted "zone" label is not
    # required, so it is not kept); big-mem requires mem >= 16 (an integer comparison).
    assert rg.definitions[gpu_action] == ActionDef({DEFAULT: 1}, (LabelRule("gpu", "yes"),))
    mem_rule = LabelRule("mem", "16", numeric=True, comparator="GREATER_THAN_OR_EQUAL")
    assert rg.definitions[mem_action] == ActionDef({DEFAULT: 1}, (mem_rule,))
    assert rg.definitions[f"{ns}_heavy:heavy"].slots == {DEFAULT: 2}
    assert rg.definitions[f"{ns}_dur:dur"].slots == {DURABLE: 1}
    assert rc.queued == rg.queued  # both fleets serve the same actions: the queue alone cannot tell them apart

    _, dg = _decide(rg, gpu_labels)
    _, dc = _decide(rc, cpu_labels)
    assert (dg.queued, dg.demand_slots, dg.desired) == (5, 7, 4)  # ceil((5 queued + 2 running) / 2 slots)
    assert (dc.queued, dc.demand_slots, dc.desired) == (0, 0, 0) and dc.remove == (rc.workers[0].id,)

    # Requests: the first poll read the workflow list and the 4 workflows' versions once (2 + 1 + 4);
    # the next poll only the worker list and task-stats.
    assert took == [7, 2], took
    assert poller.definitions.reads == 4

    # A new worker registering the actions (a deploy may bring a new version) makes one poll read
    # them again, once; later polls do not.
    start_worker(APP, APP_SLOTS="2", HATCHET_CLIENT_WORKER_PRESET_LABELS=gpu_preset)

    reads = poller.definitions.reads

    def with_new_worker() -> bool:
        p, _ = asyncio.run(_polls(hatchet, owners, 1, poller))
        r = p.reading("gpu")
        return r is not None and len(r.workers) == 2

    wait_until(with_new_worker, 30, "the second hw-gpu worker listed", interval=1.0)
    assert poller.definitions.reads == reads + 4
    _, took = asyncio.run(_polls(hatchet, owners, 2, poller))
    assert took == [2, 2], took

    for ref in refs:
        ref.result(timeout=180)


def test_slot_costs_count_in_the_pool_the_engine_charges(
    hatchet: HatchetEngine, client: Hatchet, ns: str, start_worker: Any
) -> None:
    # 2 default slots, 1 durable slot. heavy takes 2 default slots, dur 1 durable slot.
    start_worker(APP, APP_SLOTS="2", APP_DURABLE_SLOTS="1",
                 HATCHET_CLIENT_WORKER_PRESET_LABELS=_labels(hatchetworker="hw-h"))
    heavy, dur = f"{ns}_heavy:heavy", f"{ns}_dur:dur"
    refs = [standalone(client, "heavy").run_no_wait({"seconds": 25}) for _ in range(3)]
    refs += [standalone(client, "dur").run_no_wait({"seconds": 25}) for _ in range(4)]

    seen: list[Any] = []

    def settled() -> Any:
        poller, _ = asyncio.run(_polls(hatchet, {"h": {LABEL: "hw-h"}}, 1))
        r = poller.reading("h")
        seen[:] = [r and r.queued, r and [w.slots for w in r.workers]]
        if r and r.workers and r.workers[0].slots.get(DEFAULT) == (0, 2) and r.workers[0].slots.get(DURABLE) == (0, 1) \
                and r.queued.get(heavy) == 2 and r.queued.get(dur) == 3:
            return r
        return None

    try:
        r = wait_until(settled, 60, "1 heavy and 1 dur running, 2 and 3 queued", interval=1.0)
    except AssertionError as e:
        raise AssertionError(f"{e}; last: {seen}") from None
    assert r.definitions[heavy].slots == {DEFAULT: 2} and r.definitions[dur].slots == {DURABLE: 1}
    labels = {LABEL: "hw-h"}
    # Default pool: (2 queued x 2 + 2 in use) / 2 = 3 workers; durable pool: (3 queued + 1 in use) / 1 = 4.
    # The durable pool limits the fleet: the decision counts in it (heavy asks nothing of it).
    inputs, d = _decide(r, labels)
    assert inputs.slots_per_worker == 1 and [(w.action, w.queued, w.slot_cost) for w in inputs.work] == [(dur, 3, 1)]
    assert (d.demand_slots, d.desired) == (4, 4)
    # Without the durable work, heavy alone is counted in the default pool at 2 slots a task.
    default_only = [(w.id, {DEFAULT: w.slots[DEFAULT]}) for w in r.workers]
    only_heavy = shape({heavy: 2}, r.definitions, default_only, None, labels)
    assert only_heavy.slots_per_worker == 2 and [(w.queued, w.slot_cost) for w in only_heavy.work] == [(2, 2)]
    assert sum(w.queued * w.slot_cost for w in only_heavy.work) + sum(only_heavy.used.values()) == 6
    for ref in refs:
        ref.result(timeout=240)
