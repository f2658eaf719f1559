"""Deciding whether the live Deployment already holds the applied configuration."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from opunit import make_worker

from hatchet_operator import diff, render


def _live_from(desired: dict) -> dict:  # type: ignore[type-arg]
    """What the apiserver returns: the applied fields plus defaults, status and metadata of its own."""
    live = copy.deepcopy(desired)
    live["metadata"].update({"uid": "x", "resourceVersion": "5", "generation": 1, "annotations": {"a": "b"}})
    live["spec"]["revisionHistoryLimit"] = 10
    live["spec"]["progressDeadlineSeconds"] = 600
    pod = live["spec"]["template"]["spec"]
    pod.update({"restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler"})
    c = pod["containers"][0]
    c.update({"terminationMessagePath": "/dev/termination-log", "imagePullPolicy": "IfNotPresent"})
    c["livenessProbe"]["successThreshold"] = 1
    c["livenessProbe"]["httpGet"]["scheme"] = "HTTP"
    for e in c["env"]:
        if "valueFrom" in e and "fieldRef" in e["valueFrom"]:
            e["valueFrom"]["fieldRef"]["apiVersion"] = "v1"
    live["status"] = {"replicas": 1}
    return live


def test_live_object_with_defaults_holds_the_desired() -> None:
    desired = render.render_deployment(make_worker({"replicas": 2, "resources": {"limits": {"cpu": "1"}}}))
    assert diff.holds(desired, _live_from(desired))
    assert diff.mismatches(desired, _live_from(desired)) == []


def test_missing_object_does_not_hold() -> None:
    assert not diff.holds({"a": 1}, None)


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["spec"].update(replicas=5), ".spec.replicas"),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="evil"),
            ".spec.template.spec.containers[worker].image",
        ),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0].pop("livenessProbe"),
            ".spec.template.spec.containers[worker].livenessProbe",
        ),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0]["env"].pop(3),
            ".spec.template.spec.containers[worker].env[HATCHET_CLIENT_TOKEN]",
        ),
        (
            lambda d: d["metadata"]["labels"].pop("app.kubernetes.io/managed-by"),
            ".metadata.labels.app.kubernetes.io/managed-by",
        ),
        (
            lambda d: d["spec"]["template"]["spec"]["securityContext"].update(runAsNonRoot=False),
            ".spec.template.spec.securityContext.runAsNonRoot",
        ),
    ],
)
def test_hand_edits_of_owned_fields_are_detected(mutate, path) -> None:  # type: ignore[no-untyped-def]
    desired = render.render_deployment(make_worker({"replicas": 2}))
    live = _live_from(desired)
    mutate(live)
    assert path in diff.mismatches(desired, live)


def test_fields_added_by_other_managers_are_tolerated() -> None:
    desired = render.render_deployment(make_worker())
    live = _live_from(desired)
    live["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "EXTRA", "value": "1"})
    live["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "s"})
    live["spec"]["template"]["metadata"]["annotations"] = {"kubectl.kubernetes.io/restartedAt": "now"}
    live["spec"]["replicas"] = 7  # the CR leaves replicas to an autoscaler
    assert diff.holds(desired, live)


def test_positional_lists_must_match_exactly() -> None:
    assert diff.mismatches({"args": ["a", "b"]}, {"args": ["a"]}) == [".args"]
    assert diff.mismatches({"args": ["a", "b"]}, {"args": ["b", "a"]}) == [".args[0]", ".args[1]"]


@pytest.mark.parametrize(
    ("desired", "live", "equal"),
    [
        ("500m", "500m", True),
        ("0.5", "500m", True),
        ("1", "1000m", True),
        (2, "2", True),
        ("1Gi", "1024Mi", True),
        ("1e3", "1k", True),
        ("1G", "1Gi", False),
        ("100m", "200m", False),
    ],
)
def test_quantities_compare_by_value(desired: str | int, live: str, equal: bool) -> None:
    d = {"spec": {"resources": {"limits": {"cpu": desired}}}}
    lv = {"spec": {"resources": {"limits": {"cpu": live}}}}
    assert diff.holds(d, lv) is equal


def test_quantity_parser() -> None:
    assert diff.quantity("250m") == Decimal("0.25")
    assert diff.quantity("2Ki") == Decimal(2048)
    assert diff.quantity("lots") is None
    assert diff.quantity("1Zi") is None


def test_int_or_string_outside_resources_compares_as_text() -> None:
    assert diff.holds({"maxSurge": 1}, {"maxSurge": "1"})
    assert not diff.holds({"flag": True}, {"flag": "True"})
    assert not diff.holds({"a": {"b": 1}}, {"a": 1})


@pytest.mark.parametrize(
    ("path", "quantity"),
    [
        (".spec.template.spec.containers[worker].resources.limits.cpu", True),
        (".spec.template.spec.volumes[scratch].emptyDir.sizeLimit", True),
        (".spec.template.spec.containers[worker].env[MEM].valueFrom.resourceFieldRef.divisor", True),
        (".spec.template.spec.volumes[info].downwardAPI.items[0].resourceFieldRef.divisor", True),
        (".spec.template.spec.volumes[eph].ephemeral.volumeClaimTemplate.spec.resources.requests.storage", True),
        (".spec.strategy.rollingUpdate.maxSurge", False),
        (".spec.template.spec.containers[worker].env[SIZE].value", False),
    ],
)
def test_quantity_paths(path: str, quantity: bool) -> None:
    assert diff.is_quantity_path(path) is quantity


def test_canonicalized_quantities_outside_resources_hold() -> None:
    # What the apiserver stores for sizeLimit 1024Mi and divisor 1000m.
    desired = {
        "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1024Mi"}}],
        "env": [{"name": "M", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1000m"}}}],
    }
    live = {
        "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}],
        "env": [{"name": "M", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1"}}}],
    }
    assert diff.holds(desired, live)
    live["volumes"][0]["emptyDir"]["sizeLimit"] = "2Gi"
    assert diff.mismatches(desired, live) == [".volumes[scratch].emptyDir.sizeLimit"]
