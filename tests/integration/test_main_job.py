"""The README's main job (`make up`, i.e. hack/up.py) end to end, in both of its modes.

real-node: the operator installed with the chart runs in a pod, the example HatchetWorker's pods are
started by the kubelet and pass their probes, and every task of the triggered run was executed by one
of those pods (the engine's worker id of each task is the id a pod's own /health and log report).
kwok: the fallback, forced with HATCHET_UP_MODE=kwok, where the pod's container runs as a local process.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness import node

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "hack"))

import up  # noqa: E402


def run_up(workdir: Path, mode: str, timeout: float) -> tuple[int, str, dict[str, Any]]:
    """hack/up.py --once; on a timeout it gets SIGTERM (so it tears down) before this test fails."""
    env = {**os.environ, "HATCHET_UP_MODE": mode}
    p = subprocess.Popen([sys.executable, str(ROOT / "hack" / "up.py"), "--once", "--workdir", str(workdir)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=180)
        pytest.fail(f"make up --once took more than {timeout}s\n{out[-6000:]}")
    summary_path = workdir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    return p.returncode, out, summary


def test_mode_choice_says_why() -> None:
    no_docker, docker_up = (lambda: "Cannot connect to the Docker daemon"), (lambda: None)
    kind_ok, kind_no = (lambda: None), (lambda: "no `go` command")
    assert up.choose_mode("auto", lambda: None, no_docker, kind_ok)[0] == "real-node"
    mode, why = up.choose_mode("auto", lambda: "it needs root", no_docker, kind_ok)
    assert mode == "kwok" and "it needs root" in why and "falling back to kwok" in why
    # A Docker daemon of the machine's own: kind, as a developer with Docker expects.
    mode, why = up.choose_mode("auto", lambda: None, docker_up, kind_ok)
    assert mode == "kind" and "Docker daemon answers" in why
    assert up.choose_mode("auto", lambda: None, docker_up, kind_no)[0] == "real-node"
    assert up.choose_mode("kind", lambda: None, no_docker, kind_ok)[0] == "kind"
    with pytest.raises(SystemExit, match="kind cannot run here: no `go` command"):
        up.choose_mode("kind", lambda: None, docker_up, kind_no)
    assert up.choose_mode("kwok", lambda: None, docker_up, kind_ok)[0] == "kwok"
    with pytest.raises(SystemExit, match="cannot run here: it needs root"):
        up.choose_mode("real-node", lambda: "it needs root", no_docker, kind_ok)
    with pytest.raises(SystemExit, match="unsupported mode 'minikube'"):
        up.choose_mode("minikube", lambda: None, no_docker, kind_ok)


@pytest.mark.integration
@pytest.mark.e2e
@pytest.mark.timeout(1500)
@pytest.mark.parametrize("mode", ["real-node", "kind"])
def test_up_once_runs_the_workflow_in_real_pods(tmp_path: Path, mode: str) -> None:
    from e2e.e2e_clusters import KindCluster

    why = node.missing() if mode == "real-node" else KindCluster.missing()
    if why is not None:
        pytest.skip(f"{mode} cannot run here: {why}")
    rc, out, summary = run_up(tmp_path, mode, 1300)
    assert rc == 0, out[-8000:]
    assert summary["mode"] == mode, summary
    pods = summary["pods"]
    assert len(pods) == 2  # examples/hatchetworker.yaml replicas
    for p in pods:
        # Started (startup probe), Ready (readiness probe), never restarted (liveness probe), on the node.
        on_node = p["node"] == node.NODE_NAME if mode == "real-node" else p["node"].endswith("-control-plane")
        ok = p["started"] and p["ready"] and p["restarts"] == 0 and on_node
        assert ok, json.dumps(p, indent=1)
        assert p["worker_id"]
    pod_ids = {p["worker_id"]: p["name"] for p in pods}
    tasks = summary["run"]["tasks"]
    assert sorted(t["task"] for t in tasks) == ["count", "mean", "total"]
    assert summary["run"]["result"]["mean"] == {"mean": 2.5}
    for t in tasks:
        assert t["status"] == "COMPLETED" and t["worker_id"] in pod_ids, (t, pod_ids)
        # The pod's own log (read through the kubelet) names the worker id the engine gave this task.
        log = (tmp_path / "logs" / f"pod-{pod_ids[t['worker_id']]}.log").read_text()
        assert re.search(rf"registered worker {up.WORKER} as {t['worker_id']}\b", log), log[-2000:]
    assert not (tmp_path / "logs" / "example-worker.log").exists()  # no worker process ran on this machine
    assert "READY" in out and "converged in" in out and "tearing down" in out


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_up_once_kwok_fallback_converges_and_runs_a_workflow(tmp_path: Path) -> None:
    rc, out, summary = run_up(tmp_path, "kwok", 280)
    assert rc == 0, out[-4000:]
    assert summary["mode"] == "kwok" and "kwok mode was asked for" in summary["why"]
    assert "mode kwok: kwok mode was asked for" in out
    assert "example-worker   2         2" in out  # DESIRED 2, READY 2 in the printer columns
    assert '"mean": {"mean": 2.5}' in out  # the run executed by a worker with the rendered env
    (local,) = summary["executors"].values()
    assert local.startswith("local process pid")
    assert {t["worker_id"] for t in summary["run"]["tasks"]} == set(summary["executors"])
    assert "converged in" in out
