"""Worker pods carry no service-account token unless the HatchetWorker asks: the pods the real
controllers create (through the ServiceAccount admission plugin) are checked, not the template."""

from __future__ import annotations

from typing import Any

from conftest import Cluster, Operator, worker_manifest

from harness.proc import wait_for


def _token_mounted(pod: dict[str, Any]) -> bool:
    # The admission plugin adds a projected volume with a serviceAccountToken source.
    for volume in pod["spec"].get("volumes", []) or []:
        for source in (volume.get("projected") or {}).get("sources", []) or []:
            if "serviceAccountToken" in source:
                return True
    return False


def test_pods_mount_a_token_only_when_asked(operator: Operator, cluster: Cluster) -> None:
    c = cluster
    c.secret()
    c.apply(worker_manifest("tokenless", replicas=1))
    c.apply(worker_manifest("tokened", replicas=1, automountServiceAccountToken=True))
    pods: dict[str, list[dict[str, Any]]] = {}

    def created() -> bool:
        for name in ("tokenless", "tokened"):
            pods[name] = c.list("pods", f"app.kubernetes.io/instance={name}")
        return all(pods.values())

    wait_for(created, 90, "pods of both HatchetWorkers", procs=[operator.proc])
    assert not any(_token_mounted(p) for p in pods["tokenless"])
    assert all(_token_mounted(p) for p in pods["tokened"])  # the control case: the check can see a token
