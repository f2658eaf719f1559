"""One writer at a time, counted by the apiserver: two operator replicas (each with its own client
certificate, so the audit log names them), faults between the leader and the apiserver, and the
audit log read afterwards for writes a replica made while the Lease was another's or released.

The module runs its own control plane with the audit log on (the shared one has it off)."""

from __future__ import annotations

import base64
import json
import random
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Cluster, Operator, install_crd, worker_manifest

from harness import audit
from harness.kube import ControlPlane
from harness.proc import wait_for
from harness.proxy import TcpProxy

pytestmark = pytest.mark.timeout(420)


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    cp = ControlPlane(tmp_path_factory.mktemp("kube-audit"), nodes=1, audit=True)
    try:
        cp.start()
        yield cp
    finally:
        cp.stop()


@pytest.fixture(scope="module")
def crd(kube: ControlPlane) -> str:
    return install_crd(kube)


def _replica(
    kube: ControlPlane, tmp: Path, user: str, ns: str, lease: str, *extra: str, via: TcpProxy | None = None
) -> Operator:
    cfg = kube.user_kubeconfig(user, server=via.url if via else None)
    return Operator(
        kube,
        tmp,
        user,
        f"--kubeconfig={cfg}",
        f"--namespace={ns}",
        f"--leader-election-namespace={ns}",
        f"--leader-election-id={lease}",
        "--lease-duration=6",
        "--renew-deadline=3",
        "--retry-period=1",
        *extra,
    )


class Churn:
    """Keeps patching one HatchetWorker's slots so whoever acts as leader has writes to make."""

    def __init__(self, c: Cluster, name: str) -> None:
        self.c, self.name, self.n = c, name, 10
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + 240
        while not self._stop.is_set() and time.monotonic() < deadline:
            self.n += 1
            self.c.k("patch", "hw", self.name, "--type=merge", "-p", f'{{"spec": {{"slots": {self.n}}}}}', check=False)
            self._stop.wait(0.3)

    def __enter__(self) -> Churn:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)


def _slots(c: Cluster, name: str) -> str | None:
    dep = c.get("deployment", name) or {}
    env = ((dep.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers", [{}])[0].get("env", [])
    return next((e.get("value") for e in env if e["name"] == "HATCHET_CLIENT_WORKER_SLOTS"), None)


def _assert_one_writer(kube: ControlPlane, ns: str, lease: str, users: list[str]) -> list[audit.Tenure]:
    time.sleep(1)  # the last events reach the log
    events = kube.audit_events()
    history = audit.tenures(events, ns, lease)
    writes = audit.writes(events, users)
    bad = audit.out_of_turn(events, ns, lease, users)
    print(f"Lease tenures: {[(str(t.start.time()), t.holder) for t in history]}")
    print(f"writes by replica: { {u: sum(1 for w in writes if w.user == u) for u in users} }; out of turn: {len(bad)}")
    assert writes, "no write at all was recorded: the audit log or the user names are wrong"
    assert bad == [], "\n".join(map(str, bad[:20]))
    return history


def test_priming_slower_than_the_lease(kube: ControlPlane, crd: str, cluster: Cluster, tmp_path: Path) -> None:
    """The leader's responses crawl (a proxy at 300 KB/s per connection) and its first LIST carries
    ~4 MB of Secrets: priming takes longer than the lease, yet renewals (small answers, own
    connections) keep it, and nobody writes out of turn."""
    c = cluster
    lease = f"prime-{uuid.uuid4().hex[:6]}"
    c.secret()
    for i in range(6):
        # Random, so the apiserver's gzip of the LIST cannot shrink it.
        blob = base64.b64encode(random.Random(i).randbytes(500_000)).decode()
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"big-{i}"}, "data": {"x": blob}}
        c.k("create", "-f", "-", input=json.dumps(secret))  # not apply: no last-applied copy
    count = 20
    c.apply({"apiVersion": "v1", "kind": "List", "items": [worker_manifest(f"w{i}", replicas=0) for i in range(count)]})
    with TcpProxy(kube.server, down_rate=300_000) as slow:
        a = _replica(kube, tmp_path, "op-prime-a", c.ns, lease, via=slow).start()
        b = None
        try:
            wait_for(a.is_leader, 30, "the slowed replica to lead", procs=[a.proc])
            b = _replica(kube, tmp_path, "op-prime-b", c.ns, lease).start()
            wait_for(lambda: len(c.list("deployments")) == count, 180, "every Deployment", procs=[a.proc, b.proc])
            with Churn(c, "w0") as churn:
                time.sleep(3)
            wait_for(lambda: _slots(c, "w0") == str(churn.n), 60, "the last change to land")
        finally:
            for o in (a, b):
                if o is not None:
                    o.stop()
    _assert_one_writer(kube, c.ns, lease, ["op-prime-a", "op-prime-b"])


