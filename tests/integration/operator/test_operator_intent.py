"""Every spec change reaches the Deployment, removals included, and Ready never says otherwise.

A property-based test against the real apiserver: hypothesis draws sequences of HatchetWorker
specs, each step adding, changing and removing optional fields relative to the one before. After
each step the test waits for the operator to report ``Ready=True`` at ``observedGeneration ==
generation`` and then checks, at that moment, that the live Deployment equals what a server-side
dry-run apply of the freshly rendered Deployment gives: if the operator had skipped an apply (a
removal it did not see), the dry-run would differ from the live object. The reference is the
apiserver's own merge, not the operator's comparison code.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from conftest import Cluster, Operator, worker_manifest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from harness.kube import ControlPlane
from harness.proc import wait_for
from hatchet_operator import applied, render
from hatchet_operator.api import v1alpha1 as api

pytestmark = pytest.mark.timeout(900)

MANAGER = "intent-test"  # the "user" applying HatchetWorkers (server-side, so removals are removals)


def _subset(options: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.lists(st.sampled_from(sorted(options)), unique=True).map(lambda keys: {k: options[k] for k in keys})


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


# Values every kwok node satisfies (a nodeSelector must not leave pods unschedulable).
NODE_LABELS = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "type": "kwok"}

SPEC_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "replicas": st.integers(0, 2),
    "command": st.lists(st.sampled_from(["python", "-m", "app", "run"]), min_size=1, max_size=3),
    "args": st.lists(st.sampled_from(["--verbose", "--once", "x"]), min_size=1, max_size=2),
    "slots": st.integers(1, 50),
    "durableSlots": st.integers(1, 50),
    "env": st.lists(
        st.builds(lambda n, v: {"name": n, "value": v}, st.sampled_from("ABC"), st.sampled_from(["1", "2"])),
        max_size=3,
        unique_by=lambda e: e["name"],
    ),
    "nodeSelector": _subset(NODE_LABELS),
    "podLabels": st.dictionaries(st.sampled_from(["team", "tier"]), st.sampled_from(["x", "y"]), max_size=2),
    "podAnnotations": st.dictionaries(
        st.sampled_from(["a.example/one", "a.example/two"]), st.sampled_from(["1", "2"]), max_size=2
    ),
    "resources": st.builds(
        lambda limits, requests: {k: v for k, v in (("limits", limits), ("requests", requests)) if v},
        _subset({"cpu": "1", "memory": "512Mi"}),
        _subset({"cpu": "100m", "memory": "64Mi"}),
    ),
    "hatchet": st.sampled_from(
        [{"tls": {"caSecretRef": {"name": "ca"}}}, {"namespace": "prod"}, {"hostPort": "engine:7070"}]
    ),
    "healthCheck": st.sampled_from([{"enabled": False}, {"enabled": True, "port": 8002}, {"port": 8003}]),
    "tolerations": st.just([{"key": "k", "operator": "Exists"}]),
    "serviceAccountName": st.just("runner"),
    "labels": st.dictionaries(
        st.sampled_from(["model", "gpu"]), st.one_of(st.integers(0, 9), st.just("a")), max_size=2
    ),
}


def _clean(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if v is not None and v != {} and v != []}


# A spec is any subset of the optional fields, each with a drawn value (None: field absent).
SPECS = st.fixed_dictionaries({k: _maybe(v) for k, v in SPEC_FIELDS.items()}).map(_clean)
# One edit: remove a field (None) or set it to a new value. A step is one or two edits, so a step
# that only removes something (what containment cannot see) is common.
EDITS = st.one_of(*(st.tuples(st.just(k), _maybe(v)) for k, v in SPEC_FIELDS.items()))
STEPS = st.lists(st.lists(EDITS, min_size=1, max_size=2), min_size=3, max_size=5)


def _sequence(initial: dict[str, Any], steps: list[list[tuple[str, Any]]]) -> list[dict[str, Any]]:
    out = [initial]
    for edits in steps:
        spec = dict(out[-1])
        for field, value in edits:
            spec[field] = value
        out.append(_clean(spec))
    return out


def _owned(deployment: dict[str, Any]) -> dict[str, Any]:
    meta = deployment["metadata"]
    return {
        "labels": meta.get("labels"),
        "annotations": meta.get("annotations"),
        "ownerReferences": meta.get("ownerReferences"),
        "spec": deployment["spec"],
    }


def _dry_run(c: Cluster, hw: dict[str, Any]) -> dict[str, Any]:
    """What applying the freshly rendered Deployment would leave, by the apiserver's own merge."""
    desired = applied.stamp(render.render_deployment(api.HatchetWorker.model_validate(hw)))
    cp = c.k(
        "apply",
        "--server-side",
        "--dry-run=server",
        f"--field-manager={render.FIELD_MANAGER}",
        "--force-conflicts",
        "-o",
        "json",
        "-f",
        "-",
        input=json.dumps(desired),
    )
    return json.loads(cp.stdout)  # type: ignore[no-any-return]


