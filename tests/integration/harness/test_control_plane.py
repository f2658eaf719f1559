"""The harness's control plane is the real thing: version, controllers, scheduler, kwok, admission."""

from __future__ import annotations

import json
import re

import pytest

from harness.kube import ControlPlane
from harness.proc import wait_for


def test_serves_the_pinned_version(kube: ControlPlane) -> None:
    info = kube.get_json("/version")
    assert info["gitVersion"] == kube.version
    client = json.loads(kube.kubectl("version", "-o", "json").stdout)["clientVersion"]
    assert client["gitVersion"] == kube.version


def _deployment(name: str, replicas: int) -> dict[str, object]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": "example.invalid/app:1"}]},
            },
        },
    }


def test_deployment_gets_ready_pods_on_kwok_and_is_garbage_collected(kube: ControlPlane, namespace: str) -> None:
    kube.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(_deployment("web", 3)))

    def ready_pods() -> list[dict[str, object]] | None:
        pods = json.loads(kube.kubectl("get", "pods", "-n", namespace, "-l", "app=web", "-o", "json").stdout)
        ready = [
            p
            for p in pods["items"]
            if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
        ]
        return ready if len(ready) == 3 else None

    pods = wait_for(ready_pods, 90, "3 ready pods", procs=kube.procs)
    assert {p["spec"]["nodeName"] for p in pods} <= {f"kwok-node-{i}" for i in range(kube.nodes)}  # type: ignore[index]
    rs = json.loads(kube.kubectl("get", "replicasets", "-n", namespace, "-o", "json").stdout)["items"]
    assert len(rs) == 1 and rs[0]["metadata"]["ownerReferences"][0]["name"] == "web"
    wait_for(
        lambda: (
            json.loads(kube.kubectl("get", "deploy", "web", "-n", namespace, "-o", "json").stdout)["status"].get(
                "readyReplicas"
            )
            == 3
        ),
        60,
        "deployment readyReplicas=3",
        procs=kube.procs,
    )

    kube.kubectl("delete", "deployment", "web", "-n", namespace, "--wait=false")

    def children_gone() -> bool:
        left = json.loads(kube.kubectl("get", "replicasets,pods", "-n", namespace, "-o", "json").stdout)["items"]
        return not left

    wait_for(children_gone, 90, "the garbage collector to delete the ReplicaSet and Pods", procs=kube.procs)


def test_restricted_namespace_rejects_privileged_pod(kube: ControlPlane) -> None:
    ns = kube.create_namespace("psa-restricted", {"pod-security.kubernetes.io/enforce": "restricted"})
    privileged = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "priv"},
        "spec": {
            "containers": [
                {
                    "name": "main",
                    "image": "example.invalid/app:1",
                    "securityContext": {"privileged": True},
                }
            ]
        },
    }
    cp = kube.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(privileged), check=False)
    assert cp.returncode != 0
    assert "violates PodSecurity" in cp.stderr and "restricted" in cp.stderr
    assert "privileged" in cp.stderr
    # The same namespace admits a pod that meets the profile: the rejection is about the pod.
    compliant = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "ok"},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "main",
                    "image": "example.invalid/app:1",
                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                }
            ],
        },
    }
    kube.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(compliant))
    kube.kubectl("delete", "namespace", ns, "--wait=false")


@pytest.mark.parametrize(
    "resource", ["deployments.apps", "leases.coordination.k8s.io", "customresourcedefinitions.apiextensions.k8s.io"]
)
def test_api_resources_served(kube: ControlPlane, resource: str) -> None:
    names = kube.kubectl("api-resources", "-o", "name").stdout.split()
    assert resource in names


@pytest.mark.parametrize("suffix", ["a.b", "c[d]"])
def test_namespace_fixture_makes_valid_names_for_parametrized_tests(namespace: str, suffix: str) -> None:
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", namespace), namespace
