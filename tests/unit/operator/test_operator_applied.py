"""The applied-configuration digest: every change of intent, removals included, triggers an apply."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from opunit import make_worker

from hatchet_operator import applied, diff, render
from hatchet_operator.observed import ObservedDeployment
from hatchet_operator.reconcile import intent_held

# A spec with every optional field the issue names set; each case removes one of them.
FULL: dict[str, Any] = {
    "replicas": 3,
    "command": ["python", "-m", "app"],
    "args": ["--verbose"],
    "slots": 20,
    "durableSlots": 50,
    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
    "nodeSelector": {"disk": "ssd", "zone": "a"},
    "podLabels": {"team": "x", "tier": "y"},
    "podAnnotations": {"a.example/one": "1", "a.example/two": "2"},
    "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}},
    "hatchet": {"tls": {"caSecretRef": {"name": "ca"}}},
    "healthCheck": {"enabled": True},
    "tolerations": [{"key": "k", "operator": "Exists"}],
    "serviceAccountName": "sa",
    "priorityClassName": "high",
}


def _without(path: tuple[Any, ...]) -> dict[str, Any]:
    spec = copy.deepcopy(FULL)
    target: Any = spec
    for part in path[:-1]:
        target = target[part]
    if isinstance(target, list):
        target.pop(path[-1])
    else:
        del target[path[-1]]
    return spec


REMOVALS = {
    "env entry": ("env", 1),
    "nodeSelector key": ("nodeSelector", "zone"),
    "podLabels key": ("podLabels", "tier"),
    "podAnnotations key": ("podAnnotations", "a.example/two"),
    "command": ("command",),
    "args": ("args",),
    "resource limit": ("resources", "limits", "memory"),
    "slots": ("slots",),
    "durableSlots": ("durableSlots",),
    "tls.caSecretRef": ("hatchet", "tls", "caSecretRef"),
    "replicas": ("replicas",),
    "tolerations": ("tolerations",),
    "serviceAccountName": ("serviceAccountName",),
    "priorityClassName": ("priorityClassName",),
}


def _live(spec: dict[str, Any]) -> ObservedDeployment:
    """The Deployment as the apiserver would hold it after applying ``spec``'s rendering."""
    body = applied.stamp(render.render_deployment(make_worker(spec)))
    body["metadata"]["resourceVersion"] = "7"
    body["metadata"]["generation"] = 2
    body["status"] = {"observedGeneration": 2}
    return ObservedDeployment.of(body)


@pytest.mark.parametrize("removed", sorted(REMOVALS))
def test_removing_a_field_is_a_change_of_intent(removed: str) -> None:
    live = _live(FULL)
    smaller = render.render_deployment(make_worker(_without(REMOVALS[removed])))
    # The old check could not see it: the smaller configuration is still contained in the live one.
    assert diff.holds(smaller, live.body()), "the case must remove something the live object keeps"
    # The digest does.
    assert not intent_held(applied.digest(smaller), live, applied.stamp(smaller))


def test_health_check_disabled_is_a_change_of_intent() -> None:
    live = _live(FULL)
    spec = copy.deepcopy(FULL)
    spec["healthCheck"] = {"enabled": False}
    smaller = render.render_deployment(make_worker(spec))
    assert diff.holds(smaller, live.body())
    assert not intent_held(applied.digest(smaller), live, applied.stamp(smaller))


def test_unchanged_intent_is_held() -> None:
    desired = applied.stamp(render.render_deployment(make_worker(FULL)))
    assert intent_held(applied.digest(desired), _live(FULL), desired)


def test_hand_edit_of_an_owned_field_is_seen_even_with_the_same_digest() -> None:
    body = applied.stamp(render.render_deployment(make_worker(FULL)))
    body["spec"]["template"]["spec"]["containers"][0]["image"] = "edited:by-hand"
    desired = applied.stamp(render.render_deployment(make_worker(FULL)))
    assert not intent_held(applied.digest(desired), ObservedDeployment.of(body), desired)


def test_a_live_object_without_the_annotation_is_applied_once() -> None:
    body = render.render_deployment(make_worker(FULL))  # applied by an older operator: no digest
    desired = applied.stamp(body)
    assert not intent_held(applied.digest(desired), ObservedDeployment.of(body), desired)


def test_digest_ignores_its_own_annotation_and_is_stable() -> None:
    config = render.render_deployment(make_worker(FULL))
    stamped = applied.stamp(config)
    assert applied.digest(stamped) == applied.digest(config) == applied.live_digest(stamped)
    assert applied.stamp(stamped) == stamped
    assert "annotations" not in config["metadata"], "stamp must not modify its argument"


def test_digest_moves_with_the_owner_uid() -> None:
    a = render.render_deployment(make_worker(FULL, uid="u-1"))
    b = render.render_deployment(make_worker(FULL, uid="u-2"))
    assert applied.digest(a) != applied.digest(b)


def test_stamping_does_not_touch_the_pod_template() -> None:
    config = render.render_deployment(make_worker(FULL))
    assert applied.stamp(config)["spec"] == config["spec"]
