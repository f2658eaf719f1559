"""The main job: the operator, the example HatchetWorker and a workflow run, on a local cluster.

Three modes (``--mode``, or HATCHET_UP_MODE; default ``auto``):

kind (chosen by ``auto`` where a Docker daemon of this machine's own answers): the same steps as real-node
below, on a kind cluster created from kind-config.yaml with a node image built here (tests/harness/kind.py).

real-node (chosen by ``auto`` where there is no Docker daemon and this machine can run it: Linux, root, the
packages hack/bootstrap.sh installs; tests/harness/node.py says what is missing otherwise)
  1. build the operator and example-worker images (hack/build-images.sh, cached) while a real Hatchet
     engine on PostgreSQL starts on 127.0.0.1;
  2. start the real-node cluster (control plane + kubelet + containerd + CNI + kube-proxy + cluster DNS)
     and import the images into the node's containerd;
  3. make the engine a Service of the cluster (``hatchet-engine.hatchet``, whose endpoint is a relay on the
     node's bridge address), create the token Secret, ``helm install`` the operator chart;
  4. apply examples/hatchetworker.yaml: the kubelet starts its pods and runs their probes; Ready;
  5. trigger a run and show which pod executed each task (the engine's worker id of each task is the
     worker id the pod's own /health reports; no worker runs on this machine).

kwok (the fallback, or forced): the same control plane with simulated kwok nodes, which run no
containers; the operator runs as a local process and the pod's container is run here as a local process
with exactly the environment the operator rendered into the Deployment.

``--once`` stops after the run instead of waiting for Ctrl-C. Everything is torn down on exit, Ctrl-C or
SIGTERM included. ``<workdir>/summary.json`` records what was shown (mode, pods, which worker ran what).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from harness import kind, node  # noqa: E402
from harness.hatchet import HatchetEngine  # noqa: E402
from harness.helm import Helm  # noqa: E402
from harness.kube import ControlPlane  # noqa: E402
from harness.operator import operator_argv  # noqa: E402
from harness.proc import Proc, free_port, wait_for  # noqa: E402

NAMESPACE = "hatchet-demo"
ENGINE_NS = "hatchet"
OPERATOR_NS = "hatchet-system"
ENGINE_HOST = f"hatchet-engine.{ENGINE_NS}.svc.cluster.local"
WORKER = "example-worker"
HEALTH_PORT = 8001  # examples/hatchetworker.yaml healthCheck.port
MODES = ("auto", "kind", "real-node", "kwok")


def say(msg: str) -> None:
    print(f"\033[1m==> {msg}\033[0m", flush=True)


def choose_mode(requested: str, missing: Callable[[], str | None] = node.missing,
                docker: Callable[[], str | None] = kind.system_docker,
                kind_missing: Callable[[], str | None] | None = None) -> tuple[str, str]:
    """(mode, why): the mode to run and the reason, which is printed. ``auto``: kind where a Docker daemon
    of the machine's own answers (what a developer with Docker expects), else the real node, else kwok."""
    if requested not in MODES:
        raise SystemExit(f"unsupported mode {requested!r} (HATCHET_UP_MODE / --mode: {', '.join(MODES)})")
    if kind_missing is None:
        from e2e_clusters import KindCluster

        kind_missing = KindCluster.missing
    if requested == "kind" or (requested == "auto" and docker() is None):
        if (why_kind := kind_missing()) is None:
            return "kind", ("kind mode was asked for" if requested == "kind" else
                            "a Docker daemon answers here: a kind cluster in it, node image built locally")
        if requested == "kind":
            raise SystemExit(f"--mode kind: kind cannot run here: {why_kind}")
    why = "not Linux" if sys.platform != "linux" else missing()
    if requested == "kwok":
        return "kwok", "kwok mode was asked for (--mode kwok or HATCHET_UP_MODE=kwok)"
    if requested == "real-node":
        if why:
            raise SystemExit(f"--mode real-node: the real node cannot run here: {why}")
        return "real-node", "real-node mode was asked for"
    if why:
        return "kwok", f"the real node cannot run here ({why}); falling back to kwok (simulated nodes)"
    return "real-node", "this machine can run a real node (root, Linux, containerd, runc, CNI, iptables)"


