"""Status computation: replica counts, selector, Ready/Progressing/Degraded, transition times, events."""

from __future__ import annotations

from typing import Any

from hatchet_operator import status

NOW = "2026-01-01T00:00:00Z"
LATER = "2026-01-01T00:05:00Z"


def _dep(
    replicas: int = 2,
    ready: int = 2,
    updated: int = 2,
    available: int = 2,
    total: int | None = None,
    generation: int = 4,
    observed: int = 4,
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "metadata": {"name": "w", "generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "replicas": replicas if total is None else total,
            "readyReplicas": ready,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "conditions": conditions or [],
        },
    }


def _conds(s: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in s["conditions"]}


def compute(**kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "name": "w",
        "generation": 7,
        "deployment": None,
        "problems": [],
        "previous": None,
        "now": NOW,
    }
    args.update(kw)
    return status.compute(**args)


def test_all_ready() -> None:
    s = compute(deployment=_dep())
    assert _conds(s) == {
        "Ready": ("True", "AllReplicasReady"),
        "Progressing": ("False", "RolloutComplete"),
        "Degraded": ("False", "AsExpected"),
    }
    assert s["observedGeneration"] == 7
    assert (s["replicas"], s["readyReplicas"], s["updatedReplicas"], s["availableReplicas"]) == (2, 2, 2, 2)
    assert s["selector"] == "app.kubernetes.io/instance=w,app.kubernetes.io/name=hatchet-worker"
    assert s["deployment"] == "w"
    assert all(c["observedGeneration"] == 7 and c["lastTransitionTime"] == NOW for c in s["conditions"])


def test_no_deployment_yet() -> None:
    s = compute()
    assert _conds(s)["Progressing"] == ("True", "Creating")
    assert _conds(s)["Ready"][0] == "False"
    assert "deployment" not in s


def test_rollout_in_progress() -> None:
    assert _conds(compute(deployment=_dep(updated=1, available=2, total=3)))["Progressing"] == (
        "True",
        "RollingOut",
    )
    assert _conds(compute(deployment=_dep(generation=5, observed=4)))["Progressing"] == ("True", "RollingOut")
    s = compute(deployment=_dep(ready=1, available=1))
    assert _conds(s)["Ready"] == ("False", "RollingOut")


def test_scaled_to_zero_is_ready() -> None:
    s = compute(deployment=_dep(replicas=0, ready=0, updated=0, available=0))
    assert _conds(s)["Ready"] == ("True", "ScaledToZero")


def test_problems_degrade_and_unready() -> None:
    p = status.Problem("SecretNotFound", "Secret 'hatchet-client-config' does not exist")
    s = compute(deployment=_dep(), problems=[p])
    assert _conds(s)["Degraded"] == ("True", "SecretNotFound")
    assert _conds(s)["Ready"] == ("False", "SecretNotFound")
    assert "hatchet-client-config" in next(c["message"] for c in s["conditions"] if c["type"] == "Degraded")


def test_deployment_failures_degrade() -> None:
    stuck = _dep(
        available=1,
        ready=1,
        conditions=[
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": "too slow",
            }
        ],
    )
    s = compute(deployment=stuck)
    assert _conds(s)["Degraded"] == ("True", "ProgressDeadlineExceeded")
    assert _conds(s)["Progressing"] == ("False", "ProgressDeadlineExceeded")
    forbidden = _dep(
        ready=0,
        available=0,
        conditions=[{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": "forbidden"}],
    )
    assert _conds(compute(deployment=forbidden))["Degraded"] == ("True", "ReplicaFailure")


def test_transition_time_moves_only_when_status_flips() -> None:
    first = compute(deployment=_dep(ready=1, available=1))
    second = compute(deployment=_dep(), previous=first, now=LATER)
    times = {c["type"]: c["lastTransitionTime"] for c in second["conditions"]}
    assert times == {"Ready": LATER, "Progressing": LATER, "Degraded": NOW}


def test_unchanged_world_computes_identical_status() -> None:
    first = compute(deployment=_dep())
    assert compute(deployment=_dep(), previous=first, now=LATER) == first


def test_events_for_transitions() -> None:
    ok = compute(deployment=_dep())
    bad = compute(deployment=_dep(), previous=ok, problems=[status.Problem("SecretNotFound", "gone")])
    assert [(e.type, e.reason) for e in status.events(ok, bad)] == [
        ("Warning", "SecretNotFound"),
        ("Normal", "NotReady"),
    ]
    fixed = compute(deployment=_dep(), previous=bad)
    assert [(e.type, e.reason) for e in status.events(bad, fixed)] == [
        ("Normal", "Recovered"),
        ("Normal", "Ready"),
    ]
    assert status.events(fixed, compute(deployment=_dep(), previous=fixed)) == []
    # A first status is not a transition: no Event per HatchetWorker when a fleet is created.
    assert status.events(None, ok) == []
    assert [e.reason for e in status.events(None, bad)] == ["SecretNotFound"]
