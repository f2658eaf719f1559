"""Status computation: replica counts, selector, Ready/Progressing/Degraded, transition times, events."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

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
        "Reconciling": ("False", "UpToDate"),
        "Stalled": ("False", "AsExpected"),
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
    assert _conds(s)["Ready"] == ("False", "WaitingForPods")
    assert _conds(s)["Reconciling"] == ("True", "WaitingForPods")


def test_scaled_to_zero_is_ready() -> None:
    s = compute(deployment=_dep(replicas=0, ready=0, updated=0, available=0))
    assert _conds(s)["Ready"] == ("True", "ScaledToZero")


def test_problems_degrade_and_unready() -> None:
    p = status.Problem("SecretNotFound", "Secret 'hatchet-client-config' does not exist")
    s = compute(deployment=_dep(), problems=[p])
    assert _conds(s)["Degraded"] == ("True", "SecretNotFound")
    assert _conds(s)["Ready"] == ("False", "SecretNotFound")
    assert _conds(s)["Stalled"] == ("True", "SecretNotFound")
    assert _conds(s)["Reconciling"][0] == "False"
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
    assert times == {"Ready": LATER, "Progressing": LATER, "Degraded": NOW, "Reconciling": LATER, "Stalled": NOW}


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


def test_a_first_rollout_finishing_is_not_an_event() -> None:
    # A new HatchetWorker: its first status says the Deployment controller has not seen the
    # Deployment yet; the second is Ready. One Event per new HatchetWorker would be one more write
    # per object in a fleet burst, and it tells nothing DeploymentUpdated does not.
    new = compute(deployment=_dep(replicas=0, ready=0, updated=0, available=0, generation=1, observed=0))
    assert _conds(new)["Ready"] == ("False", "RollingOut")
    done = compute(deployment=_dep(replicas=0, ready=0, updated=0, available=0, generation=1, observed=1), previous=new)
    assert _conds(done)["Ready"][0] == "True"
    assert status.events(new, done) == []
    # Becoming Ready after a real problem still is one (test_events_for_transitions), and so is
    # losing a pod (test_losing_a_pod_is_not_ready_even_while_scaling).


# --- kstatus conventions and scaling ---------------------------------------------------------


def test_reconciling_and_stalled_follow_the_phase() -> None:
    assert _conds(compute())["Reconciling"] == ("True", "Creating")
    rolling = compute(deployment=_dep(updated=1, total=3))
    assert _conds(rolling)["Reconciling"] == ("True", "RollingOut") and _conds(rolling)["Ready"][0] == "False"
    stuck = compute(problems=[status.Problem("ImageNotSet", "spec.image is empty")])
    assert _conds(stuck)["Stalled"] == ("True", "ImageNotSet") and _conds(stuck)["Reconciling"][0] == "False"


def test_scale_up_keeps_ready_true() -> None:
    ok = compute(deployment=_dep())  # 2/2 available, Ready
    # The operator applied replicas 5 (generation 5); the controller has seen only generation 4,
    # whose template is the current one (template_generation 4): a scale, not a rollout.
    window = compute(deployment=_dep(replicas=5, total=2, generation=5, observed=4), previous=ok, template_generation=4)
    assert _conds(window)["Ready"] == ("True", "Scaling")
    assert _conds(window)["Reconciling"] == ("True", "Scaling")
    # Without knowing the template generation the same change counts as a rollout (never Ready early).
    unknown = compute(deployment=_dep(replicas=5, total=2, generation=5, observed=4), previous=ok)
    assert _conds(unknown)["Ready"] == ("False", "RollingOut")
    # Pods created, becoming available one by one: Ready stays True, no Event at any step.
    prev = window
    for avail in (2, 3, 4, 5):
        nxt = compute(
            deployment=_dep(replicas=5, available=avail, ready=avail, updated=5, generation=5, observed=5),
            previous=prev,
        )
        assert _conds(nxt)["Ready"][0] == "True"
        assert status.events(prev, nxt) == []
        prev = nxt
    assert _conds(prev)["Ready"] == ("True", "AllReplicasReady") and _conds(prev)["Reconciling"][0] == "False"


def test_scale_down_keeps_ready_true() -> None:
    ok = compute(deployment=_dep(replicas=5, ready=5, updated=5, available=5))
    down = compute(deployment=_dep(replicas=2, total=5, ready=5, updated=5, available=5), previous=ok)
    assert _conds(down)["Ready"] == ("True", "Scaling") and status.events(ok, down) == []


def test_losing_a_pod_is_not_ready_even_while_scaling() -> None:
    ok = compute(deployment=_dep(replicas=3, ready=3, updated=3, available=3))
    crash = compute(deployment=_dep(replicas=3, ready=2, updated=3, available=2), previous=ok)
    assert _conds(crash)["Ready"] == ("False", "WaitingForPods")
    assert [e.reason for e in status.events(ok, crash)] == ["NotReady"]
    scaling_crash = compute(deployment=_dep(replicas=6, updated=6, ready=2, available=2), previous=ok)
    assert _conds(scaling_crash)["Ready"][0] == "False"
    # Once not Ready, a scale does not make it Ready: only a complete rollout does.
    still = compute(deployment=_dep(replicas=6, updated=6, ready=4, available=4), previous=scaling_crash)
    assert _conds(still)["Ready"][0] == "False"


def test_template_change_with_old_pods_is_a_rollout() -> None:
    ok = compute(deployment=_dep())
    roll = compute(deployment=_dep(updated=1, total=3, generation=5, observed=5), previous=ok, template_generation=5)
    assert _conds(roll)["Ready"] == ("False", "RollingOut")


def test_next_template_generation_and_only_scaled() -> None:
    before = {"metadata": {"generation": 3, "labels": {"a": "1"}}, "spec": {"replicas": 2, "template": {"x": 1}}}
    scaled = {"metadata": {"generation": 4, "labels": {"a": "1"}}, "spec": {"replicas": 5, "template": {"x": 1}}}
    changed = {"metadata": {"generation": 4, "labels": {"a": "1"}}, "spec": {"replicas": 2, "template": {"x": 2}}}
    assert status.next_template_generation(None, None, before) == 3
    assert status.next_template_generation(2, before, scaled) == 2
    assert status.next_template_generation(None, before, scaled) == 3
    assert status.next_template_generation(2, before, changed) == 4
    assert status.only_scaled(before, scaled) and not status.only_scaled(before, changed)
    assert not status.only_scaled(None, scaled)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    st.integers(0, 6),
    st.integers(0, 6),
    st.integers(0, 6),
    st.integers(0, 6),
    st.booleans(),
    st.booleans(),
    st.one_of(st.none(), st.integers(1, 5)),
)
def test_kstatus_conditions_are_consistent(
    desired: int, total: int, updated: int, available: int, observed: bool, problem: bool, tgen: int | None
) -> None:
    updated, available = min(updated, total), min(available, total)
    dep = _dep(
        replicas=desired,
        total=total,
        updated=updated,
        available=available,
        ready=available,
        generation=5,
        observed=5 if observed else 4,
    )
    problems = [status.Problem("SecretNotFound", "gone")] if problem else []
    prev = compute(deployment=_dep(replicas=desired, ready=desired, updated=desired, available=desired))
    s = compute(deployment=dep, problems=problems, previous=prev, template_generation=tgen)
    c = _conds(s)
    assert not (c["Reconciling"][0] == "True" and c["Stalled"][0] == "True")
    assert (c["Stalled"][0] == "True") == (c["Degraded"][0] == "True") == problem
    if c["Ready"][0] == "True" and c["Reconciling"][0] == "True":
        # Ready during a reconcile only while the pod count changes, with no old-template pods.
        assert c["Ready"][1] == "Scaling" and updated >= total
    if c["Reconciling"][0] == "False" and not problem:
        assert c["Ready"][0] == "True" and available >= desired and updated == total == desired


def test_scaling_active_says_why_the_count_is_held() -> None:
    assert "ScalingActive" not in _conds(compute(deployment=_dep()))
    read = compute(deployment=_dep(), autoscaling={"desiredReplicas": 2, "metricsAvailable": True, "reason": "x"})
    assert _conds(read)["ScalingActive"] == ("True", "EngineRead")
    down = compute(deployment=_dep(), autoscaling={"desiredReplicas": 2, "metricsAvailable": False,
                                                   "reason": "GET /api/v1/tenants/t/worker: HTTP 503"})
    assert _conds(down)["ScalingActive"] == ("False", "EngineUnavailable")
    [cond] = [c for c in down["conditions"] if c["type"] == "ScalingActive"]
    assert "HTTP 503" in cond["message"]


# --- the status merge patch -----------------------------------------------------------------------

def _apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386, as the apiserver applies a merge patch (the reference the patch is checked against)."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _apply_merge_patch(out.get(k), v)
    return out


_leaf = st.one_of(st.integers(), st.text(max_size=3), st.booleans(), st.lists(st.integers(), max_size=2))
_docs = st.recursive(_leaf, lambda inner: st.dictionaries(st.sampled_from("abcd"), inner, max_size=4), max_leaves=12)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.dictionaries(st.sampled_from("abcd"), _docs, max_size=4),
       st.dictionaries(st.sampled_from("abcd"), _docs, max_size=4))
def test_merge_patch_turns_the_previous_status_into_the_new_one(previous: dict[str, Any], new: dict[str, Any]) -> None:
    assert _apply_merge_patch(previous, status.merge_patch(previous, new)) == new


def test_merge_patch_removes_a_dropped_autoscaling_field() -> None:
    previous = {"autoscaling": {"desiredReplicas": 1, "externalAutoscaler": "HorizontalPodAutoscaler/x"}}
    new = {"autoscaling": {"desiredReplicas": 1}}
    assert status.merge_patch(previous, new) == {"autoscaling": {"desiredReplicas": 1, "externalAutoscaler": None}}
