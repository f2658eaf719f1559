"""Operating the operator: two replicas with Lease leader election, failover, graceful hand-over,
and a restart in the middle of creating a fleet (convergence, no duplicates, zero writes after)."""

from __future__ import annotations

import json
import signal
import time
import uuid
from pathlib import Path

import pytest
from conftest import Cluster, Operator, operator_writes, wait_quiet, worker_manifest

from harness.kube import ControlPlane
from harness.proc import wait_for

pytestmark = pytest.mark.timeout(300)


def _operator(kube: ControlPlane, tmp_path: Path, name: str, ns: str, lease: str, duration: float = 6) -> Operator:
    return Operator(
        kube,
        tmp_path,
        name,
        f"--namespace={ns}",
        f"--leader-election-namespace={ns}",
        f"--leader-election-id={lease}",
        f"--lease-duration={duration}",
        "--renew-deadline=3",
        "--retry-period=1",
    )


def _leaders(ops: list[Operator]) -> list[Operator]:
    return [o for o in ops if o.proc.alive() and o.is_leader()]


def _holder(c: Cluster, lease: str) -> str | None:
    obj = c.get("lease", lease)
    return ((obj or {}).get("spec") or {}).get("holderIdentity")


def test_two_replicas_one_leader_and_failover(kube: ControlPlane, crd: str, cluster: Cluster, tmp_path: Path) -> None:
    c = cluster
    lease = f"ha-{uuid.uuid4().hex[:6]}"
    a = _operator(kube, tmp_path, "op-a", c.ns, lease).start()
    b = _operator(kube, tmp_path, "op-b", c.ns, lease).start()
    ops = [a, b]
    try:
        [leader] = wait_for(lambda: _leaders(ops) if len(_leaders(ops)) == 1 else None, 30, "exactly one leader")
        [standby] = [o for o in ops if o is not leader]
        assert _holder(c, lease)
        c.secret()
        c.apply(worker_manifest("ha", slots=3))
        c.wait_condition("ha", "Ready", "True", timeout=60, procs=(leader.proc,))
        # Only the leader wrote; the standby is alive, healthy and idle.
        assert leader.metric("hatchet_operator_api_writes_total", resource="deployments") >= 1
        assert standby.metric("hatchet_operator_api_writes_total", resource="deployments") == 0
        assert standby.metric("hatchet_operator_reconcile_total") == 0
        assert standby.get("/healthz", standby.health_port)[0] == 200
        assert len(_leaders(ops)) == 1

        # Kill the leader hard: the standby takes over once the Lease expires.
        holder = _holder(c, lease)
        t0 = time.monotonic()
        leader.stop(sig=signal.SIGKILL)
        wait_for(standby.is_leader, 30, "the standby to take over", procs=[standby.proc])
        took = time.monotonic() - t0
        print(f"failover after SIGKILL: {took:.1f}s (lease duration 6s)")
        assert _holder(c, lease) not in (None, holder)
        # The new leader reconciles: a spec change reaches the Deployment.
        c.k("patch", "hw", "ha", "--type=merge", "-p", '{"spec": {"slots": 4}}')

        def slots() -> str | None:
            dep = c.get("deployment", "ha") or {}
            env = dep["spec"]["template"]["spec"]["containers"][0]["env"]
            return next(e["value"] for e in env if e["name"] == "HATCHET_CLIENT_WORKER_SLOTS")

        wait_for(lambda: slots() == "4", 20, "the new leader to apply slots=4", procs=[standby.proc])
        # Exactly one Deployment, still owned by the same HatchetWorker.
        assert [d["metadata"]["name"] for d in c.list("deployments")] == ["ha"]

        # A graceful stop releases the Lease: a new standby takes over without waiting out the lease.
        third = _operator(kube, tmp_path, "op-c", c.ns, lease).start()
        ops.append(third)
        t0 = time.monotonic()
        standby.stop()  # SIGTERM
        wait_for(third.is_leader, 10, "the third replica to lead", procs=[third.proc])
        handover = time.monotonic() - t0
        print(f"hand-over after SIGTERM: {handover:.1f}s")
        assert handover < 6, "the Lease was not released on a graceful stop"
        c.wait_condition("ha", "Ready", "True", timeout=60, procs=(third.proc,))
    finally:
        for o in ops:
            o.stop()


