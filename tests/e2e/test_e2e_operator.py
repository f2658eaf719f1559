"""End to end on a cluster that runs real containers (kind, or the real-node cluster; see e2e_clusters).

Creates the cluster, builds the operator, example-worker and hatchet-engine images with
hack/build-images.sh and loads them into its nodes, runs a Hatchet engine in the cluster, `helm install`s
the operator chart, applies examples/hatchetworker.yaml, waits for Ready (the kubelet runs the worker's
probes), triggers runs that only the worker pods can execute, deletes the HatchetWorker and checks the
cleanup, uninstalls the chart and deletes the cluster. Skipped, saying what is missing, where the
selected cluster provider cannot run.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_clusters import REPO, ClusterProvider, selected

from harness import binaries
from harness.helm import Helm
from harness.proc import Proc, free_port, wait_for

PROVIDER, WHY = selected()
# The first test also pays for the cluster and the image builds (module fixtures): more than the default.
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(PROVIDER is None, reason=WHY), pytest.mark.timeout(2400)]

OPERATOR_NS = "hatchet-system"
ENGINE_NS = "hatchet"
WORKERS_NS = "hatchet-workers"
RELEASE = "hatchet-operator"
ENGINE_HOST = f"hatchet-engine.{ENGINE_NS}.svc.cluster.local"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterProvider]:
    assert PROVIDER is not None
    c = PROVIDER(tmp_path_factory.mktemp(f"e2e-{PROVIDER.name}"))
    c.create()
    try:
        yield c
    finally:
        c.delete()


@pytest.fixture(scope="module")
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


@pytest.fixture(scope="module")
def engine(cluster: ClusterProvider, images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[dict[str, str]]:
    """A Hatchet engine in the cluster; yields the client environment for this machine (port-forward)."""
    manifest = (REPO / "tests" / "e2e" / "manifests" / "hatchet-engine.yaml").read_text()
    manifest = manifest.replace("NAMESPACE", ENGINE_NS).replace("hatchet-kube/hatchet-engine:0.1.0",
                                                                images["hatchet-engine"])
    cluster.kubectl("create", "namespace", ENGINE_NS)
    cluster.kubectl("apply", "-n", ENGINE_NS, "-f", "-", input=manifest)
    cluster.kubectl("rollout", "status", "deployment/hatchet-engine", "-n", ENGINE_NS, "--timeout=300s",
                    timeout=330)

    def token() -> str:
        return cluster.kubectl("exec", "-n", ENGINE_NS, "deploy/hatchet-engine", "--", "cat",
                               "/var/lib/hatchet/token", check=False).stdout.strip()

    wait_for(token, 120, "the engine's client token")
    grpc_port, rest_port = free_port(), free_port()
    forward = Proc("port-forward", [str(binaries.kube_bin() / "kubectl"), f"--kubeconfig={cluster.kubeconfig}",
                                    "port-forward", "-n", ENGINE_NS, "--address=127.0.0.1", "svc/hatchet-engine",
                                    f"{grpc_port}:7070", f"{rest_port}:8888"],
                   tmp_path_factory.mktemp("port-forward") / "port-forward.log").start()
    try:
        def rest_ready() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{rest_port}/api/ready", timeout=5) as r:
                return r.status == 200

        wait_for(rest_ready, 60, "the engine through the port-forward", procs=[forward])
        yield {
            "HATCHET_CLIENT_TOKEN": token(),
            "HATCHET_CLIENT_HOST_PORT": f"127.0.0.1:{grpc_port}",
            "HATCHET_CLIENT_SERVER_URL": f"http://127.0.0.1:{rest_port}",
            "HATCHET_CLIENT_TLS_STRATEGY": "none",
        }
    finally:
        forward.stop()


@pytest.fixture(scope="module")
def operator(cluster: ClusterProvider, images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Helm]:
    helm = Helm(tmp_path_factory.mktemp("e2e-helm"), cluster.kubeconfig)
    repo, tag = images["operator"].rsplit(":", 1)
    helm.run("install", RELEASE, str(REPO / "charts" / "hatchet-operator"), "--namespace", OPERATOR_NS,
             "--create-namespace", "--set", f"image.repository={repo}", "--set", f"image.tag={tag}",
             "--wait", "--timeout", "180s")
    try:
        yield helm
    finally:
        helm.run("uninstall", RELEASE, "--namespace", OPERATOR_NS, "--wait", check=False)


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


def test_example_fleet_runs_tasks_and_cleans_up(
    cluster: ClusterProvider, images: dict[str, str], engine: dict[str, str], operator: Helm
) -> None:
    cluster.kubectl("rollout", "status", "deployment/hatchet-operator", "-n", OPERATOR_NS, "--timeout=120s")
    cluster.kubectl("create", "namespace", WORKERS_NS)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hatchet-client-config"},
              "data": {"HATCHET_CLIENT_TOKEN": base64.b64encode(engine["HATCHET_CLIENT_TOKEN"].encode()).decode()}}
    cluster.kubectl("apply", "-n", WORKERS_NS, "-f", "-", input=json.dumps(secret))
    manifest = example_worker(images["example-worker"])
    name = manifest["metadata"]["name"]
    cluster.kubectl("apply", "-n", WORKERS_NS, "-f", "-", input=json.dumps(manifest))

    # The kubelet runs the worker's probes: Ready means each pod's SDK health server said HEALTHY.
    cluster.kubectl("wait", "--for=condition=Ready", f"hatchetworker/{name}", "-n", WORKERS_NS, "--timeout=300s",
                    timeout=330)
    hw = json.loads(cluster.kubectl("get", "hatchetworker", name, "-n", WORKERS_NS, "-o", "json").stdout)
    assert hw["status"]["readyReplicas"] == manifest["spec"]["replicas"]

    # Only the pods run a worker for these workflows: a completed run was executed by a pod.
    assert trigger(engine, "greet", {"name": "e2e"}) == {"message": "Hello, e2e!"}
    assert trigger(engine, "pipeline", {"numbers": [1, 2, 3, 4]})["mean"] == {"mean": 2.5}

    cluster.kubectl("delete", "hatchetworker", name, "-n", WORKERS_NS, "--wait=true", "--timeout=120s")
    selector = f"app.kubernetes.io/instance={name}"

    def cleaned_up() -> bool:
        left = cluster.kubectl("get", "deploy,rs,pods", "-n", WORKERS_NS, "-l", selector, "-o", "name").stdout
        return left.strip() == ""

    wait_for(cleaned_up, 180, "the worker Deployment and its pods to be deleted")