@pytest.mark.parametrize("existing_only", [True, False], ids=["existing-connections", "all-connections"])
def test_the_leaders_connection_hangs(
    kube: ControlPlane, crd: str, cluster: Cluster, tmp_path: Path, existing_only: bool
) -> None:
    c = cluster
    lease = f"hang-{uuid.uuid4().hex[:6]}"
    users = [f"op-hang-a-{existing_only}".lower(), f"op-hang-b-{existing_only}".lower()]
    c.secret()
    c.apply(worker_manifest("w", replicas=0))
    with TcpProxy(kube.server) as proxy:
        a = _replica(kube, tmp_path, users[0], c.ns, lease, via=proxy).start()
        b = None
        try:
            wait_for(a.is_leader, 30, "A to lead", procs=[a.proc])
            b = _replica(kube, tmp_path, users[1], c.ns, lease).start()
            c.wait_condition("w", "Ready", "True", timeout=60, procs=(a.proc,))
            with Churn(c, "w") as churn:
                time.sleep(2)
                print(f"hung {proxy.hang(existing_only=existing_only, directions=('up',))} connections")
                wait_for(b.is_leader, 60, "B to take over", procs=[b.proc])
                wait_for(lambda: not a.proc.alive(), 30, "the deposed leader to exit")
                time.sleep(3)
            wait_for(lambda: _slots(c, "w") == str(churn.n), 60, "B to apply the last change", procs=[b.proc])
        finally:
            for o in (a, b):
                if o is not None:
                    o.stop(sig=signal.SIGKILL)
    history = _assert_one_writer(kube, c.ns, lease, users)
    assert [t.holder for t in history if t.holder][-1] == users[1]


def test_graceful_handover_during_an_upgrade(kube: ControlPlane, crd: str, cluster: Cluster, tmp_path: Path) -> None:
    """Replicas restarted one at a time with a new --default-image (every rendered Deployment
    changes), SIGTERM hand-over, HatchetWorkers being edited throughout. The leader is stopped in
    the middle of reconciles: every HatchetWorker was just edited and the answers to its applies
    crawl for a while (a proxy slows what the apiserver sends it), so a replica that hands the Lease
    over while its reconciles go on makes their next writes (status, retries) in its successor's
    term."""
    c = cluster
    lease = f"upgrade-{uuid.uuid4().hex[:6]}"
    count = 10
    c.secret()
    # ~12 KB of env per Deployment: the answer to an apply takes seconds through the slowed proxy
    # below, while the answer to a Lease renewal (under 2 KB) still fits in the renew deadline.
    padding = [{"name": f"PAD_{j}", "value": "x" * 400} for j in range(30)]
    items = []
    for i in range(count):
        m = worker_manifest(f"w{i}", replicas=0, env=padding)
        del m["spec"]["image"]
        items.append(m)
    c.apply({"apiVersion": "v1", "kind": "List", "items": items})

    def images() -> set[str]:
        return {d["spec"]["template"]["spec"]["containers"][0]["image"] for d in c.list("deployments")}

    users = ["op-up-a1", "op-up-b1", "op-up-b2", "op-up-a2"]
    ops: list[Operator] = []
    with TcpProxy(kube.server) as proxy:
        try:
            a1 = _replica(kube, tmp_path, users[0], c.ns, lease, "--default-image=img:v1", via=proxy).start()
            ops.append(a1)
            wait_for(a1.is_leader, 30, "A1 to lead", procs=[a1.proc])
            b1 = _replica(kube, tmp_path, users[1], c.ns, lease, "--default-image=img:v1").start()
            ops.append(b1)
            wait_for(lambda: len(c.list("deployments")) == count and images() == {"img:v1"}, 90, "v1 everywhere")
            with Churn(c, "w0") as churn:
                b1.stop()  # the standby first
                b2 = _replica(kube, tmp_path, users[2], c.ns, lease, "--default-image=img:v2").start()
                ops.append(b2)
                time.sleep(2)
                for i in range(1, count):
                    c.k("patch", "hw", f"w{i}", "--type=merge", "-p", '{"spec": {"slots": 7}}')
                time.sleep(0.5)  # A1 has the watch events and is sending the applies
                proxy.set_rate(down_rate=3_000)
                time.sleep(0.5)
                # The answers arrive at full speed again once a replica that released the Lease
                # two seconds into its stop would have done so, so any reconcile it let go on
                # writes right away in B2's term.
                fast_again = threading.Timer(2.5, proxy.set_rate)
                fast_again.start()
                a1.stop()  # SIGTERM: hand-over to B2
                fast_again.join()
                wait_for(b2.is_leader, 60, "B2 to lead", procs=[b2.proc])
                a2 = _replica(kube, tmp_path, users[3], c.ns, lease, "--default-image=img:v2").start()
                ops.append(a2)
                wait_for(lambda: images() == {"img:v2"}, 90, "v2 everywhere", procs=[b2.proc])
                time.sleep(2)
            wait_for(lambda: _slots(c, "w0") == str(churn.n), 60, "the last change to land", procs=[b2.proc])
            assert images() == {"img:v2"}
            assert {_slots(c, f"w{i}") for i in range(1, count)} == {"7"}
        finally:
            for o in ops:
                o.stop()
    _assert_one_writer(kube, c.ns, lease, users)
