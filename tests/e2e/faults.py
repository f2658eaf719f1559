"""Pieces of the real-pod fault tests: the execution ledger, a HatchetWorker fleet, the engine's records,
and the faults themselves (each injected through the API a user or the cluster would use)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .conftest import ENGINE_HOST, ENGINE_NS, TOKEN_SECRET, EngineForward, wait_until
from .e2e_clusters import REPO, ClusterProvider

APPS = Path(__file__).parent / "apps"
# Kept on every worker pod a fault may end, so its container's final state can still be read after
# the pod is deleted (the kubelet writes it before the pod object would go away).
FINALIZER = "e2e.hatchetkube.io/keep-final-status"
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}
KILL_LISTENER = (
    "import os, signal\n"
    "for p in os.listdir('/proc'):\n"
    "    if p.isdigit() and int(p) != os.getpid():\n"
    "        try:\n"
    "            cmd = open(f'/proc/{p}/cmdline', 'rb').read()\n"
    "        except OSError:\n"
    "            continue\n"
    "        if b'hatchet_worker._listener' in cmd:\n"
    "            os.kill(int(p), signal.SIGKILL if KILL else 0)\n"
    "            print(p)\n"
)


@dataclasses.dataclass(frozen=True)
class Execution:
    run_id: str
    attempt: int
    pod: str
    worker_id: str
    batch: int
    at: float


class Ledger:
    """The PostgreSQL the test tasks write their executions to (manifests/ledger-postgres.yaml)."""

    def __init__(self, cluster: ClusterProvider, namespace: str) -> None:
        self.cluster, self.ns = cluster, namespace
        self.host = f"ledger.{namespace}.svc.cluster.local"

    def start(self, image: str) -> Ledger:
        manifest = (REPO / "tests" / "e2e" / "manifests" / "ledger-postgres.yaml").read_text()
        self.cluster.kubectl("apply", "-n", self.ns, "-f", "-",
                             input=manifest.replace("hatchet-kube/hatchet-engine:0.1.0", image))
        self.cluster.kubectl("rollout", "status", "deployment/ledger", "-n", self.ns, "--timeout=180s", timeout=200)
        for table in ("executions", "finishes"):
            wait_until(lambda t=table: self.sql(
                f"CREATE TABLE IF NOT EXISTS {t} (run_id text NOT NULL, attempt int NOT NULL, pod text NOT NULL, "
                "worker_id text NOT NULL, batch int NOT NULL, nonce text UNIQUE, "
                "at timestamptz NOT NULL DEFAULT clock_timestamp())")
                or True, 60, f"the ledger table {table}")
        return self

    def sql(self, query: str) -> list[list[str]]:
        out = self.cluster.kubectl("exec", "-n", self.ns, "deploy/ledger", "--", "psql", "-h", "/tmp", "-U",
                                   "postgres", "-qAt", "-F", "|", "-v", "ON_ERROR_STOP=1", "-c", query).stdout
        return [line.split("|") for line in out.splitlines() if line]

    def executions(self, batches: tuple[int, ...] | None = None, table: str = "executions") -> list[Execution]:
        where = f"WHERE batch IN ({','.join(map(str, batches))})" if batches else ""
        rows = self.sql(f"SELECT run_id, attempt, pod, worker_id, batch, extract(epoch FROM at) FROM {table} "
                        f"{where} ORDER BY at")
        return [Execution(r, int(a), p, w, int(b), float(t)) for r, a, p, w, b, t in rows]

    def count(self, batch: int) -> int:
        return int(self.sql(f"SELECT count(*) FROM executions WHERE batch = {batch}")[0][0])

    def in_flight(self) -> dict[str, int]:
        """Executions started and not finished, per pod."""
        rows = self.sql("SELECT e.pod, count(*) FROM executions e LEFT JOIN finishes f ON f.run_id = e.run_id "
                        "AND f.attempt = e.attempt AND f.pod = e.pod WHERE f.run_id IS NULL GROUP BY e.pod")
        return {pod: int(n) for pod, n in rows}


def prepare_namespace(cluster: ClusterProvider, namespace: str, engine: dict[str, str]) -> None:
    """The namespace with the token Secret and the test worker's code (a ConfigMap the pods mount)."""
    from .conftest import token_secret

    cluster.kubectl("create", "namespace", namespace)
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=token_secret(engine))
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fault-worker"},
          "data": {p.name: p.read_text() for p in (APPS / "fault_worker.py", APPS / "pgwire.py")}}
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(cm))


