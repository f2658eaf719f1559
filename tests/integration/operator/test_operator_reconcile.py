"""The operator against the real control plane (apiserver + controller-manager + scheduler + kwok nodes).

One operator process serves the whole module (watching all namespaces); each test has its own
namespace. Every wait has a deadline; nothing sleeps in place of a wait.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from conftest import Cluster, Operator, env_of, operator_writes, wait_quiet, worker_manifest

from harness.kube import ControlPlane
from harness.proc import wait_for

pytestmark = pytest.mark.timeout(240)


def _ready_pods(c: Cluster, name: str) -> list[dict[str, Any]]:
    pods = c.list("pods", f"app.kubernetes.io/instance={name}")
    return [
        p
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and any(x["type"] == "Ready" and x["status"] == "True" for x in p.get("status", {}).get("conditions", []))
    ]


def _deployment(c: Cluster, name: str, timeout: float = 30) -> dict[str, Any]:
    return wait_for(lambda: c.get("deployment", name), timeout, f"Deployment {name}")  # type: ignore[no-any-return]


def _ready(c: Cluster, name: str, op: Operator, timeout: float = 90) -> dict[str, Any]:
    return c.wait_condition(name, "Ready", "True", timeout=timeout, procs=(op.proc,))


def test_apply_gives_a_ready_fleet_with_the_contract(operator: Operator, cluster: Cluster) -> None:
    c = cluster
    c.secret()
    c.apply(
        worker_manifest(
            "fleet",
            slots=5,
            durableSlots=50,
            labels={"model": "llama", "gpu": 1},
            workerName="fleet-workers",
            hatchet={"hostPort": "engine:7070", "tls": {"strategy": "none"}},
        )
    )
    dep = _deployment(c, "fleet")
    hw = c.get("hatchetworker", "fleet")
    assert hw is not None
    # Owned, labelled, rolled safely.
    [owner] = dep["metadata"]["ownerReferences"]
    assert owner["uid"] == hw["metadata"]["uid"] and owner["controller"] is True and owner["kind"] == "HatchetWorker"
    assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert dep["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "hatchet-operator"
    pod = dep["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 315
    assert pod["securityContext"]["runAsNonRoot"] is True
    [container] = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # The environment contract.
    env = env_of(dep)
    assert env["HATCHET_CLIENT_TOKEN"] == {
        "secretKeyRef": {"name": "hatchet-client-config", "key": "HATCHET_CLIENT_TOKEN"}
    }
    assert env["HATCHET_CLIENT_WORKER_SLOTS"] == "5"
    assert env["HATCHET_CLIENT_WORKER_DURABLE_SLOTS"] == "50"
    assert env["HATCHET_CLIENT_WORKER_NAME"] == "fleet-workers"
    assert env["HATCHET_CLIENT_HOST_PORT"] == "engine:7070"
    assert env["HATCHET_CLIENT_TLS_STRATEGY"] == "none"
    assert env["HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED"] == "true"
    assert json.loads(env["HATCHET_CLIENT_WORKER_PRESET_LABELS"]) == {
        "model": "llama",
        "gpu": 1,
        "hatchetworker": "fleet",
    }
    # Health port and probes.
    assert container["ports"] == [{"name": "health", "containerPort": 8001, "protocol": "TCP"}]
    for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/readyz"), ("startupProbe", "/health")):
        assert container[probe]["httpGet"]["path"] == path and container[probe]["httpGet"]["port"] == "health"
    # Pods run on the (kwok) nodes and the resource reports Ready.
    wait_for(lambda: len(_ready_pods(c, "fleet")) == 2, 60, "2 ready pods", procs=[operator.proc])
    _ready(c, "fleet", operator)
    status = c.get("hatchetworker", "fleet")["status"]  # type: ignore[index]
    assert status["observedGeneration"] == hw["metadata"]["generation"]
    assert (status["replicas"], status["readyReplicas"], status["availableReplicas"]) == (2, 2, 2)
    assert status["selector"] == "app.kubernetes.io/instance=fleet,app.kubernetes.io/name=hatchet-worker"
    conds = {x["type"]: x for x in status["conditions"]}
    assert conds["Progressing"]["status"] == "False" and conds["Degraded"]["status"] == "False"
    # Printer columns and events.
    row = c.k("get", "hw", "fleet", "--no-headers").stdout.split()
    assert row[:5] == ["fleet", "2", "2", "5", "True"], row
    # Creating a healthy fleet is not a transition worth an Event; nothing went wrong either.
    assert not [e for e in c.events("fleet") if e["type"] == "Warning"]


def test_slots_change_rolls_out_new_env(operator: Operator, cluster: Cluster) -> None:
    c = cluster
    c.secret()
    c.apply(worker_manifest("roll", slots=5))
    _ready(c, "roll", operator)
    old_rs = {rs["metadata"]["name"] for rs in c.list("replicasets", "app.kubernetes.io/instance=roll")}
    started = time.monotonic()
    c.k("patch", "hw", "roll", "--type=merge", "-p", '{"spec": {"slots": 9}}')
    wait_for(
        lambda: env_of(c.get("deployment", "roll") or {})["HATCHET_CLIENT_WORKER_SLOTS"] == "9",
        10,
        "the Deployment to carry slots=9",
        interval=0.02,
    )
    latency = time.monotonic() - started
    print(f"spec change -> Deployment latency: {latency * 1000:.0f} ms (includes kubectl)")
    assert latency < 5

    # A new ReplicaSet rolls out; the old one ends at zero; the pods carry the new env.
    def rolled() -> bool:
        sets = c.list("replicasets", "app.kubernetes.io/instance=roll")
        new = [rs for rs in sets if rs["metadata"]["name"] not in old_rs]
        old = [rs for rs in sets if rs["metadata"]["name"] in old_rs]
        return (
            len(new) == 1
            and new[0]["status"].get("readyReplicas") == 2
            and all(rs["spec"]["replicas"] == 0 for rs in old)
        )

    wait_for(rolled, 60, "the rollout", procs=[operator.proc])
    wait_for(lambda: len(_ready_pods(c, "roll")) == 2, 60, "2 ready pods")
    for pod in _ready_pods(c, "roll"):
        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
        assert env["HATCHET_CLIENT_WORKER_SLOTS"] == "9"
    ready = wait_for(
        lambda: (lambda x: x if x and x["status"] == "True" and x["observedGeneration"] == 2 else None)(
            c.condition("roll", "Ready")
        ),
        60,
        "Ready for generation 2",
        procs=[operator.proc],
    )
    assert ready["reason"] == "AllReplicasReady"
    assert (c.get("hatchetworker", "roll") or {})["status"]["observedGeneration"] == 2


def test_scale_subresource_drives_replicas(operator: Operator, cluster: Cluster, kube: ControlPlane) -> None:
    c = cluster
    c.secret()
    c.apply(worker_manifest("scaled", replicas=1))
    _ready(c, "scaled", operator)
    c.k("scale", "hw/scaled", "--replicas=3")
    wait_for(lambda: (c.get("deployment", "scaled") or {})["spec"]["replicas"] == 3, 10, "Deployment replicas=3")
    wait_for(
        lambda: (c.get("hatchetworker", "scaled") or {}).get("status", {}).get("readyReplicas") == 3,
        60,
        "status.readyReplicas=3",
        procs=[operator.proc],
    )
    scale = kube.get_json(f"/apis/hatchetkube.io/v1alpha1/namespaces/{c.ns}/hatchetworkers/scaled/scale")
    assert scale["kind"] == "Scale"
    assert scale["spec"]["replicas"] == 3 and scale["status"]["replicas"] == 3
    assert scale["status"]["selector"] == "app.kubernetes.io/instance=scaled,app.kubernetes.io/name=hatchet-worker"
    # The selector really selects the worker pods (what an HPA does with it).
    assert len(c.list("pods", scale["status"]["selector"])) >= 3
    c.k("scale", "hw/scaled", "--replicas=0")
    c.wait_condition("scaled", "Ready", "True", "ScaledToZero", timeout=60, procs=(operator.proc,))
    assert (c.get("deployment", "scaled") or {})["spec"]["replicas"] == 0


def test_delete_cascades(operator: Operator, cluster: Cluster) -> None:
    c = cluster
    c.secret()
    c.apply(worker_manifest("doomed"))
    wait_for(lambda: len(_ready_pods(c, "doomed")) == 2, 60, "pods", procs=[operator.proc])
    c.k("delete", "hw", "doomed", "--wait=true", "--timeout=30s")
    wait_for(lambda: c.get("deployment", "doomed") is None, 30, "the Deployment to be garbage-collected")
    wait_for(lambda: not c.list("pods", "app.kubernetes.io/instance=doomed"), 60, "the pods to be gone")


def test_missing_secret_degrades_then_recovers(operator: Operator, cluster: Cluster) -> None:
    c = cluster
    c.apply(worker_manifest("nosecret"))
    degraded = c.wait_condition("nosecret", "Degraded", "True", "SecretNotFound", timeout=30, procs=(operator.proc,))
    assert "hatchet-client-config" in degraded["message"]
    assert c.condition("nosecret", "Ready")["status"] == "False"  # type: ignore[index]
    wait_for(
        lambda: any(e["reason"] == "SecretNotFound" and e["type"] == "Warning" for e in c.events("nosecret")),
        20,
        "a SecretNotFound Warning event",
    )
    # The Secret appears without the key, then with it.
    c.secret(data={"OTHER": "eA=="})
    c.wait_condition("nosecret", "Degraded", "True", "SecretKeyNotFound", timeout=30, procs=(operator.proc,))
    c.secret(data={"HATCHET_CLIENT_TOKEN": "dG9rZW4="})
    c.wait_condition("nosecret", "Degraded", "False", timeout=30, procs=(operator.proc,))
    _ready(c, "nosecret", operator)
    wait_for(lambda: {"Recovered", "Ready"} <= {e["reason"] for e in c.events("nosecret")}, 20, "recovery events")
    assert operator.proc.alive()


def test_image_unset_degrades_without_a_deployment(operator: Operator, cluster: Cluster) -> None:
    c = cluster
    c.secret()
    manifest = worker_manifest("noimage")
    del manifest["spec"]["image"]
    c.apply(manifest)
    c.wait_condition("noimage", "Degraded", "True", "ImageNotSet", timeout=30, procs=(operator.proc,))
    assert c.get("deployment", "noimage") is None
    c.k("patch", "hw", "noimage", "--type=merge", "-p", '{"spec": {"image": "hatchet-kube/worker:test"}}')
    _ready(c, "noimage", operator)


def test_pod_settings_the_apiserver_rejects_degrade(operator: Operator, cluster: Cluster) -> None:
    c = cluster
    c.secret()
    c.apply(worker_manifest("badpod", tolerations=[{"key": "k", "operator": "Sometimes"}]))
    cond = c.wait_condition("badpod", "Degraded", "True", "DeploymentRejected", timeout=30, procs=(operator.proc,))
    assert "tolerations" in cond["message"]
    c.k(
        "patch", "hw", "badpod", "--type=merge", "-p", '{"spec": {"tolerations": [{"key": "k", "operator": "Exists"}]}}'
    )
    _ready(c, "badpod", operator)
    assert operator.proc.alive()


def test_drift_is_reverted(operator: Operator, cluster: Cluster) -> None:
    c = cluster
    c.secret()
    c.apply(worker_manifest("drift", slots=5))
    _ready(c, "drift", operator)

    def reverted(what: str, check: Any) -> float:
        t0 = time.monotonic()
        wait_for(check, 10, f"{what} to be reverted", interval=0.05, procs=[operator.proc])
        return time.monotonic() - t0

    c.k("set", "env", "deployment/drift", "HATCHET_CLIENT_WORKER_SLOTS=999")
    t = reverted(
        "a hand-set env var", lambda: env_of(c.get("deployment", "drift") or {})["HATCHET_CLIENT_WORKER_SLOTS"] == "5"
    )
    c.k("scale", "deployment/drift", "--replicas=5")
    t = max(t, reverted("a hand scale", lambda: (c.get("deployment", "drift") or {})["spec"]["replicas"] == 2))
    c.k(
        "patch",
        "deployment",
        "drift",
        "--type=json",
        "-p",
        '[{"op": "remove", "path": "/spec/template/spec/containers/0/livenessProbe"}]',
    )
    t = max(
        t,
        reverted(
            "a removed probe",
            lambda: (
                "livenessProbe" in (c.get("deployment", "drift") or {})["spec"]["template"]["spec"]["containers"][0]
            ),
        ),
    )
    uid = (c.get("deployment", "drift") or {})["metadata"]["uid"]
    c.k("delete", "deployment", "drift", "--wait=true", "--timeout=30s")
    t = max(
        t,
        reverted(
            "a deleted Deployment",
            lambda: (c.get("deployment", "drift") or {}).get("metadata", {}).get("uid") not in (None, uid),
        ),
    )
    print(f"slowest drift revert: {t * 1000:.0f} ms")
    _ready(c, "drift", operator)


def test_restricted_pod_security_standard(operator: Operator, kube: ControlPlane) -> None:
    ns = kube.create_namespace(
        f"restricted-{uuid.uuid4().hex[:6]}",
        labels={
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
        },
    )
    c = Cluster(kube, ns)
    try:
        c.secret()
        c.apply(worker_manifest("secure"))
        wait_for(
            lambda: len(_ready_pods(c, "secure")) == 2, 60, "pods admitted under restricted", procs=[operator.proc]
        )
        _ready(c, "secure", operator)
        # Control: the same namespace refuses pods once the secure defaults are overridden.
        c.apply(worker_manifest("insecure", securityContext={"allowPrivilegeEscalation": True}))
        c.wait_condition("insecure", "Degraded", "True", "ReplicaFailure", timeout=60, procs=(operator.proc,))
        assert "restricted" in (c.condition("insecure", "Degraded") or {})["message"]
        assert not c.list("pods", "app.kubernetes.io/instance=insecure")
    finally:
        kube.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_idle_fleet_causes_zero_writes(operator: Operator, cluster: Cluster, kube: ControlPlane) -> None:
    c = cluster
    c.secret()
    names = [f"idle-{i}" for i in range(3)]
    for n in names:
        c.apply(worker_manifest(n))
    for n in names:
        _ready(c, n, operator)
    wait_quiet(kube)
    # Settled: the last status write has come back through the watch.
    wait_for(
        lambda: all((c.get("hatchetworker", n) or {})["status"]["readyReplicas"] == 2 for n in names), 30, "settle"
    )
    writes = operator_writes(kube)
    events = len(c.list("events"))
    ours = operator.metric("hatchet_operator_api_writes_total", resource="deployments") + operator.metric(
        "hatchet_operator_api_writes_total", resource="hatchetworkers/status"
    )
    before = operator.metric("hatchet_operator_reconcile_total", result="unchanged")
    # Poke every object without changing what the operator owns: each poke triggers a reconcile.
    for n in names:
        c.k("annotate", "hw", n, f"poke={uuid.uuid4().hex}")
        # A label, not an annotation: a Deployment's generation moves on annotation changes.
        c.k("label", "deployment", n, f"poke={uuid.uuid4().hex[:8]}")
    wait_for(
        lambda: operator.metric("hatchet_operator_reconcile_total", result="unchanged") >= before + 2 * len(names),
        30,
        "the pokes to be reconciled",
        procs=[operator.proc],
    )
    # An observation window after the pokes: the operator must stay silent throughout.
    window_end = time.monotonic() + 8
    while time.monotonic() < window_end:
        assert operator_writes(kube) == writes, [
            (n, (c.get("hatchetworker", n) or {}).get("status")) for n in names
        ] + [operator.metrics()]
        time.sleep(1)
    assert len(c.list("events")) == events
    after = operator.metric("hatchet_operator_api_writes_total", resource="deployments") + operator.metric(
        "hatchet_operator_api_writes_total", resource="hatchetworkers/status"
    )
    assert after == ours


def test_operator_metrics_and_health(operator: Operator) -> None:
    text = operator.metrics()
    for name in (
        "hatchet_operator_reconcile_total",
        "hatchet_operator_reconcile_duration_seconds_bucket",
        "hatchet_operator_managed_workers",
        "hatchet_operator_leader",
        "process_resident_memory_bytes",
    ):
        assert name in text, name
    assert operator.metric("hatchet_operator_reconcile_total") > 0
    assert operator.metric("hatchet_operator_leader") == 1
    code, body = operator.get("/healthz", operator.health_port)
    assert code == 200 and json.loads(body)["leader"] is True
    assert operator.get("/readyz", operator.health_port)[0] == 200
