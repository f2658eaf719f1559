"""Live HatchetWorkers judged by the real kstatus library (cli-utils, built from tests/tools/kstatus)
and by the chart's Argo CD health check run by a real Lua 5.1 interpreter: create, rollout, degraded,
recovered and scaling through the scale subresource. At every sampled step both must agree with the
conditions, and neither may call the resource done before its Deployment is.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
import urllib.error
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Cluster, Operator, worker_manifest

from harness.binaries import cache_dir
from harness.kube import ControlPlane
from harness.proc import wait_for

REPO = Path(__file__).resolve().parents[3]
KSTATUS_SRC = REPO / "tests" / "tools" / "kstatus"
LUA_RUNNER = REPO / "tests" / "tools" / "argocd" / "run.lua"
HEALTH = REPO / "charts" / "hatchet-operator" / "files" / "argocd-health.lua"

Judge = Callable[[dict[str, Any]], tuple[str, str]]


@pytest.fixture(scope="session")
def kstatus_bin() -> Path:
    """The kstatus helper, built once per version of its sources into the peer cache (outside the repo)."""
    key = hashlib.sha256(b"".join((KSTATUS_SRC / f).read_bytes() for f in ("go.mod", "go.sum", "main.go")))
    out = cache_dir() / "kstatus" / key.hexdigest()[:16] / "kstatus"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        subprocess.run(["go", "build", "-trimpath", "-o", str(tmp), "."], cwd=KSTATUS_SRC, check=True, timeout=900)
        tmp.rename(out)
    return out


@pytest.fixture(scope="session")
def judge(kstatus_bin: Path) -> Judge:
    lua = shutil.which("lua5.1")
    if lua is None:
        pytest.fail("lua5.1 is missing: run hack/ensure-deps.sh")

    def run(obj: dict[str, Any]) -> tuple[str, str]:
        text = json.dumps(obj) + "\n"
        k = subprocess.run([str(kstatus_bin)], input=text, capture_output=True, text=True, check=True, timeout=30)
        a = subprocess.run(
            [lua, str(LUA_RUNNER), str(HEALTH)], input=text, capture_output=True, text=True, check=True, timeout=30
        )
        kres, ares = json.loads(k.stdout), json.loads(a.stdout)
        assert not kres.get("error"), kres
        return kres["status"], ares["status"]

    return run


def expected(obj: dict[str, Any]) -> tuple[str, str]:
    """What the conditions say, in kstatus and Argo CD words."""
    st = obj.get("status") or {}
    conds = {c["type"]: c["status"] for c in st.get("conditions", [])}
    if not conds:
        return "Current", "Progressing"  # kstatus reads a status-less resource as Current (see docs)
    if st.get("observedGeneration") != obj["metadata"]["generation"]:
        return "InProgress", "Progressing"
    if conds.get("Stalled") == "True":
        return "Failed", "Degraded"
    if conds.get("Reconciling") == "True" or conds.get("Ready") != "True":
        return "InProgress", "Progressing"
    return "Current", "Healthy"


def deployment_done(dep: dict[str, Any] | None) -> bool:
    if dep is None:
        return False
    s, want = dep.get("status") or {}, dep["spec"].get("replicas", 1)
    return bool(
        s.get("observedGeneration") == dep["metadata"]["generation"]
        and s.get("updatedReplicas", 0) == s.get("replicas", 0) == want
        and s.get("availableReplicas", 0) >= want
    )


class Sampler:
    """Samples one HatchetWorker (then its Deployment) and checks the judges against the conditions."""

    def __init__(self, c: Cluster, judge: Judge, name: str) -> None:
        self.c, self.judge, self.name = c, judge, name
        self.seen: list[tuple[str, str]] = []

    def sample(self) -> tuple[str, str]:
        hw = self.c.get("hatchetworker", self.name)
        assert hw is not None
        got = self.judge(hw)
        assert got == expected(hw), (got, hw.get("status"))
        dep = self.c.get("deployment", self.name)  # read after the HatchetWorker: it can only be further on
        if got[0] == "Current" and hw.get("status"):
            assert deployment_done(dep), (hw["status"], (dep or {}).get("status"))
        self.seen.append(got)
        return got

    def until(self, want: tuple[str, str], timeout: float, op: Operator) -> None:
        wait_for(lambda: self.sample() == want or None, timeout, f"{self.name} {want}", interval=0.2, procs=[op.proc])


def test_create_rollout_degrade_recover(operator: Operator, cluster: Cluster, judge: Judge) -> None:
    c = cluster
    c.secret()
    s = Sampler(c, judge, "ks")
    c.apply(worker_manifest("ks", replicas=2))
    s.until(("Current", "Healthy"), 90, operator)

    # A rollout: not Current until the new template's pods are all available.
    s.seen.clear()
    c.k("patch", "hw", "ks", "--type=merge", "-p", '{"spec": {"slots": 9}}')
    s.sample()
    s.until(("Current", "Healthy"), 90, operator)
    assert ("InProgress", "Progressing") in s.seen, s.seen
    assert ("Failed", "Degraded") not in s.seen

    # Degraded: the token Secret goes away.
    c.k("delete", "secret", "hatchet-client-config")
    s.until(("Failed", "Degraded"), 60, operator)
    # Recovered.
    c.secret()
    s.until(("Current", "Healthy"), 60, operator)


def _wait_deployment_replicas(c: Cluster, name: str, n: int) -> None:
    wait_for(lambda: (c.get("deployment", name) or {})["spec"]["replicas"] == n, 20, f"Deployment replicas={n}")


def _scale(c: Cluster, name: str, n: int) -> None:
    c.k("patch", "hw", name, "--subresource=scale", "--type=merge", "-p", json.dumps({"spec": {"replicas": n}}))


def test_scale_subresource_is_not_a_rollout(operator: Operator, cluster: Cluster, judge: Judge) -> None:
    c = cluster
    c.secret()
    s = Sampler(c, judge, "sc")
    c.apply(worker_manifest("sc", replicas=2))
    s.until(("Current", "Healthy"), 90, operator)
    before = {e["metadata"]["uid"] for e in c.events("sc")}
    for n in (4, 1, 3):
        _scale(c, "sc", n)
        _wait_deployment_replicas(c, "sc", n)
        s.until(("Current", "Healthy"), 90, operator)
        hw = c.get("hatchetworker", "sc") or {}
        assert hw["status"]["replicas"] == n
    assert ("Failed", "Degraded") not in s.seen
    # Ready never flipped: no Ready/NotReady Event, and no DeploymentUpdated per step.
    time.sleep(2)  # Events are posted asynchronously; give the last ones time to land (not a timing assertion).
    new = [e["reason"] for e in c.events("sc") if e["metadata"]["uid"] not in before]
    assert not {"Ready", "NotReady", "DeploymentUpdated"} & set(new), new


def test_omitted_replicas_and_the_scale_subresource(
    operator: Operator, cluster: Cluster, judge: Judge, kube: ControlPlane
) -> None:
    """Omitted replicas: the operator leaves the Deployment's count alone (the apiserver defaults it to
    1, an autoscaler may own it on the Deployment), and the HatchetWorker's scale subresource has
    nothing to read (the apiserver answers an error). Setting spec.replicas hands the count to the
    scale subresource, which is then what an autoscaler on the HatchetWorker reads and writes."""
    c = cluster
    c.secret()
    manifest = worker_manifest("auto")
    del manifest["spec"]["replicas"]
    c.apply(manifest)
    s = Sampler(c, judge, "auto")
    s.until(("Current", "Healthy"), 90, operator)
    assert (c.get("deployment", "auto") or {})["spec"]["replicas"] == 1
    path = f"/apis/hatchetkube.io/v1alpha1/namespaces/{c.ns}/hatchetworkers/auto/scale"
    with pytest.raises(urllib.error.HTTPError) as err:
        kube.get_json(path)
    assert err.value.code == 500  # "the spec replicas field ... does not exist"
    # An autoscaler on the Deployment: the operator does not fight its count.
    c.k("scale", "deployment/auto", "--replicas=2")
    wait_for(lambda: (c.get("hatchetworker", "auto") or {})["status"].get("availableReplicas") == 2, 60, "2 pods")
    s.until(("Current", "Healthy"), 90, operator)
    assert (c.get("deployment", "auto") or {})["spec"]["replicas"] == 2
    # Set spec.replicas: from then on the scale subresource works and the operator owns the count.
    c.k("patch", "hw", "auto", "--type=merge", "-p", '{"spec": {"replicas": 2}}')
    scale = wait_for(lambda: kube.get_json(path), 20, "the scale subresource")
    assert scale["spec"]["replicas"] == 2
    _scale(c, "auto", 3)
    assert (c.get("hatchetworker", "auto") or {})["spec"]["replicas"] == 3
    wait_for(lambda: (c.get("deployment", "auto") or {})["spec"]["replicas"] == 3, 20, "Deployment replicas=3")
    s.until(("Current", "Healthy"), 90, operator)
    scale = kube.get_json(path)
    assert scale["spec"]["replicas"] == 3 and scale["status"]["replicas"] == 3
    assert len(c.list("pods", scale["status"]["selector"])) >= 3