@contextlib.contextmanager
def ledger_namespace(cluster: ClusterProvider, namespace: str, engine: dict[str, str], image: str,
                     fleets: tuple[str, ...] = ()) -> Iterator[Ledger]:
    """A prepared namespace with its ledger; afterwards the fleets' held pods are released and the
    namespace deleted."""
    prepare_namespace(cluster, namespace, engine)
    try:
        yield Ledger(cluster, namespace).start(image)
    finally:
        for name in fleets:
            Fleet(cluster, namespace, name).release()
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def worker_manifest(name: str, image: str, ledger: Ledger, *, replicas: int, slots: int, drain: int,
                    hatchet_namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "hatchetkube.io/v1alpha1", "kind": "HatchetWorker", "metadata": {"name": name},
        "spec": {
            "image": image, "imagePullPolicy": "IfNotPresent",
            "command": ["/usr/bin/python3", "/app-test/fault_worker.py"],
            "replicas": replicas, "workerName": name, "slots": slots,
            "hatchet": {"tokenSecretRef": {"name": TOKEN_SECRET, "key": "HATCHET_CLIENT_TOKEN"},
                        "hostPort": f"{ENGINE_HOST}:7070", "serverUrl": f"http://{ENGINE_HOST}:8888",
                        "tls": {"strategy": "none"}, "namespace": hatchet_namespace},
            "healthCheck": {"port": 8001},
            "drain": {"timeoutSeconds": drain},
            "resources": {"requests": {"cpu": "50m", "memory": "96Mi"}, "limits": {"memory": "512Mi"}},
            "env": [{"name": "FAULT_LEDGER_HOST", "value": ledger.host}],
            "volumes": [{"name": "app", "configMap": {"name": "fault-worker"}}],
            "volumeMounts": [{"name": "app", "mountPath": "/app-test", "readOnly": True}],
        },
    }


class Fleet:
    """One HatchetWorker and its pods."""

    def __init__(self, cluster: ClusterProvider, namespace: str, name: str) -> None:
        self.cluster, self.ns, self.name = cluster, namespace, name
        self.selector = f"app.kubernetes.io/instance={name}"

    def kubectl(self, *args: str, **kw: Any) -> Any:
        return self.cluster.kubectl("-n", self.ns, *args, **kw)

    def apply(self, manifest: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", input=json.dumps(manifest))

    def pods(self) -> list[dict[str, Any]]:
        return list(json.loads(self.kubectl("get", "pods", "-l", self.selector, "-o", "json").stdout)["items"])

    def live_pods(self) -> list[str]:
        return [p["metadata"]["name"] for p in self.pods() if not p["metadata"].get("deletionTimestamp")]

    def deployment(self) -> dict[str, Any]:
        return dict(json.loads(self.kubectl("get", "deployment", self.name, "-o", "json").stdout))

    def settled(self, replicas: int) -> bool:
        """The Deployment rolled out at ``replicas`` Ready pods of the current template, no others live."""
        d = self.deployment()
        st = d.get("status", {})
        if st.get("observedGeneration") != d["metadata"]["generation"]:
            return False
        if not all(st.get(k) == replicas for k in ("replicas", "readyReplicas", "updatedReplicas")):
            return False
        return len(self.live_pods()) == replicas

    def wait_settled(self, replicas: int, timeout: float = 180) -> None:
        try:
            wait_until(lambda: self.settled(replicas), timeout, f"{self.name}: {replicas} Ready pods", interval=1.0)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.diagnose()}") from None

    def diagnose(self) -> str:
        """Each pod's phase, conditions, container states and log tail (for a failure message)."""
        out = []
        for p in self.pods():
            name = p["metadata"]["name"]
            st = p.get("status", {})
            conds = {c["type"]: c["status"] for c in st.get("conditions", [])}
            states = [c.get("state") for c in st.get("containerStatuses", [])]
            logs = self.kubectl("logs", name, "-c", "worker", "--tail=15", check=False).stdout
            out.append(f"--- {name} {st.get('phase')} {conds} {states}\n{logs}")
        events = self.kubectl("get", "events", "--sort-by=.lastTimestamp", check=False).stdout
        return "\n".join(out) + "\n--- events\n" + "\n".join(events.splitlines()[-15:])

    def hold(self, pods: list[str] | None = None) -> None:
        """Put the finalizer on these pods (default: every live one)."""
        for pod in pods if pods is not None else self.live_pods():
            self.kubectl("patch", "pod", pod, "--type", "merge", "-p",
                         json.dumps({"metadata": {"finalizers": [FINALIZER]}}))

    def ended(self) -> dict[str, dict[str, Any]]:
        """Deleted pods whose worker container has terminated: name -> its terminated state (+ deadline)."""
        out = {}
        for p in self.pods():
            deadline = p["metadata"].get("deletionTimestamp")
            states = [c.get("state", {}).get("terminated") for c in p.get("status", {}).get("containerStatuses", [])]
            if deadline and states and all(states):
                out[p["metadata"]["name"]] = {**states[0], "deletionTimestamp": deadline,
                                              "grace": p["metadata"].get("deletionGracePeriodSeconds")}
        return out

    def held_terminating(self) -> list[str]:
        return [p["metadata"]["name"] for p in self.pods()
                if p["metadata"].get("deletionTimestamp") and FINALIZER in p["metadata"].get("finalizers", [])]

    def release(self) -> None:
        for p in self.pods():
            if FINALIZER in p["metadata"].get("finalizers", []):
                self.kubectl("patch", "pod", p["metadata"]["name"], "--type", "merge", "-p",
                             json.dumps({"metadata": {"finalizers": None}}), check=False)

    def restarts(self) -> dict[str, int]:
        return {p["metadata"]["name"]: sum(c.get("restartCount", 0) for c in p["status"].get("containerStatuses", []))
                for p in self.pods()}

    def why_restarted(self) -> list[str]:
        """For each restarted container: its last termination and the kubelet's events for its pod."""
        out = []
        events = json.loads(self.kubectl("get", "events", "-o", "json").stdout)["items"]
        for p in self.pods():
            for c in p["status"].get("containerStatuses", []):
                if c.get("restartCount"):
                    name = p["metadata"]["name"]
                    said = [(e["reason"], e.get("message", "")[:200], e.get("count")) for e in events
                            if e["involvedObject"].get("name") == name]
                    out.append(f"{name}: last {c.get('lastState')}; events {said}")
        return out

    def listener_pids(self, pod: str, kill: bool = False) -> list[str]:
        code = f"KILL = {kill}\n{KILL_LISTENER}"
        return str(self.kubectl("exec", pod, "-c", "worker", "--", "/usr/bin/python3", "-c", code).stdout).split()

    def evict(self, pod: str) -> None:
        body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": self.ns}}
        self.cluster.kubectl("create", "--raw", f"/api/v1/namespaces/{self.ns}/pods/{pod}/eviction", "-f", "-",
                             input=json.dumps(body))