class Relay:
    """TCP relays from one address (the node's bridge gateway) to ports on 127.0.0.1, on a thread of
    their own: pods cannot reach 127.0.0.1 of this machine, where the harness engine listens."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.loop = asyncio.new_event_loop()
        self.servers: list[asyncio.Server] = []
        self.conns: set[asyncio.Task[Any]] = set()
        threading.Thread(target=self.loop.run_forever, daemon=True, name="engine-relay").start()

    def add(self, target_port: int) -> int:
        """Listen on a free port of ``host``; return it."""
        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            with contextlib.suppress(Exception):
                writer.close()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self.conns.add(task)
            try:
                ur, uw = await asyncio.open_connection("127.0.0.1", target_port)
                await asyncio.gather(pipe(reader, uw), pipe(ur, writer))
            except OSError:
                writer.close()
            finally:
                self.conns.discard(task)

        async def listen() -> int:
            srv = await asyncio.start_server(handle, self.host, 0)
            self.servers.append(srv)
            return int(srv.sockets[0].getsockname()[1])

        return asyncio.run_coroutine_threadsafe(listen(), self.loop).result(10)

    def stop(self) -> None:
        async def close() -> None:
            for srv in self.servers:
                srv.close()
            for task in list(self.conns):
                task.cancel()
            await asyncio.gather(*self.conns, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def trigger_and_trace(hatchet: HatchetEngine, client_env: dict[str, str]) -> dict[str, Any]:
    """Trigger the example's ``pipeline`` workflow from this process; its result and, per task, the
    engine's id of the worker that executed it."""
    os.environ.update(client_env)  # the example module builds its client from the environment
    spec = importlib.util.spec_from_file_location("example_worker", ROOT / "examples" / "worker" / "worker.py")
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    ref = example.pipeline.run_no_wait({"numbers": [1, 2, 3, 4]})
    result = ref.result(timeout=120)
    print(json.dumps(result), flush=True)
    if result.get("mean") != {"mean": 2.5}:
        raise SystemExit(f"the triggered run did not complete as expected: {result}")
    run_id = ref.workflow_run_id

    def traced() -> list[dict[str, Any]] | None:
        # The REST view lags the result (it is built from the engine's OLAP tables): poll until every task
        # of the run's shape has its FINISHED event, which names the worker that ran it.
        details = hatchet.rest("GET", f"/api/v1/stable/workflow-runs/{run_id}")
        tasks = []
        for step in details.get("shape") or []:
            events = [e for e in details.get("taskEvents") or [] if e.get("taskId") == step["taskExternalId"]]
            finished = [e for e in events if e.get("eventType") == "FINISHED"]
            if not finished:
                return None
            tasks.append({"task": step["taskName"], "status": "COMPLETED", "worker_id": finished[0].get("workerId"),
                          "started": sum(e.get("eventType") == "STARTED" for e in events)})
        return tasks or None

    tasks = wait_for(traced, 60, f"the engine's record of run {run_id}", interval=0.5)
    return {"run_id": run_id, "result": result, "tasks": tasks}


def show_executors(run: dict[str, Any], where: dict[str, str]) -> None:
    """Print who ran each task; fail when a task's worker is not one of ``where`` (worker id -> place)."""
    for t in run["tasks"]:
        place = where.get(t["worker_id"] or "")
        print(f"  task {t['task']:<24} {t['status']:<10} worker {t['worker_id']}  -> {place or 'UNKNOWN'}",
              flush=True)
        if place is None:
            raise SystemExit(f"task {t['task']} ran on worker {t['worker_id']}, which is none of {where}")


def install_token_secret(kubectl: Callable[..., Any], namespace: str, token: str) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hatchet-client-config"},
              "stringData": {"HATCHET_CLIENT_TOKEN": token}}
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(secret))


