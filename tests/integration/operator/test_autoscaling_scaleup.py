"""The operator, with spec.autoscaling, reads the real engine, reports its decision in
status.autoscaling and scales the Deployment up to it (the scale-down, which needs pods that run
workers, is proven on the real node: tests/e2e/test_e2e_autoscaling.py).

The HatchetWorker's "pod" is a real worker process on this machine (kwok pods run nothing),
labelled with the HatchetWorker's name as the operator's own pods would be."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from conftest import Cluster, Operator, worker_manifest

from harness.hatchet import HatchetEngine
from harness.proc import wait_for
from hatchet_worker import ClientConfig, ClientTLSConfig, Hatchet

APP = Path(__file__).resolve().parents[1] / "sdk" / "apps" / "app.py"


def _start_worker(hatchet: HatchetEngine, namespace: str, owner: str, kube_ns: str,
                  log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HATCHET_CLIENT_", "APP_"))}
    env.update(hatchet.client_env())
    env.update(
        {
            "HATCHET_CLIENT_NAMESPACE": namespace,
            "HATCHET_CLIENT_WORKER_SLOTS": "2",
            "HATCHET_CLIENT_WORKER_PRESET_LABELS": json.dumps(
                {"hatchetworker": owner, "hatchetworker-namespace": kube_ns}),
            "APP_MARKERS": str(log.parent),
        }
    )
    return subprocess.Popen(
        [sys.executable, str(APP)], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=str(APP.parent)
    )


def test_queued_work_scales_the_deployment_up(
    operator: Operator, cluster: Cluster, hatchet: HatchetEngine, tmp_path: Path
) -> None:
    c = cluster
    hns = f"t{uuid.uuid4().hex[:10]}"
    c.secret(data={"HATCHET_CLIENT_TOKEN": base64.b64encode(hatchet.token.encode()).decode()})
    manifest = worker_manifest(
        "scaled",
        slots=2,
        hatchet={"serverUrl": hatchet.rest_url},
        autoscaling={"minReplicas": 0, "maxReplicas": 10, "targetSlotUtilizationPercent": 100},
    )
    del manifest["spec"]["replicas"]
    proc = _start_worker(hatchet, hns, "scaled", c.ns, tmp_path / "worker.log")
    client = Hatchet(
        config=ClientConfig(
            token=hatchet.token,
            host_port=hatchet.grpc_address,
            server_url=hatchet.rest_url,
            namespace=hns,
            tls_config=ClientTLSConfig(strategy="none"),
        )
    )
    refs: list[Any] = []
    try:
        c.apply(manifest)

        def autoscaling() -> dict[str, Any]:
            return ((c.get("hatchetworker", "scaled") or {}).get("status") or {}).get("autoscaling") or {}

        # The worker registers; the operator sees it idle: nothing to do.
        idle = wait_for(
            lambda: (s := autoscaling()).get("workers") == 1 and s,
            90,
            "one idle worker in the status",
            procs=(operator.proc,),
        )
        assert idle["metricsAvailable"] is True and idle["queued"] == 0 and idle["slotsPerWorker"] == 2
        assert f"{hns}_sleepy:sleepy" in idle["actions"]

        from hatchet_worker.workflow import Standalone

        wf: Standalone[Any, Any] = Standalone(client, name="sleepy")
        sleepy = wf._bind(wf.task(name="sleepy")(lambda i, ctx: None))
        refs = [sleepy.run_no_wait({"seconds": 90}) for _ in range(7)]  # 2 run, 5 queue, for long enough

        busy = wait_for(
            lambda: (s := autoscaling()).get("queued") == 5 and s.get("running") == 2 and s,
            90,
            "2 running and 5 queued in the status",
            procs=(operator.proc,),
        )
        # ceil(7 tasks / 2 slots at 100 %) = 4, scaled from the one pod.
        assert busy["desiredReplicas"] == 4 and busy["busyWorkers"] == 1, busy
        header = c.k("get", "hw", "scaled").stdout.splitlines()[0]
        assert "AUTOSCALED" in header
        # The count is written to the Deployment through its scale subresource, and announced.
        wait_for(lambda: (c.get("deployment", "scaled") or {})["spec"]["replicas"] == 4, 30,
                 "the Deployment at 4 replicas", procs=(operator.proc,))
        events = json.loads(c.k("get", "events", "--field-selector", "involvedObject.name=scaled,reason=ScaledUp",
                                "-o", "json").stdout)["items"]
        assert any("scaled up 1 -> 4" in e["message"] for e in events), [e["message"] for e in events]
        # The operator's server-side apply leaves the count out, so its applies never reset it.
        dep = json.loads(c.k("get", "deployment", "scaled", "-o", "json", "--show-managed-fields").stdout)
        [own] = [m for m in dep["metadata"]["managedFields"] if m["manager"] == "hatchet-operator"]
        assert "f:replicas" not in own["fieldsV1"]["f:spec"], own
    finally:
        for r in refs:
            client.runs.cancel(r.workflow_run_id)
        proc.terminate()  # it drains: the cancels above reach it asynchronously
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
