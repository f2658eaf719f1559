"""The e2e suite's shared peers: ONE cluster for all of tests/e2e, created for the first test that needs it
and deleted after the last test of this package (package scope), so the modules never pay for a second
cluster and the real node (one per machine) is not held while the rest of the suite runs.

On it: the operator, example-worker and hatchet-engine images built by hack/build-images.sh and loaded
into its nodes, a Hatchet engine in the cluster (reached from this machine through a port-forward that
comes back by itself after the engine restarts), and the operator chart installed with helm.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import binaries
from harness.helm import Helm
from harness.proc import Proc, free_port, wait_for

from .e2e_clusters import REPO, ClusterProvider, selected
from .foreign_host import ForeignHost, can_plant

PROVIDER, WHY = selected()

OPERATOR_NS = "hatchet-system"
ENGINE_NS = "hatchet"
WORKERS_NS = "hatchet-workers"
RELEASE = "hatchet-operator"
ENGINE_HOST = f"hatchet-engine.{ENGINE_NS}.svc.cluster.local"
TOKEN_SECRET = "hatchet-client-config"


class EngineForward:
    """``kubectl port-forward`` to the engine Service on fixed local ports, started again whenever it
    ends: kubectl gives up on a forward once a connection to the pod fails, which is what an engine
    restart does to it."""

    def __init__(self, cluster: ClusterProvider, log: Path) -> None:
        self.grpc_port, self.rest_port = free_port(), free_port()
        self.restarts = 0
        self._proc = Proc("port-forward", [
            str(binaries.kube_bin() / "kubectl"), f"--kubeconfig={cluster.kubeconfig}", "port-forward", "-n",
            ENGINE_NS, "--address=127.0.0.1", "svc/hatchet-engine", f"{self.grpc_port}:7070",
            f"{self.rest_port}:8888"], log)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._keep, daemon=True, name="engine-forward")

    def start(self) -> EngineForward:
        self._proc.start()
        self._thread.start()
        return self

    def _keep(self) -> None:
        while not self._stop.is_set():
            popen = self._proc.popen
            if popen is not None and popen.poll() is None:
                self._stop.wait(0.2)
                continue
            if self._stop.wait(0.5):
                return
            self.restarts += 1
            self._proc.start()

    def rest_ready(self) -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.rest_port}/api/ready", timeout=5) as r:
            return bool(r.status == 200)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._proc.stop()


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterProvider]:
    """The tier's cluster; around it, foreign host state that must come through untouched (on a
    developer's machine the tier runs next to their own Kubernetes and containers)."""
    assert PROVIDER is not None, WHY
    foreign = ForeignHost().plant() if can_plant() else None
    try:
        c = PROVIDER(tmp_path_factory.mktemp(f"e2e-{PROVIDER.name}"))
        c.create()
        try:
            yield c
        finally:
            c.delete()
        problems = foreign.problems() if foreign is not None else []
        problems += c.teardown_problems
        assert not problems, "the e2e tier changed what it did not create, or pulled:\n" + "\n".join(problems)
    finally:
        if foreign is not None:
            foreign.remove()


@pytest.fixture(scope="package")
def images(cluster: ClusterProvider) -> dict[str, str]:
    """Build the images (no registry involved) and load them into the cluster; name -> reference."""
    cp = subprocess.run(["bash", str(REPO / "hack" / "build-images.sh"), "operator", "example-worker",
                         "hatchet-engine"], capture_output=True, text=True, timeout=3600)
    assert cp.returncode == 0, cp.stderr[-4000:]
    refs = {}
    for line in cp.stdout.splitlines():
        ref, archive, _ = line.split()
        cluster.load_image(Path(archive))
        refs[ref.split("/")[-1].split(":")[0]] = ref
    assert set(refs) == {"operator", "example-worker", "hatchet-engine"}
    return refs


