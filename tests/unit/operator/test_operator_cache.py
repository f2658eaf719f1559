"""The in-memory cache and compact copies (pure parts): Secret users, owners, fingerprints."""

from __future__ import annotations

import copy

from opunit import make_worker

from hatchet_operator import diff, render
from hatchet_operator.cache import Cache, deployment_owner, referenced_secrets
from hatchet_operator.observed import ObservedDeployment, slim_worker


def _worker_body(name: str, spec: dict) -> dict:  # type: ignore[type-arg]
    return {
        "apiVersion": "hatchetkube.io/v1alpha1",
        "kind": "HatchetWorker",
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": "u",
            "generation": 1,
            "resourceVersion": "7",
            "managedFields": [{"manager": "kubectl"}],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}"},
        },
        "spec": spec,
        "status": {"replicas": 1},
    }


def test_slim_worker_keeps_only_what_is_read() -> None:
    slim = slim_worker(_worker_body("a", {"image": "i"}))
    assert slim["metadata"] == {"name": "a", "namespace": "ns", "uid": "u", "generation": 1, "resourceVersion": "7"}
    assert slim["spec"] == {"image": "i"} and slim["status"] == {"replicas": 1}
    assert slim["kind"] == "HatchetWorker"


def test_referenced_secrets() -> None:
    assert referenced_secrets({}) == {"hatchet-client-config"}
    spec = {
        "hatchet": {
            "tokenSecretRef": {"name": "t"},
            "tls": {"caSecretRef": {"name": "ca"}, "clientCertSecretRef": {"name": "cc"}},
        }
    }
    assert referenced_secrets(spec) == {"t", "ca", "cc"}


def test_secret_users_follow_spec_changes_and_deletion() -> None:
    cache = Cache()
    cache.put_worker(("ns", "a"), _worker_body("a", {}))
    cache.put_worker(("ns", "b"), _worker_body("b", {"hatchet": {"tokenSecretRef": {"name": "other"}}}))
    assert cache.secret_users("ns", "hatchet-client-config") == ["a"]
    assert cache.secret_users("ns", "other") == ["b"]
    cache.put_worker(("ns", "a"), _worker_body("a", {"hatchet": {"tokenSecretRef": {"name": "other"}}}))
    assert cache.secret_users("ns", "hatchet-client-config") == []
    assert cache.secret_users("ns", "other") == ["a", "b"]
    cache.put_worker(("ns", "b"), None)
    assert cache.secret_users("ns", "other") == ["a"]
    assert cache.worker(("ns", "b")) is None
    assert cache.secret_users("elsewhere", "other") == []


def test_referenced_secret_keys_follow_the_workers() -> None:
    cache = Cache()
    cache.put_worker(("ns", "a"), _worker_body("a", {}))
    cache.put_worker(("ns2", "b"), _worker_body("b", {"hatchet": {"tokenSecretRef": {"name": "t"}}}))
    assert cache.referenced_secret_keys() == {("ns", "hatchet-client-config"), ("ns2", "t")}
    cache.put_worker(("ns2", "b"), None)
    assert cache.referenced_secret_keys() == {("ns", "hatchet-client-config")}
    assert cache.secret_keys("ns", "hatchet-client-config") is None  # never read: unknown


def _live() -> dict:  # type: ignore[type-arg]
    live = copy.deepcopy(render.render_deployment(make_worker({"replicas": 2})))
    live["metadata"].update({"resourceVersion": "42", "generation": 3, "managedFields": [{"big": "x" * 1000}]})
    live["status"] = {"replicas": 2, "readyReplicas": 2, "observedGeneration": 3}
    return live


def test_observed_deployment_round_trip() -> None:
    live = _live()
    o = ObservedDeployment.of(live)
    assert o.resource_version == 42 and o.generation == 3
    assert o.status_view == {
        "metadata": {"generation": 3},
        "spec": {"replicas": 2},
        "status": {"replicas": 2, "readyReplicas": 2, "observedGeneration": 3},
    }
    body = o.body()
    assert "managedFields" not in body["metadata"] and "status" not in body
    assert diff.holds(render.render_deployment(make_worker({"replicas": 2})), body)
    assert len(o.blob) < len(str(live)) / 2


def test_list_items_without_kind_still_hold() -> None:
    live = _live()
    del live["apiVersion"], live["kind"]  # as in a LIST response
    assert diff.holds(render.render_deployment(make_worker({"replicas": 2})), ObservedDeployment.of(live).body())


def test_fingerprint_moves_with_owned_fields_only() -> None:
    base = ObservedDeployment.of(_live()).fingerprint
    status_only = _live()
    status_only["status"]["readyReplicas"] = 1
    status_only["metadata"]["resourceVersion"] = "43"
    assert ObservedDeployment.of(status_only).fingerprint == base
    for mutate in (
        lambda d: d["metadata"].update(generation=4),
        lambda d: d["metadata"]["labels"].pop("app.kubernetes.io/managed-by"),
        lambda d: d["metadata"]["ownerReferences"][0].update(uid="other"),
    ):
        changed = _live()
        mutate(changed)
        assert ObservedDeployment.of(changed).fingerprint != base


def test_deployment_owner() -> None:
    live = _live()
    assert deployment_owner(live) == "w"
    del live["metadata"]["ownerReferences"]
    assert deployment_owner(live) == "w"  # from the instance label
    del live["metadata"]["labels"]
    assert deployment_owner(live) is None


def test_needed_keys_match_what_the_renderer_references() -> None:
    from hatchet_operator.api import v1alpha1 as api
    from hatchet_operator.cache import needed_keys

    spec = {
        "image": "i",
        "hatchet": {
            "tokenSecretRef": {"name": "t", "key": "K"},
            "tls": {"strategy": "mtls", "caSecretRef": {"name": "ca"}, "clientCertSecretRef": {"name": "cc"}},
        },
    }
    for s in ({"image": "i"}, spec):
        worker = api.HatchetWorker.model_validate({"metadata": {"name": "w"}, "spec": s})
        expected: dict[str, set[str]] = {}
        for name, key in render.secret_references(worker):
            expected.setdefault(name, set()).add(str(key))
        assert needed_keys(s) == expected