def hatchetworker_ready(kubectl: Callable[..., Any]) -> bool:
    print(kubectl("get", "hatchetworkers", "-n", NAMESPACE).stdout.rstrip(), flush=True)
    hw = json.loads(kubectl("get", "hatchetworker", WORKER, "-n", NAMESPACE, "-o", "json").stdout)
    conds = {c["type"]: c["status"] for c in hw.get("status", {}).get("conditions", [])}
    return conds.get("Ready") == "True"


# ---- kwok mode -------------------------------------------------------------------------------------
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


def run_kwok(work: Path, cleanups: list[Callable[[], object]], summary: dict[str, Any]) -> str:
    t0 = time.monotonic()
    say(f"starting the control plane (kwok nodes) and the Hatchet engine (state and logs in {work})")
    kube = ControlPlane(work / "kube")
    cleanups.append(kube.stop)
    hatchet = HatchetEngine(work / "hatchet")
    cleanups.append(hatchet.stop)
    kube.start()
    hatchet.start()
    say(f"stack up in {time.monotonic() - t0:.1f}s: kube-apiserver {kube.server}, "
        f"Hatchet gRPC {hatchet.grpc_address}, REST {hatchet.rest_url}")

    say("installing the HatchetWorker CRD and the token Secret")
    kube.kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
    kube.wait_established("hatchetworkers.hatchetkube.io")
    kube.create_namespace(NAMESPACE)
    install_token_secret(kube.kubectl, NAMESPACE, hatchet.token)

    say("running the operator as a local process")
    argv = operator_argv(kube.kubeconfig, free_port(), free_port())
    operator = Proc("hatchet-operator", [*argv, f"--leader-election-namespace={NAMESPACE}"],
                    work / "logs" / "operator.log").start()
    cleanups.append(operator.stop)

    say("applying examples/hatchetworker.yaml (pointed at the local engine)")
    kube.kubectl("apply", "-n", NAMESPACE, "-f", str(ROOT / "examples" / "hatchetworker.yaml"))
    # The local engine is reachable at these addresses (the token's claims say the same).
    patch = {"spec": {"hatchet": {"hostPort": hatchet.grpc_address, "serverUrl": hatchet.rest_url}}}
    kube.kubectl("patch", "hatchetworker", WORKER, "-n", NAMESPACE, "--type=merge", "-p", json.dumps(patch))
    wait_for(lambda: hatchetworker_ready(kube.kubectl), 120, "HatchetWorker example-worker Ready", interval=1.0,
             procs=[operator])
    print(kube.kubectl("get", "deploy,pods", "-n", NAMESPACE, "-o", "wide").stdout, flush=True)

    say("kwok pods run no containers: running the pod's container here, with the environment the operator "
        "rendered")
    deploy = json.loads(kube.kubectl("get", "deploy", WORKER, "-n", NAMESPACE, "-o", "json").stdout)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HATCHET_")}, **pod_env(kube, deploy)}
    health_port = free_port()
    env["HATCHET_CLIENT_WORKER_HEALTHCHECK_BIND_ADDRESS"] = "127.0.0.1"
    env["HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT"] = str(health_port)
    shown = {k: ("<from Secret>" if k == "HATCHET_CLIENT_TOKEN" else v) for k, v in env.items()
             if k.startswith("HATCHET_")}
    print(json.dumps(shown, indent=2), flush=True)
    worker = Proc(WORKER, [sys.executable, str(ROOT / "examples" / "worker" / "worker.py")],
                  work / "logs" / "example-worker.log", env=env).start()
    cleanups.append(worker.stop)
    info = hatchet.wait_for_worker(env.get("HATCHET_CLIENT_WORKER_NAME", WORKER), 60, [worker])
    say(f"worker {info['name']} is ACTIVE at the engine with labels "
        f"{ {lbl['key']: lbl['value'] for lbl in info.get('labels') or []} }")
    local_id = wait_for(lambda: health(f"127.0.0.1:{health_port}").get("worker_id"), 30,
                        "the local worker's id on its /health", procs=[worker])

    say("triggering the `pipeline` workflow and waiting for its result")
    run = trigger_and_trace(hatchet, hatchet.client_env())
    where = {local_id: f"local process pid {worker.pid}"}
    show_executors(run, where)
    summary.update(run=run, executors=where)
    return f"KUBECONFIG={kube.kubeconfig}"


