"""The per-HatchetWorker autoscaler state and the status.autoscaling it writes."""

from __future__ import annotations

import asyncio
import base64
import json

import aiohttp

from hatchet_operator import autoscaler
from hatchet_operator.api import v1alpha1 as api
from hatchet_operator.api.autoscaling import Autoscaling
from hatchet_operator.enginemetrics import EngineWorker, Reading

SPEC = Autoscaling(
    min_replicas=0, max_replicas=10, target_slot_utilization_percent=100, scale_down_stabilization_seconds=60
)


def worker(wid: str, used: int, limit: int = 5) -> EngineWorker:
    return EngineWorker.of(
        {
            "metadata": {"id": wid},
            "status": "ACTIVE",
            "actions": ["ns_wf:t"],
            "labels": [{"key": "hatchetworker", "value": "hw"}],
            "slotConfig": {"default": {"available": limit - used, "limit": limit}},
        }
    )


def reading(at: float, queued: int, workers: tuple[EngineWorker, ...], ok: bool = True) -> Reading:
    return Reading(
        at=at,
        ok=ok,
        error=None if ok else "down",
        workers=workers,
        actions=frozenset({"ns_wf:t"}),
        queued={"ns_wf:t": queued},
        running_by_task={},
    )


def step(state: autoscaler.State, r: Reading, now: float, current: int, previous: dict | None = None):  # type: ignore[type-arg]
    return state.step(SPEC, r, now=now, current_replicas=current, spec_slots=None, labels={}, previous=previous)


def test_status_reports_the_inputs_and_is_valid_for_the_crd() -> None:
    state = autoscaler.State()
    d, status = step(state, reading(1000.0, 12, (worker("a", 5),)), 1000.0, 1)
    assert d.desired == 4  # (12 queued + 5 running) / 5 slots
    assert status == {
        "desiredReplicas": 4,
        "metricsAvailable": True,
        "reason": d.reason,
        "actions": ["ns_wf:t"],
        "queued": 12,
        "running": 5,
        "workers": 1,
        "busyWorkers": 1,
        "idleWorkers": 0,
        "slotsPerWorker": 5,
        "lastMetricsTime": "1970-01-01T00:16:40Z",
        "lastScaleTime": "1970-01-01T00:16:40Z",
    }
    api.HatchetWorkerStatus.model_validate({"autoscaling": status})


def test_unchanged_inputs_give_an_identical_status() -> None:
    # Zero idle writes: a new reading with the same numbers must not move any field.
    state = autoscaler.State()
    _, first = step(state, reading(1000.0, 3, (worker("a", 2),)), 1000.0, 1)
    _, second = step(state, reading(1015.0, 3, (worker("a", 2),)), 1015.0, 1, first)
    assert second == first
    _, third = step(state, reading(1030.0, 9, (worker("a", 2),)), 1030.0, 1, second)
    assert third["queued"] == 9 and third["lastMetricsTime"] == "1970-01-01T00:17:10Z"
    assert third["lastScaleTime"] == "1970-01-01T00:17:10Z"  # desired went 1 -> 3


def test_actions_are_remembered_when_the_workers_are_gone() -> None:
    state = autoscaler.State()
    _, status = step(state, reading(1000.0, 0, (worker("a", 0),)), 1000.0, 1)
    gone = Reading(at=1100.0, ok=True, error=None, workers=(), actions=frozenset(), queued={}, running_by_task={})
    _, later = step(state, gone, 1100.0, 1, status)
    assert later["actions"] == ["ns_wf:t"] and later["workers"] == 0
    assert autoscaler.remembered_actions(later) == ["ns_wf:t"]


def test_outage_keeps_the_count_and_the_last_inputs() -> None:
    state = autoscaler.State()
    _, good = step(state, reading(1000.0, 12, (worker("a", 5),)), 1000.0, 4)
    down = reading(1000.0, 0, (worker("a", 5),), ok=False)
    d, stale = step(state, down, 1500.0, 4, good)
    assert d.desired == 4 and d.remove == ()
    assert stale["metricsAvailable"] is False and "unavailable" in stale["reason"]
    assert (stale["queued"], stale["lastMetricsTime"]) == (12, good["lastMetricsTime"])


def test_restart_loses_history_but_does_not_scale_down_at_once() -> None:
    fresh = autoscaler.State()
    d, _ = step(fresh, reading(1000.0, 0, (worker("a", 0), worker("b", 0))), 1000.0, 2)
    assert d.desired == 2 and d.remove == ()


def _token(sub: str) -> str:
    body = base64.urlsafe_b64encode(json.dumps({"sub": sub}).encode()).decode().rstrip("=")
    return f"e30.{body}.sig"


def test_one_poller_per_tenant() -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as session:
            pollers = autoscaler.Pollers(session)
            a1 = pollers.for_token("http://engine/", _token("t1"))
            a2 = pollers.for_token("http://engine", _token("t1"))
            b = pollers.for_token("http://engine", _token("t2"))
            assert a1 is a2 and b is not a1 and len(pollers) == 2

    asyncio.run(main())