def test_restart_mid_way_converges_without_duplicates(
    kube: ControlPlane, crd: str, cluster: Cluster, tmp_path: Path
) -> None:
    c = cluster
    lease = f"restart-{uuid.uuid4().hex[:6]}"
    count = 30
    c.secret()
    # The fleet exists before the operator starts, so the kill lands while it is creating it.
    c.apply({"apiVersion": "v1", "kind": "List", "items": [worker_manifest(f"w{i}", replicas=1) for i in range(count)]})
    path = f"/apis/apps/v1/namespaces/{c.ns}/deployments"
    first = _operator(kube, tmp_path, "op-first", c.ns, lease, duration=4).start()
    try:
        wait_for(lambda: kube.get_json(path)["items"], 60, "the first Deployment", interval=0.01, procs=[first.proc])
        first.stop(sig=signal.SIGKILL)
    finally:
        first.stop()
    ready_at_kill = sum(
        1
        for w in c.list("hatchetworkers")
        if any(x["type"] == "Ready" and x["status"] == "True" for x in (w.get("status") or {}).get("conditions", []))
    )
    print(f"at the kill: {len(c.list('deployments'))}/{count} Deployments, {ready_at_kill}/{count} Ready")
    assert ready_at_kill < count, "the operator finished before it was killed; nothing was mid-way"
    second = _operator(kube, tmp_path, "op-second", c.ns, lease, duration=4).start()
    try:
        wait_for(second.is_leader, 30, "the second operator to lead", procs=[second.proc])
        for i in range(count):
            c.wait_condition(f"w{i}", "Ready", "True", timeout=90, procs=(second.proc,))
        workers = {w["metadata"]["name"]: w["metadata"]["uid"] for w in c.list("hatchetworkers")}
        deployments = c.list("deployments")
        assert sorted(d["metadata"]["name"] for d in deployments) == sorted(workers)
        for d in deployments:
            [ref] = d["metadata"]["ownerReferences"]
            assert ref["uid"] == workers[d["metadata"]["name"]] and ref["controller"] is True
        assert len(c.list("replicasets")) == count
        wait_for(lambda: len(c.list("pods")) == count, 60, "one pod per worker")
    finally:
        second.stop()

    # A restart over a settled fleet writes nothing: the new process lists everything, finds it all
    # in place and stays silent.
    wait_quiet(kube)
    wait_for(
        lambda: all((w.get("status") or {}).get("readyReplicas") == 1 for w in c.list("hatchetworkers")), 30, "settled"
    )
    writes = operator_writes(kube)
    third = _operator(kube, tmp_path, "op-third", c.ns, lease, duration=4).start()
    try:
        wait_for(third.is_leader, 30, "the third operator to lead", procs=[third.proc])
        wait_for(
            lambda: third.metric("hatchet_operator_reconcile_total", result="unchanged") >= count,
            30,
            "every HatchetWorker to be reconciled after the restart",
            procs=[third.proc],
        )
        results = {r: third.metric("hatchet_operator_reconcile_total", result=r) for r in ("applied", "error")}
        assert results == {"applied": 0, "error": 0}, third.metrics()
        window_end = time.monotonic() + 5
        while time.monotonic() < window_end:
            assert operator_writes(kube) == writes
            time.sleep(0.5)
        assert third.metric("hatchet_operator_api_writes_total", resource="deployments") == 0
        assert third.metric("hatchet_operator_api_writes_total", resource="hatchetworkers/status") == 0
        assert third.metric("hatchet_operator_managed_workers") == count
        health = json.loads(third.get("/healthz", third.health_port)[1])
        assert health == {"status": "ok", "leader": True}
        # The leader's own Lease renewals come back through its watch (what liveness checks).
        assert third.metric("hatchet_operator_watch_heartbeat_age_seconds") < 5
    finally:
        third.stop()
