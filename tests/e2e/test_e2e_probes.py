"""The operator's probe profiles on real pods (the kubelet runs the probes).

official-sdk: an image whose worker runs the official hatchet-sdk (test-only, built like the example
worker by hack/build-images.sh). Its probes all use the official SDK's only endpoint, /health: the
pods turn Ready and are never restarted, runs triggered from this machine are executed by the pods,
and pods deleted while they run tasks (SIGTERM from the kubelet) drain them: every run completes
once, on the pod that was told to stop.

hatchet-worker (the default): a pod whose IPC pump is broken (a test-only app mounted into the
example-worker image) fails /livez and the kubelet restarts its container; its runs complete.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from harness.helm import Helm
from harness.proc import wait_for
from hatchet_worker import ClientConfig, ClientTLSConfig, Hatchet

try:  # the package layout of tests/e2e (shared cluster, engine and operator fixtures in conftest.py)
    from .conftest import ENGINE_HOST, OPERATOR_NS, PROVIDER, WHY, restart_report, token_secret
    from .e2e_clusters import REPO, ClusterProvider
except ImportError:  # a checkout without it: nothing to run these tests on
    pytest.skip("needs the tests/e2e package (its conftest.py fixtures)", allow_module_level=True)

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(PROVIDER is None, reason=WHY), pytest.mark.timeout(2400)]
NAME = "official"
WORKERS_NS = "hatchet-official"  # a namespace of its own: the package's other modules use theirs
REPLICAS = 2


@pytest.fixture(scope="module")
def official_image(cluster: ClusterProvider) -> str:
    """The test-only official-worker image, built by hack/build-images.sh and loaded into the node."""
    cp = subprocess.run(["bash", str(REPO / "hack" / "build-images.sh"), "official-worker"],
                        capture_output=True, text=True, timeout=3600)
    assert cp.returncode == 0, cp.stderr[-4000:]
    ref, archive, _ = cp.stdout.strip().splitlines()[-1].split()
    cluster.load_image(Path(archive))
    return ref


def _client(env: dict[str, str]) -> Hatchet:
    return Hatchet(config=ClientConfig(token=env["HATCHET_CLIENT_TOKEN"], host_port=env["HATCHET_CLIENT_HOST_PORT"],
                                       server_url=env["HATCHET_CLIENT_SERVER_URL"],
                                       tls_config=ClientTLSConfig(strategy="none")))


def _tasks(env: dict[str, str], run_id: str) -> list[tuple[str, int]]:
    req = urllib.request.Request(f"{env['HATCHET_CLIENT_SERVER_URL']}/api/v1/stable/workflow-runs/{run_id}",
                                 headers={"Authorization": f"Bearer {env['HATCHET_CLIENT_TOKEN']}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return [(t["status"], t["retryCount"]) for t in json.loads(r.read())["tasks"]]


def _pods(cluster: ClusterProvider) -> list[dict[str, Any]]:
    out = cluster.kubectl("get", "pods", "-n", WORKERS_NS, "-l", f"app.kubernetes.io/instance={NAME}", "-o", "json")
    return list(json.loads(out.stdout)["items"])


def test_official_sdk_worker_under_its_probe_profile(
    cluster: ClusterProvider, official_image: str, engine: dict[str, str], operator: Helm
) -> None:
    cluster.kubectl("rollout", "status", "deployment/hatchet-operator", "-n", OPERATOR_NS, "--timeout=120s")
    cluster.kubectl("create", "namespace", WORKERS_NS)
    cluster.kubectl("apply", "-n", WORKERS_NS, "-f", "-", input=token_secret(engine))
    worker = {
        "apiVersion": "hatchetkube.io/v1alpha1", "kind": "HatchetWorker", "metadata": {"name": NAME},
        "spec": {"image": official_image, "imagePullPolicy": "IfNotPresent", "replicas": REPLICAS,
                 "hatchet": {"hostPort": f"{ENGINE_HOST}:7070", "serverUrl": f"http://{ENGINE_HOST}:8888",
                             "tls": {"strategy": "none"}},
                 "healthCheck": {"probeProfile": "official-sdk"}, "drain": {"timeoutSeconds": 60}},
    }
    cluster.kubectl("apply", "-n", WORKERS_NS, "-f", "-", input=json.dumps(worker))
    explained = cluster.kubectl("explain", "hatchetworker.spec.healthCheck.probeProfile").stdout
    assert "official-sdk" in explained and "/health" in explained

    # Ready: the kubelet's startup and readiness probes on the official SDK's /health passed.
    cluster.kubectl("wait", "--for=condition=Ready", f"hatchetworker/{NAME}", "-n", WORKERS_NS, "--timeout=300s",
                    timeout=330)
    dep = json.loads(cluster.kubectl("get", "deployment", NAME, "-n", WORKERS_NS, "-o", "json").stdout)
    [c] = dep["spec"]["template"]["spec"]["containers"]
    assert {c[p]["httpGet"]["path"] for p in ("startupProbe", "livenessProbe", "readinessProbe")} == {"/health"}
    assert c["livenessProbe"]["failureThreshold"] == 20
    first = {p["metadata"]["name"] for p in _pods(cluster)}
    assert len(first) == REPLICAS

    client = _client(engine)
    nap = client.workflow(name="official_nap")
    # Runs executed by the pods (no worker for this task runs on this machine).
    quick = [nap.run_no_wait({"seconds": 0.1}) for _ in range(10)]
    outs = [next(iter(r.result(timeout=120).values())) for r in quick]
    assert {o["pod"] for o in outs} <= first and all(o["retry_count"] == 0 for o in outs)

    # SIGTERM drained: delete every pod while each runs tasks; the kubelet sends SIGTERM and the
    # official SDK finishes its tasks before exiting (the Deployment starts new pods meanwhile).
    slow = [nap.run_no_wait({"seconds": 20}) for _ in range(6)]
    wait_for(lambda: all(_tasks(engine, r.workflow_run_id) == [("RUNNING", 0)] for r in slow), 60,
             "the 6 runs running on the current pods")
    cluster.kubectl("delete", "pods", "-n", WORKERS_NS, *sorted(first), "--wait=false")
    outs = [next(iter(r.result(timeout=180).values())) for r in slow]
    assert {o["pod"] for o in outs} <= first, outs  # finished by the pods told to stop
    assert all(o["retry_count"] == 0 for o in outs), outs
    for ref in [*quick, *slow]:  # once each, as the engine saw it
        assert _tasks(engine, ref.workflow_run_id) == [("COMPLETED", 0)]
    # The replacements turn Ready under the same probes, and no container was ever restarted.
    def ready_replacements() -> int:
        return len([p for p in _pods(cluster) if p["metadata"]["name"] not in first
                    and (cs := p["status"].get("containerStatuses")) and all(s.get("ready") for s in cs)])

    wait_for(lambda: ready_replacements() == REPLICAS, 180, "the replacement pods Ready")
    for pod in _pods(cluster):
        for s in pod["status"].get("containerStatuses", []):
            assert s["restartCount"] == 0, pod["metadata"]["name"]
    cluster.kubectl("delete", "hatchetworker", NAME, "-n", WORKERS_NS, "--wait=true", "--timeout=120s")


PUMP_NS = "hatchet-probes"
PUMP_NAME = "pump"


def test_a_worker_whose_pump_is_broken_is_restarted_by_the_kubelet(
    cluster: ClusterProvider, images: dict[str, str], engine: dict[str, str], operator: Helm
) -> None:
    """This SDK's default profile on real pods: a zombie (its listener still heartbeats the engine, its
    runner no longer gets frames) fails /livez and the kubelet restarts its container; the runs the
    engine gave it complete, none executed by the zombie process."""
    cluster.kubectl("create", "namespace", PUMP_NS)
    cluster.kubectl("apply", "-n", PUMP_NS, "-f", "-", input=token_secret(engine))
    app = REPO / "tests" / "e2e" / "apps" / "pump_fault_worker.py"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "pump-fault"},
          "data": {app.name: app.read_text()}}
    cluster.kubectl("apply", "-n", PUMP_NS, "-f", "-", input=json.dumps(cm))
    worker = {
        "apiVersion": "hatchetkube.io/v1alpha1", "kind": "HatchetWorker", "metadata": {"name": PUMP_NAME},
        "spec": {"image": images["example-worker"], "imagePullPolicy": "IfNotPresent", "replicas": 2,
                 "command": ["/usr/bin/python3", f"/app-test/{app.name}"],
                 "hatchet": {"hostPort": f"{ENGINE_HOST}:7070", "serverUrl": f"http://{ENGINE_HOST}:8888",
                             "tls": {"strategy": "none"}},
                 "drain": {"timeoutSeconds": 30},
                 "volumes": [{"name": "app", "configMap": {"name": "pump-fault"}}],
                 "volumeMounts": [{"name": "app", "mountPath": "/app-test", "readOnly": True}]},
    }
    cluster.kubectl("apply", "-n", PUMP_NS, "-f", "-", input=json.dumps(worker))
    cluster.kubectl("wait", "--for=condition=Ready", f"hatchetworker/{PUMP_NAME}", "-n", PUMP_NS,
                    "--timeout=300s", timeout=330)

    def pods() -> list[dict[str, Any]]:
        out = cluster.kubectl("get", "pods", "-n", PUMP_NS, "-l", f"app.kubernetes.io/instance={PUMP_NAME}",
                              "-o", "json")
        return list(json.loads(out.stdout)["items"])

    def restarts(pod: str) -> int:
        return sum(s["restartCount"] for p in pods() if p["metadata"]["name"] == pod
                   for s in p["status"].get("containerStatuses", []))

    [victim, healthy] = sorted(p["metadata"]["name"] for p in pods())
    zombie = cluster.kubectl("exec", "-n", PUMP_NS, victim, "--", "cat", "/tmp/process-id").stdout.strip()
    cluster.kubectl("exec", "-n", PUMP_NS, victim, "--", "/usr/bin/python3", "-c",
                    "open('/tmp/break-pump', 'w').close()")

    def livez() -> str:  # from inside the pod: the health port is not published
        return str(cluster.kubectl(
            "exec", "-n", PUMP_NS, victim, "--", "/usr/bin/python3", "-c",
            "import urllib.request as u, urllib.error as e\n"
            "try: print(u.urlopen('http://127.0.0.1:8001/livez', timeout=3).status)\n"
            "except e.HTTPError as x: print(x.code, x.read().decode())", check=False).stdout)

    # The read in progress when the marker appeared still delivers one frame (a tick, or an
    # assignment): trigger only once the pump is stuck, so no run can reach the zombie's runner.
    reason = wait_for(lambda: (out := livez()).startswith("503") and out, 60, f"/livez 503 on {victim}")
    assert "no frame from the action listener" in reason, reason
    client = _client(engine)
    nap = client.workflow(name="pump_nap")
    refs = [nap.run_no_wait({"seconds": 0.2}) for _ in range(10)]
    # The kubelet restarts the zombie's container: /livez failed (15 s without a frame, then the
    # probe's 3 failures 15 s apart).
    wait_for(lambda: restarts(victim) >= 1, 240, f"the kubelet to restart {victim}")
    events = cluster.kubectl("get", "events", "-n", PUMP_NS, "--field-selector",
                             f"involvedObject.name={victim}", "-o", "json").stdout
    messages = [e.get("message", "") for e in json.loads(events)["items"]]
    assert any("Liveness probe failed" in m and "503" in m for m in messages), messages
    outs = [next(iter(r.result(timeout=300).values())) for r in refs]
    assert zombie not in {o["process"] for o in outs}, outs
    for ref in refs:  # each completed once, as the engine saw it
        assert [s for s, _ in _tasks(engine, ref.workflow_run_id)] == ["COMPLETED"]
    assert restarts(healthy) == 0, restart_report(cluster, PUMP_NS, healthy)
    assert restarts(victim) == 1, restart_report(cluster, PUMP_NS, victim)
    cluster.kubectl("delete", "hatchetworker", PUMP_NAME, "-n", PUMP_NS, "--wait=true", "--timeout=120s")
