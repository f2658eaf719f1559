"""A scale-down's drain steps on the real engine, and what happens to a drain nobody finishes.

The operator runs as a process against the harness control plane (kwok pods: objects the
ReplicaSet controller creates and deletes, Ready, running nothing); the pod's worker is a real
worker process on this machine, labelled ``hatchetworker-pod: <that pod's name>`` as the kubelet
would make it. What the engine says of the worker (ACTIVE or PAUSED) is read from its REST API.

- A scale-down interrupted by an operator restart (a pod marked for removal, its worker paused, and
  the operator stopped) is given back by the restarted operator: the worker is unpaused and the marks
  removed.
- The same, when ``spec.autoscaling`` was removed while the operator was down: no worker stays
  paused, and ``status.autoscaling`` and the ScalingActive condition go.
- A real scale-down 1 -> 0: the idle worker is paused first, then exactly its pod is removed.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Cluster, Operator, lone_operator, worker_manifest

from harness.hatchet import HatchetEngine
from harness.kube import ControlPlane
from harness.proc import wait_for
from hatchet_operator import scaledown

APP = Path(__file__).resolve().parents[1] / "sdk" / "apps" / "app.py"
NAME = "drainer"


@pytest.fixture(scope="module")
def operator(kube: ControlPlane, crd: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    with lone_operator(kube, tmp_path_factory, "--autoscaling-interval=2") as op:
        yield op


def start_worker(hatchet: HatchetEngine, namespace: str, pod: str, kube_ns: str,
                 log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HATCHET_CLIENT_", "APP_"))}
    env.update(hatchet.client_env())
    env.update({"HATCHET_CLIENT_NAMESPACE": namespace, "HATCHET_CLIENT_WORKER_SLOTS": "2",
                "HATCHET_CLIENT_WORKER_PRESET_LABELS": json.dumps({"hatchetworker": NAME, "hatchetworker-pod": pod,
                                                                  "hatchetworker-namespace": kube_ns}),
                "APP_MARKERS": str(log.parent)})
    return subprocess.Popen([sys.executable, str(APP)], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            cwd=str(APP.parent))


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the worker drains), SIGKILL if it has not exited 30 s later."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def engine(hatchet: HatchetEngine, method: str, path: str, body: Any = None) -> Any:
    req = urllib.request.Request(f"{hatchet.rest_url}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {hatchet.token}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=15) as r:
        return json.loads(r.read() or b"null")


def my_worker(hatchet: HatchetEngine, pod: str) -> dict[str, Any] | None:
    rows = engine(hatchet, "GET", f"/api/v1/tenants/{hatchet.tenant_id}/worker")["rows"] or []
    for w in rows:
        labels = {lab["key"]: lab.get("value") for lab in w.get("labels") or ()}
        if labels.get("hatchetworker-pod") == pod and w.get("status") in ("ACTIVE", "PAUSED"):
            return dict(w)
    return None


def test_unfinished_drains_are_given_back_and_a_scale_down_drains_first(
        operator: Operator, cluster: Cluster, hatchet: HatchetEngine, tmp_path: Path) -> None:
    c = cluster
    c.secret(data={"HATCHET_CLIENT_TOKEN": base64.b64encode(hatchet.token.encode()).decode()})
    autoscaling = {"minReplicas": 1, "maxReplicas": 3, "scaleDownStabilizationSeconds": 600}
    manifest = worker_manifest(NAME, slots=2, hatchet={"serverUrl": hatchet.rest_url}, autoscaling=autoscaling)
    del manifest["spec"]["replicas"]
    c.apply(manifest)
    [pod] = wait_for(lambda: [p["metadata"]["name"] for p in c.list("pods", f"app.kubernetes.io/instance={NAME}")],
                     60, "the pod")
    proc = start_worker(hatchet, f"t{uuid.uuid4().hex[:10]}", pod, c.ns, tmp_path / "worker.log")
    try:
        worker = wait_for(lambda: my_worker(hatchet, pod), 60, "the worker registered")
        wid = worker["metadata"]["id"]
        wait_for(lambda: ((c.get("hatchetworker", NAME) or {}).get("status", {}).get("autoscaling") or {})
                 .get("workers") == 1, 60, "the operator sees the worker", procs=(operator.proc,))

        def leave_a_drain() -> None:
            """What a leader stopped between its drain steps leaves: the marks, and the worker paused."""
            c.k("annotate", "pod", pod, "--overwrite", f"{scaledown.DRAIN_ANNOTATION}={wid} 2026-01-01T00:00:00Z",
                f"{scaledown.DELETION_COST}={scaledown.REMOVAL_COST}")
            engine(hatchet, "PATCH", f"/api/v1/workers/{wid}", {"isPaused": True})

        def given_back() -> bool:
            # (Turning autoscaling off changes the pod template, which rolls the pod: gone is unmarked.)
            annotations = ((c.get("pod", pod) or {}).get("metadata") or {}).get("annotations") or {}
            marked = {scaledown.DRAIN_ANNOTATION, scaledown.DELETION_COST} & set(annotations)
            return not marked and (my_worker(hatchet, pod) or {}).get("status") == "ACTIVE"

        # 1. The operator stops mid scale-down; the restarted one (no history: its decision holds the
        #    count for a window) gives the worker back.
        operator.stop()
        leave_a_drain()
        time.sleep(3)
        assert (my_worker(hatchet, pod) or {}).get("status") == "PAUSED"
        operator.start()
        wait_for(given_back, 30, "the paused worker given back", procs=(operator.proc,))
        assert any(e["reason"] == "DrainCancelled" for e in c.events(NAME))

        # 2. spec.autoscaling removed while the operator was down with a drain pending: given back
        #    by the next one, and status.autoscaling goes.
        operator.stop()
        leave_a_drain()
        c.k("patch", "hatchetworker", NAME, "--type", "json", "-p", '[{"op": "remove", "path": "/spec/autoscaling"}]')
        operator.start()
        wait_for(given_back, 30, "the paused worker given back after autoscaling was removed", procs=(operator.proc,))

        def status_cleared() -> bool:
            st = (c.get("hatchetworker", NAME) or {}).get("status") or {}
            return "autoscaling" not in st and all(x["type"] != "ScalingActive" for x in st.get("conditions") or ())

        wait_for(status_cleared, 30, "status.autoscaling removed", procs=(operator.proc,))

        # 3. A real scale-down 1 -> 0: paused at the engine, then that pod removed. (Autoscaling on
        #    again rolls the pod: the worker process is started again under the new pod's name.)
        c.k("patch", "hatchetworker", NAME, "--type", "merge", "-p", json.dumps(
            {"spec": {"autoscaling": {"minReplicas": 0, "maxReplicas": 3, "scaleDownStabilizationSeconds": 600}}}))

        def autoscaled_template(p: dict[str, Any]) -> bool:
            # Removing autoscaling above rolled the pod once already: the pod wanted is the one of the
            # template that names its pod in the worker labels, not one left from that first roll.
            env = {e["name"]: e.get("value", "") for e in p["spec"]["containers"][0].get("env") or ()}
            return "hatchetworker-pod" in env.get("HATCHET_CLIENT_WORKER_PRESET_LABELS", "")

        def one_new_pod() -> str | None:
            live = [p for p in c.list("pods", f"app.kubernetes.io/instance={NAME}")
                    if not p["metadata"].get("deletionTimestamp")]
            if len(live) == 1 and live[0]["metadata"]["name"] != pod and autoscaled_template(live[0]):
                return str(live[0]["metadata"]["name"])
            return None

        pod = wait_for(one_new_pod, 60, "the rolled pod")
        proc.terminate()
        proc.wait(30)
        proc = start_worker(hatchet, f"t{uuid.uuid4().hex[:10]}", pod, c.ns, tmp_path / "worker2.log")
        wid = wait_for(lambda: my_worker(hatchet, pod), 60, "the worker registered again")["metadata"]["id"]
        wait_for(lambda: ((c.get("hatchetworker", NAME) or {}).get("status", {}).get("autoscaling") or {})
                 .get("workers") == 1, 60, "the operator sees one worker", procs=(operator.proc,))
        c.k("patch", "hatchetworker", NAME, "--type", "merge", "-p", json.dumps(
            {"spec": {"autoscaling": {"scaleDownStabilizationSeconds": 2}}}))
        try:
            wait_for(lambda: (c.get("deployment", NAME) or {})["spec"]["replicas"] == 0, 90, "scaled to zero",
                     procs=(operator.proc,))
        except AssertionError as e:  # the plan's own account of why it waits is in the status
            st = ((c.get("hatchetworker", NAME) or {}).get("status") or {}).get("autoscaling")
            pods = [(p["metadata"]["name"], (p.get("status") or {}).get("podIP"), p["metadata"].get("annotations"))
                    for p in c.list("pods", f"app.kubernetes.io/instance={NAME}")]
            raise AssertionError(f"{e}\nstatus.autoscaling: {st}\npods: {pods}\nworker: {my_worker(hatchet, pod)}"
                                 f"\nevents: {[(x['reason'], x['message']) for x in c.events(NAME)]}") from None
        reasons = [(e["reason"], e["message"]) for e in c.events(NAME)]
        assert any(r == "Draining" and wid in m and pod in m for r, m in reasons), reasons
        assert any(r == "ScaledDown" and pod in m for r, m in reasons), reasons
        assert (my_worker(hatchet, pod) or {}).get("status") == "PAUSED", "paused before its pod went"
        wait_for(lambda: not [p for p in c.list("pods", f"app.kubernetes.io/instance={NAME}")
                              if not p["metadata"].get("deletionTimestamp")], 60, "the pod removed")
        assert not any(r == "ScaleDownMismatch" for r, _ in reasons), reasons
    finally:
        stop_worker(proc)