def health(address: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"http://{address}/health", timeout=3) as r:
            return dict(json.load(r))
    except OSError:
        return {}


# ---- kind and real-node modes ---------------------------------------------------------------------
def build_images(work: Path) -> subprocess.Popen[str]:
    """hack/build-images.sh in the background (cached: seconds when nothing changed)."""
    log = (work / "logs" / "build-images.log").open("w")
    return subprocess.Popen(["bash", str(ROOT / "hack" / "build-images.sh"), "operator", "example-worker",
                             "pause"], stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)


def engine_service(cluster: Any, relay: Relay, hatchet: HatchetEngine) -> None:
    """A Service ``hatchet-engine`` (gRPC 7070, REST 8888) whose endpoint is the relay to the harness engine."""
    gateway = relay.host
    grpc, rest = relay.add(hatchet.grpc_port), relay.add(hatchet.api_port)
    cluster.kubectl("create", "namespace", ENGINE_NS)
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hatchet-engine"},
           "spec": {"ports": [{"name": "grpc", "port": 7070, "targetPort": grpc},
                              {"name": "rest", "port": 8888, "targetPort": rest}]}}
    slice_ = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
              "metadata": {"name": "hatchet-engine", "labels": {"kubernetes.io/service-name": "hatchet-engine"}},
              "addressType": "IPv4", "endpoints": [{"addresses": [gateway], "conditions": {"ready": True}}],
              "ports": [{"name": "grpc", "port": grpc, "protocol": "TCP"},
                        {"name": "rest", "port": rest, "protocol": "TCP"}]}
    for doc in (svc, slice_):
        cluster.kubectl("apply", "-n", ENGINE_NS, "-f", "-", input=json.dumps(doc))


def pod_health(cluster: Any, pod: str) -> dict[str, Any]:
    """The pod's own /health, through the apiserver's pod proxy (kind's pod IPs are not routed to this host)."""
    cp = cluster.kubectl("get", "--raw", f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}:{HEALTH_PORT}/proxy/health",
                         check=False, timeout=15)
    try:
        return dict(json.loads(cp.stdout)) if cp.returncode == 0 else {}
    except ValueError:
        return {}


def worker_pods(cluster: Any) -> list[dict[str, Any]]:
    pods = json.loads(cluster.kubectl("get", "pods", "-n", NAMESPACE, "-l", f"app.kubernetes.io/instance={WORKER}",
                                      "-o", "json").stdout)["items"]
    out = []
    for p in pods:
        st = p.get("status", {})
        conds = {c["type"]: c["status"] for c in st.get("conditions", [])}
        cs = (st.get("containerStatuses") or [{}])[0]
        ip = st.get("podIP")
        out.append({"name": p["metadata"]["name"], "ip": ip, "node": p["spec"].get("nodeName"),
                    "phase": st.get("phase"), "ready": conds.get("Ready") == "True",
                    "started": bool(cs.get("started")), "restarts": cs.get("restartCount", 0),
                    "worker_id": pod_health(cluster, p["metadata"]["name"]).get("worker_id") if ip else None})
        if cs.get("restartCount"):  # why the kubelet restarted it: the exit, the events, the last words
            prev = cluster.kubectl("logs", "-n", NAMESPACE, p["metadata"]["name"], "--previous", "--tail=40",
                                   check=False).stdout
            events = cluster.kubectl("get", "events", "-n", NAMESPACE, "--field-selector",
                                     f"involvedObject.name={p['metadata']['name']}", "-o",
                                     "custom-columns=T:.lastTimestamp,R:.reason,M:.message", check=False).stdout
            out[-1].update(last_state=cs.get("lastState"), events=events, previous_log=prev)
    return out


def cluster_dir(work: Path) -> Path:
    """``<work>/cluster``, or a short directory it links to: containerd's sockets live under it and a unix
    socket path may not exceed 104 bytes."""
    path = work / "cluster"
    if len(str(path.resolve() / "node" / "containerd" / "containerd.sock.ttrpc")) <= 100:
        return path
    short = Path(tempfile.mkdtemp(prefix="hatchet-up-"))
    path.unlink(missing_ok=True)
    path.symlink_to(short)
    return short