def restart_engine(cluster: ClusterProvider, forward: EngineForward) -> float:
    """Restart the engine process (its PostgreSQL stays; manifests/hatchet-engine.yaml); seconds it was away."""
    def pid() -> str:
        return str(cluster.kubectl("exec", "-n", ENGINE_NS, "deploy/hatchet-engine", "--", "cat",
                                   "/tmp/engine.pid").stdout.strip())

    before = pid()
    t0 = time.monotonic()
    cluster.kubectl("exec", "-n", ENGINE_NS, "deploy/hatchet-engine", "--", "/bin/sh", "-c", "kill -HUP 1")
    wait_until(lambda: pid() != before, 60, "the engine process to be started again")
    wait_until(forward.rest_ready, 180, "the restarted engine through the port-forward", interval=0.5)
    return time.monotonic() - t0


def engine_outage(cluster: ClusterProvider, forward: EngineForward, seconds: float) -> float:
    """Stop the engine process for ``seconds`` (its PostgreSQL stays), then start it again; seconds away."""
    def sh(script: str) -> None:
        cluster.kubectl("exec", "-n", ENGINE_NS, "deploy/hatchet-engine", "--", "/bin/sh", "-c", script)

    t0 = time.monotonic()
    sh("touch /tmp/engine.hold && kill -HUP 1")
    time.sleep(seconds)
    sh("rm -f /tmp/engine.hold")
    wait_until(forward.rest_ready, 180, "the engine back through the port-forward", interval=0.5)
    return time.monotonic() - t0


class EngineRecords:
    """The engine's own view of runs (REST, through the port-forward)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.url, self.token = env["HATCHET_CLIENT_SERVER_URL"], env["HATCHET_CLIENT_TOKEN"]

    def run(self, run_id: str) -> dict[str, Any]:
        req = urllib.request.Request(f"{self.url}/api/v1/stable/workflow-runs/{run_id}",
                                     headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(req, timeout=15) as r:
            return dict(json.loads(r.read()))

    def task_events(self, task_id: str) -> list[dict[str, Any]]:
        """The engine's events of one task (all attempts), oldest first."""
        req = urllib.request.Request(f"{self.url}/api/v1/stable/tasks/{task_id}/task-events?limit=1000",
                                     headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(req, timeout=15) as r:
            rows = list(json.loads(r.read()).get("rows") or [])
        return sorted(rows, key=lambda e: (e.get("timestamp") or "", e.get("id") or 0))

    def with_task_events(self, details: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """``details`` where every run whose task was retried or did not complete carries its task's
        events as ``taskEvents`` (the run view's own list is not always filled)."""
        for d in details.values():
            if any(t["status"] != "COMPLETED" or t["retryCount"] for t in d["tasks"]):
                d["taskEvents"] = [e for t in d["tasks"] for e in self.task_events(t["taskExternalId"])]
        return details

    def runs(self, run_ids: list[str]) -> dict[str, dict[str, Any]]:
        with ThreadPoolExecutor(8) as pool:
            return dict(zip(run_ids, pool.map(self.run, run_ids), strict=True))

    def wait_terminal(self, run_ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
        """Every run's details once each is COMPLETED, FAILED or CANCELLED."""
        done: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while True:
            pending = [r for r in run_ids if r not in done]
            try:
                for rid, details in self.runs(pending).items():
                    tasks = details.get("tasks") or []
                    if details["run"]["status"] in TERMINAL and tasks and all(t["status"] in TERMINAL for t in tasks):
                        done[rid] = details
            except OSError:
                pass  # the port-forward is coming back
            if len(done) == len(run_ids):
                return done
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(run_ids) - len(done)} of {len(run_ids)} runs not finished after "
                                     f"{timeout:.0f} s, e.g. {pending[:3]}")
            time.sleep(2)

