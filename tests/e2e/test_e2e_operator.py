"""End to end on a cluster that runs real containers (kind, or the real-node cluster; see e2e_clusters).

On the package's cluster (conftest.py: the operator, example-worker and hatchet-engine images built with
hack/build-images.sh and loaded into its nodes, a Hatchet engine in the cluster, the operator chart
installed with helm): applies examples/hatchetworker.yaml, waits for Ready (the kubelet runs the worker's
probes), triggers runs that only the worker pods can execute, deletes the HatchetWorker and checks the
cleanup. Skipped, saying what is missing, where the selected cluster provider cannot run.
"""

from __future__ import annotations

import json

import pytest

from harness.helm import Helm
from harness.proc import wait_for

from .conftest import OPERATOR_NS, PROVIDER, WHY, WORKERS_NS, example_worker, token_secret, trigger
from .e2e_clusters import ClusterProvider

# The first test also pays for the cluster and the image builds (package fixtures): more than the default.
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(PROVIDER is None, reason=WHY), pytest.mark.timeout(2400)]


def test_example_fleet_runs_tasks_and_cleans_up(
    cluster: ClusterProvider, images: dict[str, str], engine: dict[str, str], operator: Helm
) -> None:
    cluster.kubectl("rollout", "status", "deployment/hatchet-operator", "-n", OPERATOR_NS, "--timeout=120s")
    cluster.kubectl("create", "namespace", WORKERS_NS)
    cluster.kubectl("apply", "-n", WORKERS_NS, "-f", "-", input=token_secret(engine))
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