def quiesce(cluster: Any) -> None:
    """Before the node's teardown deletes every pod: stop the operator, then delete the HatchetWorker.
    Otherwise a still running operator re-creates the worker Deployment the teardown just deleted, its
    new pods start, and the teardown waits out its deadlines for them (about a minute)."""
    cluster.kubectl("scale", "deployment", "--all", "-n", OPERATOR_NS, "--replicas=0", check=False, timeout=30)
    cluster.kubectl("wait", "--for=delete", "pods", "--all", "-n", OPERATOR_NS, "--timeout=30s", check=False,
                    timeout=40)
    cluster.kubectl("delete", "hatchetworkers", "--all", "-A", "--wait=false", check=False, timeout=30)


def run_cluster(mode: str, work: Path, cleanups: list[Callable[[], object]], summary: dict[str, Any]) -> str:
    """kind or the real node: both run the pods in real containers; the engine runs on this machine."""
    from e2e_clusters import KindCluster, RealNodeCluster

    t0 = time.monotonic()
    (work / "logs").mkdir(parents=True, exist_ok=True)
    say(f"building the operator and example-worker images (cached) and starting the Hatchet engine "
        f"(state and logs in {work})")
    build = build_images(work)
    cleanups.append(lambda: build.poll() is None and os.killpg(build.pid, signal.SIGTERM))
    hatchet = HatchetEngine(work / "hatchet")
    cleanups.append(hatchet.stop)
    hatchet.start()
    out, _ = build.communicate(timeout=3600)
    if build.returncode != 0:
        raise SystemExit(f"hack/build-images.sh failed (exit {build.returncode}); see {work}/logs/build-images.log "
                         "(or run with --mode kwok)")
    images = {line.split()[0].split("/")[-1].split(":")[0]: line.split() for line in out.splitlines()}
    say(f"images ready and engine up in {time.monotonic() - t0:.1f}s: "
        + ", ".join(ref for ref, _, _ in images.values()))

    if mode == "kind":
        say("creating a kind cluster from kind-config.yaml (node image built here: nothing is pulled)")
        cluster: KindCluster | RealNodeCluster = KindCluster(cluster_dir(work))
    else:
        say("starting the real-node cluster: control plane + kubelet + containerd + CNI + kube-proxy + DNS "
            "(one per machine: waits while another run holds it)")
        cluster = RealNodeCluster(cluster_dir(work))
    cleanups.append(cluster.delete)
    cluster.create()
    for name in ("operator", "example-worker"):
        cluster.load_image(Path(images[name][1]))
    say(f"cluster Ready in {cluster.create_seconds:.1f}s; pods reach this machine at {cluster.host_address()}; "
        "images imported into its nodes' containerd")
    print(cluster.kubectl("get", "nodes", "-o", "wide").stdout, flush=True)

    relay = Relay(cluster.host_address())
    # Stopped after the cluster (cleanups run in reverse): pods keep reaching the engine while they drain.
    cleanups.insert(cleanups.index(cluster.delete), relay.stop)
    engine_service(cluster, relay, hatchet)
    cluster.kubectl("create", "namespace", NAMESPACE)
    install_token_secret(cluster.kubectl, NAMESPACE, hatchet.token)
    say(f"the engine is the Service {ENGINE_HOST} (gRPC 7070, REST 8888); token Secret created")

    say("helm install the operator chart (the operator runs in a pod)")
    repo, tag = images["operator"][0].rsplit(":", 1)
    Helm(work, cluster.kubeconfig).run(
        "install", "hatchet-operator", str(ROOT / "charts" / "hatchet-operator"), "--namespace", OPERATOR_NS,
        "--create-namespace", "--set", f"image.repository={repo}", "--set", f"image.tag={tag}",
        "--wait", "--timeout", "180s", timeout=240)
    print(cluster.kubectl("get", "pods", "-n", OPERATOR_NS, "-o", "wide").stdout, flush=True)
    cleanups.append(lambda: quiesce(cluster))

    say("applying examples/hatchetworker.yaml (image from the build, engine at its Service)")
    import yaml

    doc = yaml.safe_load((ROOT / "examples" / "hatchetworker.yaml").read_text())
    doc["spec"]["image"] = images["example-worker"][0]
    doc["spec"]["hatchet"].update({"hostPort": f"{ENGINE_HOST}:7070", "serverUrl": f"http://{ENGINE_HOST}:8888"})
    cluster.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(doc))
    wait_for(lambda: hatchetworker_ready(cluster.kubectl), 300, "HatchetWorker example-worker Ready (pods started "
             "by the kubelet, probes passing)", interval=2.0)

    def registered() -> list[dict[str, Any]] | None:
        pods = worker_pods(cluster)
        active = {w["metadata"]["id"] for w in hatchet.workers("ACTIVE")}
        ok = len(pods) == doc["spec"]["replicas"] and all(p["ready"] and p["worker_id"] in active for p in pods)
        return pods if ok else None

    pods = wait_for(registered, 120, "every pod's worker ACTIVE at the engine", interval=1.0)
    print(cluster.kubectl("get", "deploy,pods", "-n", NAMESPACE, "-o", "wide").stdout, flush=True)
    probes = doc["spec"].get("healthCheck", {})
    say(f"pods started by the kubelet; startup, readiness and liveness probes on :{probes.get('port')} pass:")
    for p in pods:
        print(f"  pod {p['name']:<36} {p['ip']:<12} node {p['node']}  started={p['started']} ready={p['ready']} "
              f"restarts={p['restarts']}  engine worker id {p['worker_id']}", flush=True)

    say("triggering the `pipeline` workflow from this machine (no worker runs here) and waiting for its result")
    run = trigger_and_trace(hatchet, hatchet.client_env())
    where = {p["worker_id"]: f"pod {p['name']} ({p['ip']})" for p in pods}
    show_executors(run, where)
    for p in pods:  # the pods' own logs, kept after the teardown
        (work / "logs" / f"pod-{p['name']}.log").write_text(
            cluster.kubectl("logs", "-n", NAMESPACE, p["name"], check=False).stdout)
    summary.update(run=run, executors=where, pods=pods)
    return f"KUBECONFIG={cluster.kubeconfig}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--once", action="store_true", help="stop after convergence and one run")
    ap.add_argument("--workdir", type=Path, help="where state and logs go (default: a new temp dir)")
    ap.add_argument("--mode", default=os.environ.get("HATCHET_UP_MODE", "auto"),
                    help=f"{' | '.join(MODES)} (default: $HATCHET_UP_MODE, else auto)")
    args = ap.parse_args()
    mode, why = choose_mode(args.mode)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="hatchet-kube-up-"))
    work.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"mode": mode, "why": why}
    say(f"mode {mode}: {why}")

    def interrupted(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    # SIGTERM tears down like Ctrl-C does; SIGINT explicitly too, since a shell starting this in the
    # background makes Python ignore SIGINT, and Ctrl-C must never leave the real node behind.
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    cleanups: list[Callable[[], object]] = []
    t0 = time.monotonic()
    try:
        where = (run_kwok(work, cleanups, summary) if mode == "kwok" else
                 run_cluster(mode, work, cleanups, summary))
        summary["seconds"] = round(time.monotonic() - t0, 1)
        (work / "summary.json").write_text(json.dumps(summary, indent=2))
        say(f"converged in {time.monotonic() - t0:.1f}s ({mode}). {where}")
        if args.once:
            return 0
        say("Ctrl-C to stop everything")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
        return 0
    finally:
        # A second Ctrl-C must not cut the teardown short (the real node leaves host state behind).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        say("tearing down")
        t1 = time.monotonic()
        for cleanup in reversed(cleanups):
            try:
                cleanup()
            except Exception as exc:  # one failed step must not skip the others
                print(f"teardown step failed: {exc!r}", file=sys.stderr, flush=True)
        say(f"torn down in {time.monotonic() - t1:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