def _ready_at_generation(c: Cluster, name: str) -> dict[str, Any] | None:
    hw = c.get("hatchetworker", name)
    if hw is None:
        return None
    status = hw.get("status") or {}
    if status.get("observedGeneration") != hw["metadata"]["generation"]:
        return None
    ready = next((x for x in status.get("conditions", []) if x["type"] == "Ready"), None)
    if ready is None or ready["status"] != "True" or ready.get("observedGeneration") != hw["metadata"]["generation"]:
        return None
    return hw


def _caught_up(c: Cluster, name: str) -> dict[str, Any] | None:
    hw = _ready_at_generation(c, name)
    if hw is None:
        return None
    reconciling = next((x for x in hw["status"].get("conditions", []) if x["type"] == "Reconciling"), None)
    return hw if reconciling is not None and reconciling["status"] == "False" else None


def test_every_spec_change_lands(operator: Operator, cluster: Cluster, kube: ControlPlane) -> None:
    c = cluster
    c.secret()
    c.secret("ca", {"ca.crt": "Y2E="})
    c.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "runner"}})
    done: list[int] = []

    @seed(20261202)
    @settings(
        max_examples=6,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: each example costs real API round trips
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(SPECS, STEPS)
    def check(initial: dict[str, Any], steps: list[list[tuple[str, Any]]]) -> None:
        name = f"intent-{uuid.uuid4().hex[:8]}"
        try:
            for spec in _sequence(initial, steps):
                manifest = worker_manifest(name)
                manifest["spec"] = {"image": "hatchet-kube/worker:test", **spec}
                c.k(
                    "apply",
                    "--server-side",
                    f"--field-manager={MANAGER}",
                    "--force-conflicts",
                    "-f",
                    "-",
                    input=json.dumps(manifest),
                )
                hw = wait_for(lambda: _ready_at_generation(c, name), 90, f"{name} Ready at its generation")
                live = c.get("deployment", name)
                assert live is not None
                expected = _dry_run(c, hw)
                assert _owned(live) == _owned(expected), f"the Deployment does not hold spec {spec}"
                # Once it reports it has caught up (Reconciling=False), the status describes this
                # very Deployment (while only scaling, Ready may already be True: a scale is not a
                # rollout).
                settled = wait_for(lambda: _caught_up(c, name), 90, f"{name} Reconciling=False")
                dep = c.get("deployment", name)
                assert dep is not None
                assert settled["status"]["replicas"] == dep["status"].get("replicas", 0)
                done.append(1)
        finally:
            c.k("delete", "hatchetworker", name, "--wait=false", check=False)

    check()
    assert len(done) >= 24, "the property test must have exercised real steps"


def test_removing_replicas_hands_the_field_back(operator: Operator, cluster: Cluster) -> None:
    """Removing ``replicas`` releases the field; the apiserver then defaults it (documented behaviour)."""
    c = cluster
    c.secret()
    manifest = worker_manifest("handback", replicas=3)
    apply = ("apply", "--server-side", f"--field-manager={MANAGER}", "-f", "-")
    c.k(*apply, input=json.dumps(manifest))
    wait_for(lambda: (c.get("deployment", "handback") or {}).get("spec", {}).get("replicas") == 3, 60, "3 replicas")
    del manifest["spec"]["replicas"]
    c.k(*apply, input=json.dumps(manifest))
    dep = wait_for(
        lambda: (d := c.get("deployment", "handback")) and d["spec"].get("replicas") != 3 and d, 60, "replicas released"
    )
    assert dep["spec"]["replicas"] == 1, "the apiserver's default once nobody owns the field"
    full = json.loads(c.k("get", "deployment", "handback", "-o", "json", "--show-managed-fields").stdout)
    managers = {m["manager"]: m for m in full["metadata"]["managedFields"]}
    owned = json.dumps(managers[render.FIELD_MANAGER].get("fieldsV1", {}))
    assert '"f:replicas"' not in owned
