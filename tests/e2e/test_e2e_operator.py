"""End to end on a cluster that runs real containers (kind, or the real-node cluster; see e2e_clusters).

Creates the cluster, builds the images with hack/build-images.sh and loads them into its nodes, runs a
Hatchet engine on this machine and makes it reachable from pods, `helm install`s the operator chart,
applies examples/hatchetworker.yaml, waits for Ready, triggers runs that only the worker pods can
execute, deletes the HatchetWorker and checks the cleanup, uninstalls the chart and deletes the
cluster. Skipped, saying what is missing, where the selected cluster provider cannot run.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_clusters import REPO, ClusterProvider, Forwarder, selected

from harness.hatchet import HatchetEngine
from harness.helm import Helm
from harness.proc import wait_for

PROVIDER, WHY = selected()
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(PROVIDER is None, reason=WHY)]

OPERATOR_NS = "hatchet-system"
WORKERS_NS = "hatchet-workers"
RELEASE = "hatchet-operator"


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
    """Build both images (no registry involved) and load them into the cluster; name -> reference."""
    cp = subprocess.run(["bash", str(REPO / "hack" / "build-images.sh")], capture_output=True, text=True,
                        timeout=1800)
    assert cp.returncode == 0, cp.stderr[-4000:]
    refs = {}
    for line in cp.stdout.splitlines():
        ref, archive, _ = line.split()
        cluster.load_image(Path(archive))
        refs[ref.split("/")[-1].split(":")[0]] = ref
    return refs


@pytest.fixture(scope="module")
def engine(hatchet: HatchetEngine, cluster: ClusterProvider) -> Iterator[dict[str, str]]:
    """The host's engine as pods see it: gRPC and REST relayed from an address pods can reach."""
    host = cluster.host_address()
    grpc_port = int(hatchet.grpc_address.rsplit(":", 1)[1])
    rest_port = int(hatchet.rest_url.rsplit(":", 1)[1])
    with Forwarder(host, grpc_port) as grpc, Forwarder(host, rest_port) as rest:
        yield {"hostPort": grpc.address, "serverUrl": f"http://{rest.address}"}


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


def example_worker(engine: dict[str, str], image: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((REPO / "examples" / "hatchetworker.yaml").read_text())
    doc["spec"]["image"] = image
    doc["spec"].setdefault("hatchet", {}).update(engine)
    return doc


def hatchet_worker(cluster: ClusterProvider, name: str) -> dict[str, Any] | None:
    cp = cluster.kubectl("get", "hatchetworker", name, "-n", WORKERS_NS, "-o", "json", check=False)
    return json.loads(cp.stdout) if cp.returncode == 0 else None


def trigger(hatchet: HatchetEngine, workflow: str, payload: dict[str, Any]) -> Any:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HATCHET_")}, **hatchet.client_env()}
    cp = subprocess.run([sys.executable, str(REPO / "examples" / "worker" / "worker.py"), "trigger", workflow,
                         json.dumps(payload)], capture_output=True, text=True, timeout=180, env=env)
    assert cp.returncode == 0, cp.stderr[-3000:]
    return json.loads(cp.stdout.strip().splitlines()[-1])


def test_example_fleet_runs_tasks_and_cleans_up(
    cluster: ClusterProvider, images: dict[str, str], engine: dict[str, str], operator: Helm,
    hatchet: HatchetEngine,
) -> None:
    deploy = json.loads(cluster.kubectl("get", "deploy", "-n", OPERATOR_NS, "-o", "json").stdout)["items"]
    assert [d["status"].get("readyReplicas") for d in deploy] == [1], "the operator pod is not Ready"

    cluster.kubectl("create", "namespace", WORKERS_NS)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hatchet-client-config"},
              "data": {"HATCHET_CLIENT_TOKEN": base64.b64encode(hatchet.token.encode()).decode()}}
    cluster.kubectl("apply", "-n", WORKERS_NS, "-f", "-", input=json.dumps(secret))
    manifest = example_worker(engine, images["example-worker"])
    name = manifest["metadata"]["name"]
    cluster.kubectl("apply", "-n", WORKERS_NS, "-f", "-", input=json.dumps(manifest))

    # The kubelet runs the worker's probes: Ready means the SDK's health server said HEALTHY.
    cluster.kubectl("wait", "--for=condition=Ready", f"hatchetworker/{name}", "-n", WORKERS_NS, "--timeout=300s",
                    timeout=330)
    hw = hatchet_worker(cluster, name)
    assert hw is not None and hw["status"]["readyReplicas"] == manifest["spec"]["replicas"]
    hatchet.wait_for_worker(manifest["spec"]["workerName"], 120)

    # Only the pods run a worker for these workflows: a completed run was executed by a pod.
    assert trigger(hatchet, "greet", {"name": "kind"}) == {"message": "Hello, kind!"}
    result = trigger(hatchet, "pipeline", {"numbers": [1, 2, 3, 4]})
    assert result["mean"] == {"mean": 2.5}

    cluster.kubectl("delete", "hatchetworker", name, "-n", WORKERS_NS, "--wait=true", "--timeout=120s")
    selector = f"app.kubernetes.io/instance={name}"

    def cleaned_up() -> bool:
        left = cluster.kubectl("get", "deploy,rs,pods", "-n", WORKERS_NS, "-l", selector, "-o", "name").stdout
        return left.strip() == ""

    wait_for(cleaned_up, 180, "the worker Deployment and its pods to be deleted")
