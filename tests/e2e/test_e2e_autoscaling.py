"""Autoscaling on real pods (issue 11): from the engine's own queue and slot data, up from zero, and
down without interrupting a task, on the package's cluster with the operator installed by the chart.

A HatchetWorker with ``autoscaling`` (min 0, max 3, 2 slots per pod) runs tests/e2e/apps/fault_worker.py;
each execution records (run id, attempt, pod) in a PostgreSQL in the cluster when it starts and
when it ends, so what ran where and when comes from a record the worker and the operator cannot
fool. The test watches the pods and, after the fleet returned to zero, checks:

- the fleet went 1 -> 0 (nothing to do), 0 -> 3 (6 tasks queued), and back to 0 with long tasks
  still running on some pods while others were idle;
- every pod the scale-down removed had no task in flight when its deletion started (ledger), it was
  the pod the operator announced in its ScaledDown Event, and no other pod went (no
  ScaleDownMismatch);
- every run COMPLETED at the engine, with no retry, executed exactly once;
- the engine lists each worker with its pod's name as the ``hatchetworker-pod`` label (the kubelet
  expanded it), while a user label holding the same ``$(...)`` text stays literal;
- an engine outage that begins when a fleet has just become idle, and lasts past its scale-down
  window, removes no pod and changes no count while it lasts (ScalingActive False says why); once
  the engine is back the fleet drains to zero as usual.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from harness import binaries
from harness.helm import Helm

from .conftest import PROVIDER, WHY, EngineForward, wait_until
from .e2e_clusters import ClusterProvider
from .faults import EngineRecords, Fleet, Ledger, engine_outage, ledger_namespace, worker_manifest
from .test_e2e_faults import check_engine_records, client, trigger

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(PROVIDER is None, reason=WHY), pytest.mark.timeout(900)]

NS = "hatchet-autoscale"
HNS = "autoscaleproof"
NAME = "scaler"
LITERAL = "$(HATCHET_KUBE_POD_NAME)"


class PodWatch:
    """Follows the fleet's pods through a watch (``kubectl get --watch``): when each one's deletion
    began (the first event carrying a deletionTimestamp, or its DELETED event), and the number of live
    pods after each change. A watch sees every change, also of a pod that is gone within a second."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.deleting: dict[str, float] = {}
        self.counts: list[int] = []
        self._live: set[str] = set()
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="pod-watch")

    def _run(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        decoder = json.JSONDecoder()
        buf = ""
        for chunk in iter(lambda: self._proc.stdout.read1(65536), b""):  # type: ignore[union-attr]
            buf += chunk.decode()
            while True:
                buf = buf.lstrip()
                try:
                    event, end = decoder.raw_decode(buf)
                except ValueError:
                    break
                buf = buf[end:]
                self._on(event)

    def _on(self, event: dict[str, Any]) -> None:
        now = time.time()
        pod = event.get("object") or {}
        name = (pod.get("metadata") or {}).get("name")
        if not name:
            return
        if event.get("type") == "DELETED" or pod["metadata"].get("deletionTimestamp"):
            self.deleting.setdefault(name, now)
            self._live.discard(name)
        else:
            self._live.add(name)
        if not self.counts or self.counts[-1] != len(self._live):
            self.counts.append(len(self._live))

    def __enter__(self) -> PodWatch:
        f = self.fleet
        self._proc = subprocess.Popen(
            [str(binaries.kube_bin() / "kubectl"), f"--kubeconfig={f.cluster.kubeconfig}", "-n", f.ns, "get", "pods",
             "-l", f.selector, "--watch", "--output-watch-events", "-o", "json"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._proc is not None
        self._proc.terminate()
        self._proc.wait(10)
        self._thread.join(10)


@pytest.fixture(scope="module")
def ledger(cluster: ClusterProvider, images: dict[str, str], engine: dict[str, str], operator: Helm
           ) -> Iterator[Ledger]:
    with ledger_namespace(cluster, NS, engine, images["hatchet-engine"]) as ledger:
        yield ledger


def replicas(fleet: Fleet) -> int:
    return int(fleet.deployment()["spec"].get("replicas", 0))


def engine_workers(engine: dict[str, str]) -> list[dict[str, Any]]:
    import urllib.request

    from hatchet_operator.enginemetrics import token_claims

    tenant = token_claims(engine["HATCHET_CLIENT_TOKEN"])["sub"]
    req = urllib.request.Request(f"{engine['HATCHET_CLIENT_SERVER_URL']}/api/v1/tenants/{tenant}/worker",
                                 headers={"Authorization": f"Bearer {engine['HATCHET_CLIENT_TOKEN']}"})
    with urllib.request.urlopen(req, timeout=15) as r:
        return list(json.loads(r.read()).get("rows") or [])


def autoscaled_fleet(images: dict[str, str], ledger: Ledger, name: str, hns: str, slots: int, max_replicas: int
                     ) -> dict[str, Any]:
    manifest = worker_manifest(name, images["example-worker"], ledger, replicas=1, slots=slots, drain=120,
                               hatchet_namespace=hns)
    del manifest["spec"]["replicas"]
    manifest["spec"]["autoscaling"] = {"minReplicas": 0, "maxReplicas": max_replicas,
                                       "targetSlotUtilizationPercent": 100, "scaleDownStabilizationSeconds": 10}
    return manifest


def check_removals(execs: list[Any], finishes: dict[tuple[str, str], float], deleting: dict[str, float]) -> None:
    """No pod's deletion began while one of its tasks was running (by the ledger)."""
    for e in execs:
        deleted = deleting.get(e.pod)
        assert deleted is not None, f"{e.pod} was never removed"
        end = finishes[(e.run_id, e.pod)]
        assert not (e.at <= deleted < end), f"{e.pod} deleted at {deleted:.1f} during a task ({e.at:.1f}-{end:.1f})"


def test_scales_from_its_queue_and_removes_only_idle_pods(
        cluster: ClusterProvider, images: dict[str, str], engine: dict[str, str], ledger: Ledger) -> None:
    fleet = Fleet(cluster, NS, NAME)
    manifest = autoscaled_fleet(images, ledger, NAME, HNS, slots=2, max_replicas=3)
    manifest["spec"]["labels"] = {"note": LITERAL}
    hatchet = client(engine, HNS)
    with PodWatch(fleet) as watch:
        fleet.apply(manifest)
        # 1 -> 0: the first pod registers (its actions are remembered), is idle, drained and removed.
        wait_until(lambda: any(w.get("status") == "ACTIVE" for w in engine_workers(engine)
                               if any(lab.get("key") == "hatchetworker" and lab.get("value") == NAME
                                      for lab in w.get("labels") or ())), 180, "the first worker registered")
        labels = [{lab["key"]: lab.get("value") for lab in w.get("labels") or ()} for w in engine_workers(engine)]
        mine = [lab for lab in labels if lab.get("hatchetworker") == NAME]
        assert mine and all(lab.get("hatchetworker-pod") in fleet.live_pods() for lab in mine), mine
        assert all(lab.get("note") == LITERAL for lab in mine), mine
        wait_until(lambda: replicas(fleet) == 0 and not fleet.live_pods(), 120, "scaled to zero")
        status = json.loads(fleet.kubectl("get", "hatchetworker", NAME, "-o", "json").stdout)["status"]
        assert any("fault-sleep" in a for a in status["autoscaling"]["actions"]), status["autoscaling"]

        # 0 -> 3: 6 tasks at 2 slots per pod, long ones as the issue asks (30-120 s). Four end after
        # 30 s, two run 90 s.
        t0 = time.time()
        seconds = [30.0, 30.0, 90.0, 30.0, 30.0, 90.0]
        run_ids = trigger(hatchet, [{"seconds": s, "batch": 1} for s in seconds])
        wait_until(lambda: replicas(fleet) == 3, 90, "scaled up to 3 from zero")
        first_running = wait_until(lambda: ledger.count(1) >= 1 and time.time(), 180, "a task running")
        wait_until(lambda: ledger.count(1) == len(seconds), 180, "all 6 tasks running")
        full = time.time()
        # Back to zero: idle pods go first, the pods holding the 90 s tasks only once those end.
        wait_until(lambda: replicas(fleet) == 0 and not fleet.live_pods(), 300, "scaled back to zero")
    details = EngineRecords(engine).wait_terminal(run_ids, 120)
    assert check_engine_records(details) == []
    execs = ledger.executions((1,))
    finishes = {(e.run_id, e.pod): e.at for e in ledger.executions((1,), table="finishes")}
    assert Counter(e.run_id for e in execs) == dict.fromkeys(run_ids, 1), execs
    check_removals(execs, finishes, watch.deleting)
    events = json.loads(fleet.kubectl("get", "events", "--field-selector", f"involvedObject.name={NAME}",
                                      "-o", "json").stdout)["items"]
    reasons = Counter(e["reason"] for e in events)
    announced = " ".join(e["message"] for e in events if e["reason"] == "ScaledDown")
    assert reasons["ScaleDownMismatch"] == 0, reasons
    assert all(pod in announced for pod in watch.deleting), (watch.deleting, announced)
    # The 90 s tasks kept their pods after the idle ones went: the fleet went through 1 or 2 pods.
    assert any(0 < n < 3 for n in watch.counts[watch.counts.index(3):]), watch.counts
    print(f"\nautoscaling: pod counts {watch.counts}; queued -> first task running {first_running - t0:.1f} s, "
          f"-> all 6 running {full - t0:.1f} s; events {dict(reasons)}; {len(watch.deleting)} pods removed, "
          f"none during a task; executions per run {set(Counter(e.run_id for e in execs).values())}")


def test_a_burst_of_500_tasks_scales_0_to_10_and_back_without_interrupting_one(
        cluster: ClusterProvider, images: dict[str, str], engine: dict[str, str], ledger: Ledger) -> None:
    """Issue 11's burst: 500 tasks of 2 s at 5 slots per pod, min 0, max 10."""
    name, hns = "burst", "burstproof"
    fleet = Fleet(cluster, NS, name)
    hatchet = client(engine, hns)
    with PodWatch(fleet) as watch:
        fleet.apply(autoscaled_fleet(images, ledger, name, hns, slots=5, max_replicas=10))
        wait_until(lambda: any(w.get("status") == "ACTIVE" and {"key": "hatchetworker", "value": name}
                               in [{"key": lab.get("key"), "value": lab.get("value")} for lab in w.get("labels") or ()]
                               for w in engine_workers(engine)), 180, "the first worker registered")
        wait_until(lambda: replicas(fleet) == 0 and not fleet.live_pods(), 120, "scaled to zero")
        t0 = time.time()
        run_ids = trigger(hatchet, [{"seconds": 2.0, "batch": 2} for _ in range(500)])
        wait_until(lambda: ledger.count(2) >= 1, 180, "a task running")
        first = time.time() - t0
        wait_until(lambda: max(watch.counts) == 10, 240, "10 pods")
        full_at = time.time() - t0
        wait_until(lambda: ledger.count(2) == 500, 300, "all 500 tasks executed")
        done = time.time() - t0
        wait_until(lambda: replicas(fleet) == 0 and not fleet.live_pods(), 300, "scaled back to zero")
        back = time.time() - t0
    details = EngineRecords(engine).wait_terminal(run_ids, 120)
    assert check_engine_records(details) == []
    execs = ledger.executions((2,))
    assert Counter(e.run_id for e in execs) == dict.fromkeys(run_ids, 1)
    check_removals(execs, {(e.run_id, e.pod): e.at for e in ledger.executions((2,), table="finishes")},
                   watch.deleting)
    events = json.loads(fleet.kubectl("get", "events", "--field-selector", f"involvedObject.name={name}",
                                      "-o", "json").stdout)["items"]
    reasons = Counter(e["reason"] for e in events)
    assert reasons["ScaleDownMismatch"] == 0, reasons
    print(f"\nburst: 500 tasks of 2 s, 5 slots per pod, 0 -> 10: first task running {first:.1f} s after the "
          f"trigger, 10 pods at {full_at:.1f} s, all executed by {done:.1f} s, back to 0 at {back:.1f} s; pod "
          f"counts {watch.counts}; {len(watch.deleting)} pods removed, none during a task; events {dict(reasons)}")


def scaling_active(fleet: Fleet, name: str) -> dict[str, Any]:
    status = json.loads(fleet.kubectl("get", "hatchetworker", name, "-o", "json").stdout).get("status") or {}
    return next((c for c in status.get("conditions") or () if c["type"] == "ScalingActive"), {})


def test_an_engine_outage_holds_the_count_and_scaling_resumes_after_it(
        cluster: ClusterProvider, images: dict[str, str], engine: dict[str, str], engine_forward: EngineForward,
        ledger: Ledger) -> None:
    """6 tasks of 10 s scale the fleet to 3; the engine goes down as the last one ends, for 60 s, past the
    30 s scale-down window: no pod goes and the count stays while the engine cannot be read."""
    name, hns, batch = "outage", "outageproof", 3
    fleet = Fleet(cluster, NS, name)
    manifest = autoscaled_fleet(images, ledger, name, hns, slots=2, max_replicas=3)
    manifest["spec"]["autoscaling"]["scaleDownStabilizationSeconds"] = 30
    hatchet = client(engine, hns)
    with PodWatch(fleet) as watch:
        fleet.apply(manifest)
        wait_until(lambda: any(w.get("status") == "ACTIVE" and {"key": "hatchetworker", "value": name}
                               in [{"key": lab.get("key"), "value": lab.get("value")} for lab in w.get("labels") or ()]
                               for w in engine_workers(engine)), 180, "the first worker registered")
        wait_until(lambda: replicas(fleet) == 0 and not fleet.live_pods(), 120, "scaled to zero")
        run_ids = trigger(hatchet, [{"seconds": 10.0, "batch": batch} for _ in range(6)])
        wait_until(lambda: replicas(fleet) == 3, 120, "scaled up to 3")
        wait_until(lambda: len(ledger.executions((batch,), table="finishes")) == 6, 240, "all 6 tasks finished")
        assert replicas(fleet) == 3 and len(fleet.live_pods()) == 3
        away: list[float] = []
        outage = threading.Thread(target=lambda: away.append(engine_outage(cluster, engine_forward, 60)))
        start = time.time()
        outage.start()
        counts, conditions = [], []
        deadline = time.monotonic() + 400
        while outage.is_alive() and time.monotonic() < deadline:
            counts.append(replicas(fleet))
            conditions.append(scaling_active(fleet, name))
            time.sleep(2)
        outage.join(timeout=60)
        end = time.time()
        assert away and away[0] >= 60, away
        gone = sorted(pod for pod, at in watch.deleting.items() if start <= at <= end)
        assert not gone, f"pods removed while the engine was away: {gone}"
        assert set(counts) == {3}, counts
        held = [c for c in conditions if c.get("status") == "False"]
        assert held and all(c["reason"] == "EngineUnavailable" for c in held), conditions
        # Back: the condition turns True and the idle fleet drains to zero, every run done once.
        wait_until(lambda: scaling_active(fleet, name).get("status") == "True", 180, "ScalingActive True again")
        wait_until(lambda: replicas(fleet) == 0 and not fleet.live_pods(), 300, "scaled to zero after the outage")
    details = EngineRecords(engine).wait_terminal(run_ids, 120)
    assert check_engine_records(details) == []
    execs = ledger.executions((batch,))
    assert Counter(e.run_id for e in execs) == dict.fromkeys(run_ids, 1)
    print(f"\noutage: engine away {away[0]:.0f} s with 3 idle pods past their 30 s scale-down window: counts "
          f"{sorted(set(counts))}, none removed, ScalingActive False in {len(held)} of {len(conditions)} reads "
          f"({held[0]['message'][:120]!r}); back to 0 after it; pod counts {watch.counts}")
