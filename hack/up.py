"""The main job on the embedded default stack.

1. Start a real control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok nodes) and
   a real Hatchet engine on PostgreSQL, all on 127.0.0.1 (the test harness's own peers).
2. Install the CRD, create the token Secret, run the operator.
3. Apply examples/hatchetworker.yaml and show the HatchetWorker converging to Ready.
4. kwok pods run no containers, so the pod's container is also run here as a local process, with
   exactly the environment the operator rendered into the Deployment (Secret references resolved):
   the worker registers at the engine, and a triggered run completes.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from harness.hatchet import HatchetEngine  # noqa: E402
from harness.kube import ControlPlane  # noqa: E402
from harness.proc import Proc, free_port, wait_for  # noqa: E402

NAMESPACE = "hatchet-demo"


def say(msg: str) -> None:
    print(f"\033[1m==> {msg}\033[0m", flush=True)


def pod_env(kube: ControlPlane, deployment: dict[str, Any]) -> dict[str, str]:
    """The container's environment as the kubelet would build it (values and secretKeyRefs)."""
    env: dict[str, str] = {}
    for var in deployment["spec"]["template"]["spec"]["containers"][0].get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        elif "secretKeyRef" in var.get("valueFrom", {}):
            ref = var["valueFrom"]["secretKeyRef"]
            out = kube.kubectl(
                "get", "secret", ref["name"], "-n", NAMESPACE, "-o", f"jsonpath={{.data.{ref['key']}}}"
            ).stdout
            env[var["name"]] = base64.b64decode(out).decode()
        elif "fieldRef" in var.get("valueFrom", {}):
            path = var["valueFrom"]["fieldRef"]["fieldPath"]
            env[var["name"]] = {"metadata.namespace": NAMESPACE}.get(path, "local-" + path.split(".")[-1])
    return env


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--once", action="store_true", help="stop after convergence and one run")
    ap.add_argument("--workdir", type=Path, help="where state and logs go (default: a new temp dir)")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="hatchet-kube-up-"))
    work.mkdir(parents=True, exist_ok=True)
    procs: list[Any] = []
    t0 = time.monotonic()
    try:
        say(f"starting the control plane and the Hatchet engine (state and logs in {work})")
        kube = ControlPlane(work / "kube")
        procs.append(kube)
        hatchet = HatchetEngine(work / "hatchet")
        procs.append(hatchet)
        kube.start()
        hatchet.start()
        say(f"stack up in {time.monotonic() - t0:.1f}s: kube-apiserver {kube.server}, "
            f"Hatchet gRPC {hatchet.grpc_address}, REST {hatchet.rest_url}")

        say("installing the HatchetWorker CRD and the token Secret")
        kube.kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
        kube.kubectl("wait", "--for=condition=Established", "crd/hatchetworkers.hatchetkube.io", "--timeout=60s")
        kube.create_namespace(NAMESPACE)
        secret = {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hatchet-client-config"},
            "stringData": {"HATCHET_CLIENT_TOKEN": hatchet.token},
        }
        kube.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(secret))

        say("running the operator")
        metrics_port = free_port()
        operator = Proc("hatchet-operator", [
            sys.executable, "-m", "hatchet_operator", "run", f"--kubeconfig={kube.kubeconfig}",
            f"--metrics-port={metrics_port}", f"--health-port={free_port()}", "--bind-address=127.0.0.1",
            f"--leader-election-namespace={NAMESPACE}",
        ], work / "logs" / "operator.log").start()
        procs.append(operator)

        say("applying examples/hatchetworker.yaml (pointed at the local engine)")
        manifest = (ROOT / "examples" / "hatchetworker.yaml").read_text()
        kube.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=manifest)
        # The local engine is reachable at these addresses (the token's claims say the same).
        patch = {"spec": {"hatchet": {"hostPort": hatchet.grpc_address, "serverUrl": hatchet.rest_url}}}
        kube.kubectl("patch", "hatchetworker", "example-worker", "-n", NAMESPACE, "--type=merge",
                     "-p", json.dumps(patch))

        def ready() -> bool:
            print(kube.kubectl("get", "hatchetworkers", "-n", NAMESPACE).stdout.rstrip(), flush=True)
            hw = json.loads(kube.kubectl("get", "hatchetworker", "example-worker", "-n", NAMESPACE,
                                         "-o", "json").stdout)
            conds = {c["type"]: c["status"] for c in hw.get("status", {}).get("conditions", [])}
            return conds.get("Ready") == "True"

        wait_for(ready, 120, "HatchetWorker example-worker Ready", interval=1.0, procs=[operator])
        print(kube.kubectl("get", "deploy,pods", "-n", NAMESPACE, "-o", "wide").stdout, flush=True)

        say("running the pod's container locally with the environment the operator rendered")
        deploy = json.loads(kube.kubectl("get", "deploy", "example-worker", "-n", NAMESPACE, "-o", "json").stdout)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("HATCHET_")}, **pod_env(kube, deploy)}
        env["HATCHET_CLIENT_WORKER_HEALTHCHECK_BIND_ADDRESS"] = "127.0.0.1"
        env["HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT"] = str(free_port())
        shown = {k: ("<from Secret>" if k == "HATCHET_CLIENT_TOKEN" else v) for k, v in env.items()
                 if k.startswith("HATCHET_")}
        print(json.dumps(shown, indent=2), flush=True)
        worker = Proc("example-worker", [sys.executable, str(ROOT / "examples" / "worker" / "worker.py")],
                      work / "logs" / "example-worker.log", env=env).start()
        procs.append(worker)
        info = hatchet.wait_for_worker(env.get("HATCHET_CLIENT_WORKER_NAME", "example-worker"), 60, [worker])
        say(f"worker {info['name']} is ACTIVE at the engine with labels "
            f"{ {lbl['key']: lbl['value'] for lbl in info.get('labels') or []} }")

        say("triggering the `pipeline` workflow and waiting for its result")
        out = Proc("trigger", [sys.executable, str(ROOT / "examples" / "worker" / "worker.py"), "trigger",
                               "pipeline", '{"numbers": [1, 2, 3, 4]}'], work / "logs" / "trigger.log",
                   env=env).start()
        assert out.popen is not None
        rc = out.popen.wait(120)
        result = out.tail(1)
        print(result, flush=True)
        if rc != 0 or json.loads(result).get("mean") != {"mean": 2.5}:
            raise SystemExit(f"the triggered run did not complete as expected (exit {rc})")
        say(f"converged in {time.monotonic() - t0:.1f}s. KUBECONFIG={kube.kubeconfig}")
        if args.once:
            return 0
        say("Ctrl-C to stop everything")
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    finally:
        for p in reversed(procs):
            p.stop()


if __name__ == "__main__":
    sys.exit(main())
