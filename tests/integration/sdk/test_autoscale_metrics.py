"""The autoscaler's engine reads against the real engine: one tenant-wide poll (worker list +
task-stats) attributes queued and running work to HatchetWorkers by their ``hatchetworker`` label,
remembers the actions of a HatchetWorker whose workers are gone, and keeps the last good reading,
marked stale, while the engine cannot be reached."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aiohttp

from harness.hatchet import HatchetEngine
from hatchet_operator import autoscale, autoscaler
from hatchet_operator.api import v1alpha1 as api
from hatchet_operator.api.autoscaling import Autoscaling
from hatchet_operator.enginemetrics import EngineClient, IdleClock, TenantPoller, to_inputs, token_claims
from hatchet_worker import ClientConfig, ClientTLSConfig, Hatchet

from .conftest import WorkerProc, standalone, wait_until

LABEL = "hatchetworker"
NS_LABEL = "hatchetworker-namespace"


def _client(hatchet: HatchetEngine, namespace: str) -> Hatchet:
    return Hatchet(
        config=ClientConfig(
            token=hatchet.token,
            host_port=hatchet.grpc_address,
            server_url=hatchet.rest_url,
            namespace=namespace,
            tls_config=ClientTLSConfig(strategy="none"),
        )
    )


async def _poll(
    hatchet: HatchetEngine, interests: dict[str, tuple[dict[str, str], list[str]]], rest_url: str | None = None
) -> tuple[TenantPoller, bool]:
    async with aiohttp.ClientSession() as session:
        poller = TenantPoller(EngineClient(rest_url or hatchet.rest_url, hatchet.token, session))
        for key, (owner, actions) in interests.items():
            poller.watch(key, owner, actions)
        ok = await poller.poll_once()
        return poller, ok


def test_token_claims_name_the_tenant(hatchet: HatchetEngine) -> None:
    assert token_claims(hatchet.token)["sub"] == hatchet.tenant_id


def test_one_poll_attributes_queued_and_running_work_per_hatchetworker(
    hatchet: HatchetEngine, client: Hatchet, ns: str, start_worker: Any
) -> None:
    other_ns = f"t{uuid.uuid4().hex[:10]}"
    gone_ns = f"t{uuid.uuid4().hex[:10]}"
    a: WorkerProc = start_worker(
        APP_SLOTS="2", HATCHET_CLIENT_WORKER_PRESET_LABELS=f'{{"{LABEL}": "hw-a", "{NS_LABEL}": "team-a"}}')
    b: WorkerProc = start_worker(
        APP_SLOTS="3",
        HATCHET_CLIENT_NAMESPACE=other_ns,
        HATCHET_CLIENT_WORKER_PRESET_LABELS=f'{{"{LABEL}": "hw-b", "gpu": 1}}',
    )
    # hw-c had a worker once (its workflows exist) and has none now: work queued for it must show.
    c: WorkerProc = start_worker(
        APP_SLOTS="1", HATCHET_CLIENT_NAMESPACE=gone_ns, HATCHET_CLIENT_WORKER_PRESET_LABELS=f'{{"{LABEL}": "hw-c"}}'
    )
    c.stop()

    def c_gone() -> bool:
        poller, ok = asyncio.run(_poll(hatchet, {"c": ({LABEL: "hw-c"}, [])}))
        reading = poller.reading("c")
        return ok and reading is not None and reading.workers == ()

    wait_until(c_gone, 60, "hw-c's worker no longer listed as active or paused", interval=1.0)

    sleepy_a = standalone(client, "sleepy")
    # 2 run on hw-a's 2 slots (for long enough to be read), 5 queue behind them.
    refs = [sleepy_a.run_no_wait({"seconds": 12}) for _ in range(7)]
    client_c = _client(hatchet, gone_ns)
    sleepy_c = standalone(client_c, "sleepy")
    refs_c = [sleepy_c.run_no_wait({"seconds": 0.1}) for _ in range(4)]  # nobody serves them: all queue

    action_a, action_c = f"{ns}_sleepy:sleepy", f"{gone_ns}_sleepy:sleepy"
    # "a2" is a HatchetWorker of the same name in another Kubernetes namespace: none of hw-a's workers.
    interests = {"a": ({LABEL: "hw-a", NS_LABEL: "team-a"}, []), "a2": ({LABEL: "hw-a", NS_LABEL: "team-b"}, []),
                 "b": ({LABEL: "hw-b"}, []), "c": ({LABEL: "hw-c"}, [action_c])}

    seen: list[Any] = []

    def settled() -> Any:
        poller, ok = asyncio.run(_poll(hatchet, interests))
        ra = poller.reading("a")
        rc = poller.reading("c")
        seen[:] = [ok, ra and [w.slots for w in ra.workers], ra and ra.queued, rc and rc.queued]
        if not ok or ra is None or rc is None:
            return None
        if sum(w.used_slots for w in ra.workers) == 2 and ra.queued.get(action_a) == 5 and rc.queued.get(action_c) == 4:
            return poller
        return None

    try:
        poller = wait_until(settled, 60, "2 running on hw-a and 5 queued for it, 4 queued for hw-c", interval=1.0)
    except AssertionError as e:
        raise AssertionError(f"{e}; last reading: {seen}") from None
    # One poll for four HatchetWorkers: the worker list and one task-stats request (plus, this
    # poller's first, the workflow definitions of their actions: test_autoscale_definitions.py).
    assert poller.client.requests - poller.definitions.requests == 2 and poller.polls == 1

    ra, rb, rc = poller.reading("a"), poller.reading("b"), poller.reading("c")
    assert ra is not None and rb is not None and rc is not None
    [wa] = ra.workers
    a2 = poller.reading("a2")
    assert a2 is not None and a2.workers == () and not a2.queued.get(action_a), a2
    assert wa.id == a.health()[1]["worker_id"]
    assert wa.slot_limit == 2 and wa.used_slots == 2 and wa.labels[LABEL] == "hw-a"
    assert action_a in ra.actions and ra.queued[action_a] == 5
    # Same task name, other workflows: task-stats merges names, the per-action queues do not.
    assert ra.running_by_task["sleepy"] == 2
    [wb] = rb.workers
    assert wb.id == b.health()[1]["worker_id"] and wb.slot_limit == 3 and wb.used_slots == 0
    assert wb.labels == {LABEL: "hw-b", "gpu": "1"}
    assert all(n == 0 for n in rb.queued.values()) and f"{other_ns}_sleepy:sleepy" in rb.actions
    # hw-c: no worker, but its remembered action has 4 queued.
    assert rc.workers == () and rc.queued == {action_c: 4}

    # The same numbers drive the decision: hw-a needs ceil(7 / 2) = 4 workers at 100 %; hw-c scales
    # from zero; hw-b has nothing to do.
    policy = autoscale.Policy(min_replicas=0, max_replicas=10, target_percent=100, down_window=0)
    now = time.time()
    idle = IdleClock()
    decide = {
        key: autoscale.decide(
            policy,
            to_inputs(
                r,
                now=now,
                current_replicas=len(r.workers),
                spec_slots=None,
                labels={},
                idle_since=idle.update(r.workers, now),
            ),
        )
        for key, r in (("a", ra), ("b", rb), ("c", rc))
    }
    assert (decide["a"].desired, decide["a"].queued, decide["a"].demand_slots) == (4, 5, 7)
    assert decide["b"].desired == 0 and decide["b"].remove == (wb.id,)
    assert decide["c"].desired == 1 and "unknown" in decide["c"].reason  # no worker told its slots yet
    # The status written from the same reading is one the CRD accepts, with hw-c's actions kept.
    _, status_c = autoscaler.State().step(
        Autoscaling(min_replicas=0, max_replicas=3), rc, now=now, current_replicas=0, spec_slots=None, labels={}
    )
    assert status_c["desiredReplicas"] == 1 and status_c["queued"] == 4 and status_c["actions"] == [action_c]
    api.HatchetWorkerStatus.model_validate({"autoscaling": status_c})
    for r in refs:  # the work read as queued and running was real work: all of it completes
        assert r.result(timeout=180)["sleepy"]["tag"] == ""
    for r in refs_c:  # nobody will ever run them: do not leave them queued for later tests
        client_c.runs.cancel(r.workflow_run_id)


def test_engine_unreachable_keeps_the_last_reading_marked_stale(hatchet: HatchetEngine, start_worker: Any) -> None:
    start_worker(HATCHET_CLIENT_WORKER_PRESET_LABELS=f'{{"{LABEL}": "hw-d"}}')

    async def scenario() -> tuple[Any, Any, Any, float, float]:
        async with aiohttp.ClientSession() as session:
            poller = TenantPoller(EngineClient(hatchet.rest_url, hatchet.token, session), interval=15, jitter=0)
            poller.watch("d", {LABEL: "hw-d"})
            assert await poller.poll_once()
            good = poller.reading("d")
            # The engine "goes away": point the same poller at a closed port.
            poller.client.rest_url = "http://127.0.0.1:9"
            assert not await poller.poll_once()
            first_backoff = poller.next_delay()
            assert not await poller.poll_once()
            stale = poller.reading("d")
            second_backoff = poller.next_delay()
            poller.client.rest_url = hatchet.rest_url
            assert await poller.poll_once()
            return good, stale, poller.reading("d"), first_backoff, second_backoff

    good, stale, back, first, second = asyncio.run(scenario())
    assert good.ok and len(good.workers) == 1
    assert not stale.ok and stale.error and stale.workers == good.workers and stale.at == good.at
    assert (first, second) == (30.0, 60.0)  # doubled per consecutive error (jitter 0 here)
    assert back.ok and back.at > good.at
    # A stale reading makes the decision hold: nothing is removed, nothing goes down.
    policy = autoscale.Policy(min_replicas=0, max_replicas=5, down_window=0)
    inputs = to_inputs(
        stale,
        now=time.time(),
        current_replicas=3,
        spec_slots=None,
        labels={},
        idle_since={w.id: 0.0 for w in stale.workers},
    )
    d = autoscale.decide(policy, inputs, last_good=3)
    assert d.desired == 3 and d.remove == ()