@pytest.fixture(scope="package")
def engine_forward(cluster: ClusterProvider, images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[EngineForward]:
    """A Hatchet engine in the cluster (tests/e2e/manifests/hatchet-engine.yaml) and the port-forward to it."""
    manifest = (REPO / "tests" / "e2e" / "manifests" / "hatchet-engine.yaml").read_text()
    manifest = manifest.replace("NAMESPACE", ENGINE_NS).replace("hatchet-kube/hatchet-engine:0.1.0",
                                                                images["hatchet-engine"])
    cluster.kubectl("create", "namespace", ENGINE_NS)
    cluster.kubectl("apply", "-n", ENGINE_NS, "-f", "-", input=manifest)
    cluster.kubectl("rollout", "status", "deployment/hatchet-engine", "-n", ENGINE_NS, "--timeout=300s",
                    timeout=330)
    forward = EngineForward(cluster, tmp_path_factory.mktemp("port-forward") / "port-forward.log").start()
    try:
        wait_for(forward.rest_ready, 60, "the engine through the port-forward")
        yield forward
    finally:
        forward.stop()


@pytest.fixture(scope="package")
def engine(cluster: ClusterProvider, engine_forward: EngineForward) -> dict[str, str]:
    """The client environment for this machine (through the port-forward)."""
    def token() -> str:
        return cluster.kubectl("exec", "-n", ENGINE_NS, "deploy/hatchet-engine", "--", "cat",
                               "/var/lib/hatchet/token", check=False).stdout.strip()

    return {
        "HATCHET_CLIENT_TOKEN": wait_for(token, 120, "the engine's client token"),
        "HATCHET_CLIENT_HOST_PORT": f"127.0.0.1:{engine_forward.grpc_port}",
        "HATCHET_CLIENT_SERVER_URL": f"http://127.0.0.1:{engine_forward.rest_port}",
        "HATCHET_CLIENT_TLS_STRATEGY": "none",
    }


@pytest.fixture(scope="package")
def operator(cluster: ClusterProvider, images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Helm]:
    helm = Helm(tmp_path_factory.mktemp("e2e-helm"), cluster.kubeconfig)
    repo, tag = images["operator"].rsplit(":", 1)
    helm.run("install", RELEASE, str(REPO / "charts" / "hatchet-operator"), "--namespace", OPERATOR_NS,
             "--create-namespace", "--set", f"image.repository={repo}", "--set", f"image.tag={tag}",
             "--set", "autoscalingIntervalSeconds=3",
             "--wait", "--timeout", "180s")
    try:
        yield helm
    finally:
        helm.run("uninstall", RELEASE, "--namespace", OPERATOR_NS, "--wait", check=False)


def token_secret(engine: dict[str, str]) -> str:
    """The Secret HatchetWorkers read their token from (the one Hatchet's Helm chart writes), as JSON."""
    return json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": TOKEN_SECRET},
                       "data": {"HATCHET_CLIENT_TOKEN": base64.b64encode(
                           engine["HATCHET_CLIENT_TOKEN"].encode()).decode()}})


def example_worker(image: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((REPO / "examples" / "hatchetworker.yaml").read_text())
    doc["spec"]["image"] = image
    doc["spec"].setdefault("hatchet", {}).update(
        {"hostPort": f"{ENGINE_HOST}:7070", "serverUrl": f"http://{ENGINE_HOST}:8888"})
    return doc


def trigger(client_env: dict[str, str], workflow: str, payload: dict[str, Any]) -> Any:
    """Trigger a run from this machine and wait for its result (no worker runs on this machine)."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HATCHET_")}, **client_env}
    cp = subprocess.run([sys.executable, str(REPO / "examples" / "worker" / "worker.py"), "trigger", workflow,
                         json.dumps(payload)], capture_output=True, text=True, timeout=300, env=env)
    assert cp.returncode == 0, cp.stderr[-3000:]
    return json.loads(cp.stdout.strip().splitlines()[-1])


def wait_until(check: Any, timeout: float, what: str, interval: float = 0.5) -> Any:
    """harness.proc.wait_for with a steady interval (the e2e checks are kubectl calls: not too often)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = check()
            if result:
                return result
            last = result
        except Exception as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def restart_report(cluster: ClusterProvider, namespace: str, pod: str) -> str:
    """Why a pod's container restarted, for a failure message: its last state (exit code, reason,
    times), the pod's events and the last lines the previous container wrote."""
    out = cluster.kubectl("get", "pod", "-n", namespace, pod, "-o", "json", check=False).stdout
    statuses = json.loads(out).get("status", {}).get("containerStatuses", []) if out else []
    events = cluster.kubectl("get", "events", "-n", namespace, "--field-selector", f"involvedObject.name={pod}",
                             "-o", "custom-columns=T:.lastTimestamp,R:.reason,M:.message", check=False).stdout
    previous = cluster.kubectl("logs", "-n", namespace, pod, "--previous", "--tail=40", check=False).stdout
    last = [{"restarts": s.get("restartCount"), "last": s.get("lastState")} for s in statuses]
    return f"{pod}: {json.dumps(last)}\nevents:\n{events}\nprevious container's log:\n{previous}"
