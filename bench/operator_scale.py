"""Operator scale benchmark: HatchetWorkers against direct Deployments, on the real control plane.

Starts the test harness's control plane (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, kwok nodes) and the operator as a subprocess (`python -m hatchet_operator run`), then
measures, side by side in one run:

1. creation throughput: N Deployments POSTed directly against N HatchetWorkers POSTed until all N
   Deployments exist (seen through a watch), with the same client concurrency;
2. spec change to Deployment: M sequential patches of one HatchetWorker's slots, each until the
   Deployment carries the new value (seen through a watch);
3. idle writes to Deployments and HatchetWorkers, with the fleet settled and across a restart of the
   operator over the N existing HatchetWorkers (from the apiserver's own request counters);
4. the operator's resident memory, idle and with N HatchetWorkers (plus N unrelated Deployments).

Optionally also creation with `replicas: 1` (`--replicas-1`) and the operator path's requests timed
one kind at a time without the operator (`--breakdown`). Prints a table with pass/miss against the
targets and the CPU each process spent while creating, and optionally writes JSON; it never asserts.

    .venv/bin/python bench/operator_scale.py [--workers N] [--patches M] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import math
import os
import re
import shutil
import ssl
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from harness.kube import ControlPlane  # noqa: E402
from harness.operator import operator_argv  # noqa: E402
from harness.proc import Proc, free_port, wait_for  # noqa: E402
from hatchet_operator import render, status  # noqa: E402
from hatchet_operator.api import v1alpha1 as api  # noqa: E402

CRD = REPO / "crds" / "hatchetkube.io_hatchetworkers.yaml"
IMAGE = "hatchet-kube/worker:bench"
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"})
# The kinds the operator writes: idle writes are counted on these.
OWNED = frozenset({"deployments", "hatchetworkers"})
# Writes to these mean a controller is still working through a burst.
BUSY = frozenset({"deployments", "replicasets", "pods", "hatchetworkers", "events"})
CLK_TCK = os.sysconf("SC_CLK_TCK")
# kwok nodes accept 110 pods each; the replicas-1 variant needs room for two fleets of pods.
PODS_PER_NODE = 100

# Creation through the operator vs the same requests (create, apply, one status write) sent directly.
TARGET_OVERHEAD = 1.15
TARGET_RATIO = 0.5
TARGET_P99 = 1.0
TARGET_RSS_MB = 150.0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---- objects ---------------------------------------------------------------------------------------


def worker_manifest(namespace: str, name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"image": IMAGE, "replicas": replicas, "slots": 5},
    }


def direct_deployment(namespace: str, name: str, replicas: int) -> dict[str, Any]:
    """What the operator renders for the same HatchetWorker (minus the ownerReference: there is no owner),
    labelled as not managed so that the operator's label-selected watch never sees it."""
    worker = api.HatchetWorker.model_validate(worker_manifest(namespace, name, replicas))
    body: dict[str, Any] = render.render_deployment(worker)
    for labels in (body["metadata"]["labels"], body["spec"]["template"]["metadata"]["labels"]):
        labels[render.LABEL_MANAGED_BY] = "bench"
    return body


def deployments_path(namespace: str) -> str:
    return f"/apis/apps/v1/namespaces/{namespace}/deployments"


def workers_path(namespace: str, name: str = "") -> str:
    base = f"/apis/{api.GROUP}/{api.VERSION}/namespaces/{namespace}/{api.PLURAL}"
    return f"{base}/{name}" if name else base


def slots_of(deployment: dict[str, Any]) -> str | None:
    containers = deployment.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or [{}]
    for var in containers[0].get("env") or []:
        if var.get("name") == "HATCHET_CLIENT_WORKER_SLOTS":
            return str(var.get("value"))
    return None


# ---- the apiserver ---------------------------------------------------------------------------------


class Api:
    """The apiserver as the admin user over one keep-alive connection pool, shared by load and watches."""

    def __init__(self, kube: ControlPlane, connections: int) -> None:
        ctx = ssl.create_default_context(cafile=str(kube.ca_path))
        ctx.load_cert_chain(str(kube.pki_dir / "admin.crt"), str(kube.pki_dir / "admin.key"))
        self.server = kube.server
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ctx, limit=connections),
            timeout=aiohttp.ClientTimeout(total=60),
            # Watch events arrive as one JSON line each; the default line limit is 64 KB.
            read_bufsize=1 << 20,
        )

    async def close(self) -> None:
        await self.session.close()

    async def call(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        headers = {"Content-Type": content_type} if body is not None else None
        full = url if url.startswith("http") else self.server + url
        async with self.session.request(method, full, data=body, params=params, headers=headers) as r:
            return r.status, await r.read()

    async def json(self, method: str, url: str, body: Any = None, **kw: Any) -> Any:
        data = None if body is None else json.dumps(body).encode()
        status, text = await self.call(method, url, data, **kw)
        if status >= 300:
            raise RuntimeError(f"{method} {url}: {status} {text[:300]!r}")
        return json.loads(text)

    async def requests(self) -> Counter[tuple[str, str, str]]:
        """apiserver_request_total from the apiserver's /metrics, by (resource, subresource, verb)."""
        status, text = await self.call("GET", "/metrics")
        if status != 200:
            raise RuntimeError(f"apiserver /metrics: {status}")
        return parse_requests(text.decode())

    async def names(self, path: str, deadline: float) -> set[str]:
        """Names of the objects at ``path`` by paginated LIST (bounded by ``deadline``)."""
        out: set[str] = set()
        params = {"limit": "500"}
        while time.perf_counter() < deadline:
            page = await self.json("GET", path, params=params)
            out.update(item["metadata"]["name"] for item in page["items"])
            token = page["metadata"].get("continue")
            if not token:
                break
            params["continue"] = token
        return out


_REQUESTS = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)", re.M)
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_requests(text: str) -> Counter[tuple[str, str, str]]:
    out: Counter[tuple[str, str, str]] = Counter()
    for m in _REQUESTS.finditer(text):
        labels = dict(_LABEL.findall(m["labels"]))
        key = (labels.get("resource", ""), labels.get("subresource", ""), labels.get("verb", ""))
        out[key] += int(float(m["value"]))
    return out


def writes(counts: Counter[tuple[str, str, str]], resources: Iterable[str]) -> int:
    wanted = set(resources)
    return sum(n for (res, _, verb), n in counts.items() if res in wanted and verb in WRITE_VERBS)


def request_diff(before: Counter[tuple[str, str, str]], after: Counter[tuple[str, str, str]]) -> dict[str, int]:
    """Requests served in between on the workload kinds, as {"VERB resource[/subresource]": count}."""
    out = {}
    for (res, sub, verb), n in sorted(after.items()):
        delta = n - before.get((res, sub, verb), 0)
        if delta and res in BUSY | {"leases"}:
            out[f"{verb} {res}{'/' + sub if sub else ''}"] = delta
    return out


def sum_samples(text: str, name: str, **labels: str) -> float:
    """Sum of one Prometheus metric's samples whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        metric, _, rest = head.partition("{")
        if metric != name:
            continue
        got = dict(_LABEL.findall(rest))
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(value)
    return total


class Watch:
    """One watch stream, read in the background into a queue of (arrival time, event)."""

    def __init__(self, api: Api, path: str, params: dict[str, str]) -> None:
        self.queue: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()
        self.task = asyncio.create_task(self._read(api, path, params))

    @classmethod
    async def open(cls, api: Api, path: str, params: dict[str, str] | None = None) -> Watch:
        # From a LIST's resourceVersion, so nothing created after this call is missed.
        listing = await api.json("GET", path, params={"limit": "1", **(params or {})})
        return cls(
            api,
            path,
            {
                **(params or {}),
                "watch": "true",
                "resourceVersion": listing["metadata"]["resourceVersion"],
                "allowWatchBookmarks": "true",
                "timeoutSeconds": "1800",
            },
        )

    async def _read(self, api: Api, path: str, params: dict[str, str]) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=300)
        async with api.session.get(api.server + path, params=params, timeout=timeout) as r:
            if r.status >= 300:
                raise RuntimeError(f"watch {path}: {r.status} {(await r.read())[:300]!r}")
            async for line in r.content:
                if line.strip():
                    self.queue.put_nowait((time.perf_counter(), json.loads(line)))

    @property
    def ended(self) -> bool:
        return self.task.done()

    async def next(self, timeout: float) -> tuple[float, dict[str, Any]] | None:
        try:
            return await asyncio.wait_for(self.queue.get(), max(timeout, 0.0))
        except TimeoutError:
            return None

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task


# ---- processes -------------------------------------------------------------------------------------


class Operator:
    """One `python -m hatchet_operator run` against the control plane, with its own ports and log."""

    def __init__(self, kube: ControlPlane, workdir: Path, log_name: str) -> None:
        self.metrics_port = free_port()
        self.health_port = free_port()
        argv = operator_argv(kube.kubeconfig, self.metrics_port, self.health_port)
        self.proc = Proc("hatchet-operator", argv, workdir / "logs" / f"{log_name}.log")

    def start(self) -> None:
        self.proc.start()

    async def leading(self, api: Api, timeout: float) -> float:
        """Seconds from start until /healthz answers and this replica holds the Lease."""
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if not self.proc.alive():
                raise RuntimeError(f"{self.proc.name} exited:\n{self.proc.tail()}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                status, _ = await api.call("GET", f"http://127.0.0.1:{self.health_port}/healthz")
                if status == 200 and sum_samples(await self.metrics(api), "hatchet_operator_leader") == 1:
                    return time.perf_counter() - t0
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.proc.name} did not lead within {timeout:.0f}s:\n{self.proc.tail()}")

    async def metrics(self, api: Api) -> str:
        status, text = await api.call("GET", f"http://127.0.0.1:{self.metrics_port}/metrics")
        if status != 200:
            raise RuntimeError(f"{self.proc.name} /metrics: {status}")
        return text.decode()

    async def own_writes(self, api: Api) -> float:
        """The operator's own count of its writes to Deployments and HatchetWorker status."""
        text = await self.metrics(api)
        return sum(
            sum_samples(text, "hatchet_operator_api_writes_total", resource=r)
            for r in ("deployments", "hatchetworkers/status")
        )

    def memory_mb(self) -> dict[str, float]:
        """Resident memory now and at its peak (VmHWM), from the kernel."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        out = {}
        for field, key in (("VmRSS", "rss_mb"), ("VmHWM", "peak_rss_mb")):
            m = re.search(rf"^{field}:\s+(\d+) kB", status, re.M)
            out[key] = int(m.group(1)) / 1024 if m else math.nan
        return out

    def stop(self) -> None:
        self.proc.stop()


def cpu_seconds(procs: Iterable[Proc]) -> dict[str, float]:
    """CPU time (user + system) so far of each live process, and of this benchmark itself."""
    out = {"bench (load generator)": time.process_time()}
    for p in procs:
        if p.alive():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()
                out[p.name] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def cpu_diff(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: round(v - before.get(k, 0.0), 2) for k, v in sorted(after.items(), key=lambda kv: kv[0])}


# ---- phases ----------------------------------------------------------------------------------------


@dataclass
class Burst:
    seconds: float
    created: int
    failed: int
    retries: int


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes
    content_type: str = "application/json"
    params: dict[str, str] | None = None


async def send_all(api: Api, requests: list[Request], concurrency: int, timeout: float) -> Burst:
    """Send every request with ``concurrency`` in flight; a failure is retried up to 3 times."""
    pending: Iterator[Request] = iter(requests)  # shared: each sender takes the next one
    done = failed = retries = 0
    deadline = time.perf_counter() + timeout

    async def sender() -> None:
        nonlocal done, failed, retries
        for req in pending:
            for attempt in range(4):
                if time.perf_counter() > deadline:
                    failed += 1
                    break
                try:
                    status, _ = await api.call(req.method, req.path, req.body, req.content_type, req.params)
                except (aiohttp.ClientError, TimeoutError):
                    status = 0
                # 409 after a retry: the first attempt got through before its connection failed.
                if status in (200, 201) or (status == 409 and attempt > 0):
                    done += 1
                    break
                if status not in (0, 429) and status < 500:
                    failed += 1
                    break
                retries += 1
                await asyncio.sleep(0.2 * (attempt + 1))
            else:
                failed += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return Burst(time.perf_counter() - t0, done, failed, retries)


class Phase:
    """CPU seconds per process and apiserver requests spent between ``start`` and ``stop``."""

    def __init__(self, api: Api, procs: list[Proc]) -> None:
        self.api = api
        self.procs = procs
        self.requests: Counter[tuple[str, str, str]] = Counter()
        self.cpu: dict[str, float] = {}

    async def start(self) -> None:
        self.requests = await self.api.requests()
        self.cpu = cpu_seconds(self.procs)

    async def stop(self) -> dict[str, Any]:
        cpu = cpu_diff(self.cpu, cpu_seconds(self.procs))
        return {"cpu_seconds": cpu, "requests": request_diff(self.requests, await self.api.requests())}


async def create_direct(
    api: Api, procs: list[Proc], namespace: str, names: list[str], replicas: int, concurrency: int, timeout: float
) -> dict[str, Any]:
    path = deployments_path(namespace)
    bodies = [Request("POST", path, json.dumps(direct_deployment(namespace, n, replicas)).encode()) for n in names]
    return await timed_burst(api, procs, bodies, concurrency, timeout)


async def timed_burst(
    api: Api, procs: list[Proc], requests: list[Request], concurrency: int, timeout: float
) -> dict[str, Any]:
    phase = Phase(api, procs)
    await phase.start()
    burst = await send_all(api, requests, concurrency, timeout)
    return {
        "seconds": burst.seconds,
        "complete": burst.created == len(requests),
        "created": burst.created,
        "failed": burst.failed,
        "retries": burst.retries,
        **await phase.stop(),
    }


async def create_workers(
    api: Api, procs: list[Proc], namespace: str, names: list[str], replicas: int, concurrency: int, timeout: float
) -> dict[str, Any]:
    """POST the HatchetWorkers and wait until every Deployment exists (a watch; a LIST if it ends)."""
    deployments = deployments_path(namespace)
    path = workers_path(namespace)
    bodies = [Request("POST", path, json.dumps(worker_manifest(namespace, n, replicas)).encode()) for n in names]
    watch = await Watch.open(api, deployments)
    phase = Phase(api, procs)
    await phase.start()
    t0 = time.perf_counter()
    deadline = t0 + timeout
    posting = asyncio.create_task(send_all(api, bodies, concurrency, timeout))
    wanted = set(names)
    seen: set[str] = set()
    last = t0
    try:
        while seen < wanted and time.perf_counter() < deadline:
            if watch.ended:
                await asyncio.sleep(0.5)
                seen = await api.names(deployments, deadline) & wanted
                last = time.perf_counter()
                continue
            got = await watch.next(min(2.0, deadline - time.perf_counter()))
            if got is None:
                continue
            at, event = got
            name = (event.get("object") or {}).get("metadata", {}).get("name")
            if event.get("type") in ("ADDED", "MODIFIED") and name in wanted and name not in seen:
                seen.add(name)
                last = at
        # send_all stops sending at the deadline; the last requests still get their own timeout.
        burst = await asyncio.wait_for(posting, max(deadline - time.perf_counter(), 0.0) + 70)
    finally:
        posting.cancel()
        await watch.close()
    return {
        "seconds": last - t0,
        "complete": seen == wanted,
        "deployments_seen": len(seen),
        "posts_seconds": burst.seconds,
        "created": burst.created,
        "failed": burst.failed,
        "retries": burst.retries,
        **await phase.stop(),
    }


async def breakdown(api: Api, procs: list[Proc], names: list[str], cfg: Config) -> dict[str, Any]:
    """The operator path's three writes per HatchetWorker, each kind as one burst without the operator:
    HatchetWorker creates, status patches of those, and Deployment creates by server-side apply."""
    creates = [
        Request("POST", workers_path(NS_PARTS), json.dumps(worker_manifest(NS_PARTS, n, 0)).encode()) for n in names
    ]
    out = {"hatchetworker_creates": await timed_burst(api, procs, creates, cfg.concurrency, cfg.create_timeout)}
    deployment = {"metadata": {"generation": 1}, "spec": {"replicas": 0}, "status": {"observedGeneration": 1}}
    patches = [
        Request(
            "PATCH",
            workers_path(NS_PARTS, n) + "/status",
            json.dumps(
                {
                    "status": status.compute(
                        name=n,
                        generation=1,
                        deployment=deployment,
                        problems=(),
                        previous=None,
                        now="2026-01-01T00:00:00Z",
                    )
                }
            ).encode(),
            "application/merge-patch+json",
            {"fieldManager": "bench"},
        )
        for n in names
    ]
    out["status_patches"] = await timed_burst(api, procs, patches, cfg.concurrency, cfg.create_timeout)
    applies = [
        Request(
            "PATCH",
            f"{deployments_path(NS_PARTS)}/{n}",
            json.dumps(direct_deployment(NS_PARTS, n, 0)).encode(),
            "application/apply-patch+yaml",
            {"fieldManager": "bench", "force": "true"},
        )
        for n in names
    ]
    out["deployment_applies"] = await timed_burst(api, procs, applies, cfg.concurrency, cfg.create_timeout)
    await settle(api, 5, cfg.settle_timeout)
    # The rest of the run must see exactly N HatchetWorkers and N unrelated Deployments.
    for path in (workers_path(NS_PARTS), deployments_path(NS_PARTS)):
        code, text = await api.call("DELETE", path)
        if code >= 300:
            raise RuntimeError(f"DELETE {path}: {code} {text[:300]!r}")
    await settle(api, 5, cfg.settle_timeout)
    return out


async def settle(api: Api, quiet: float, timeout: float) -> dict[str, Any]:
    """Wait until no controller has written a workload object for ``quiet`` seconds (bounded)."""
    t0 = time.perf_counter()
    last = writes(await api.requests(), BUSY)
    changed = t0
    while (now := time.perf_counter()) - t0 < timeout:
        if now - changed >= quiet:
            return {"seconds": round(now - t0, 1), "settled": True}
        await asyncio.sleep(1.0)
        count = writes(await api.requests(), BUSY)
        if count != last:
            last, changed = count, time.perf_counter()
    log(f"the cluster did not settle within {timeout:.0f}s; measuring anyway")
    return {"seconds": round(time.perf_counter() - t0, 1), "settled": False}


async def count_writes(
    api: Api, op: Operator, before: Counter[tuple[str, str, str]], own_before: float, seconds: float
) -> dict[str, Any]:
    """Writes to Deployments and HatchetWorkers since ``before``, after waiting ``seconds`` more."""
    await asyncio.sleep(seconds)
    # apiserver_request_total has no client label, so every writer counts; once the fleet has settled
    # nothing but the operator writes these kinds. The operator's own counter is reported beside it.
    after = await api.requests()
    by_request = {k: v for k, v in request_diff(before, after).items() if k.split(" ")[1].split("/")[0] in OWNED and v}
    writes_by = {k: v for k, v in by_request.items() if k.split(" ")[0] in WRITE_VERBS}
    return {
        "apiserver_writes": writes(after, OWNED) - writes(before, OWNED),
        "by_request": writes_by,
        "operator_reported_writes": await op.own_writes(api) - own_before,
    }


async def spec_latency(api: Api, namespace: str, name: str, patches: int, timeout: float) -> dict[str, Any]:
    """Patch spec.slots ``patches`` times in a row; each time, how long until the Deployment has it."""
    watch = await Watch.open(api, deployments_path(namespace), {"fieldSelector": f"metadata.name={name}"})
    base = int((await api.json("GET", workers_path(namespace, name)))["spec"].get("slots", 1))
    latencies: list[float] = []
    try:
        for i in range(1, patches + 1):
            want = base + i
            t0 = time.perf_counter()
            await api.json(
                "PATCH",
                workers_path(namespace, name),
                {"spec": {"slots": want}},
                content_type="application/merge-patch+json",
            )
            seen = math.inf
            while (left := t0 + timeout - time.perf_counter()) > 0:
                got = await watch.next(left)
                if got is not None and slots_of(got[1].get("object") or {}) == str(want):
                    seen = got[0] - t0
                    break
            latencies.append(seen)
    finally:
        await watch.close()
    done = sorted(latencies)
    return {
        "patches": patches,
        "timeouts": sum(1 for x in latencies if x == math.inf),
        "p50_s": percentile(done, 0.50),
        "p99_s": percentile(done, 0.99),
        "max_s": done[-1] if done else math.nan,
        "mean_s": sum(done) / len(done) if done else math.nan,
        "latencies_s": latencies,
    }


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of a sorted list."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))]


async def reconciled(api: Api, op: Operator, count: int, timeout: float) -> dict[str, Any]:
    """Wait until the operator has reconciled ``count`` HatchetWorkers since it started."""
    t0 = time.perf_counter()
    while True:
        results = reconcile_results(await op.metrics(api))
        if sum(results.values()) >= count or time.perf_counter() - t0 > timeout:
            break
        await asyncio.sleep(0.2)
    return {"seconds": time.perf_counter() - t0, "complete": sum(results.values()) >= count, "results": results}


def write_results(metrics: str) -> dict[str, int]:
    """The operator's own count of its writes so far, as {"VERB resource": count}."""
    out: Counter[str] = Counter()
    for line in metrics.splitlines():
        if line.startswith("hatchet_operator_api_writes_total{"):
            labels = dict(_LABEL.findall(line.partition("{")[2].partition("}")[0]))
            out[f"{labels.get('verb')} {labels.get('resource')}"] += int(float(line.rpartition(" ")[2]))
    return dict(out)


def reconcile_results(metrics: str) -> dict[str, float]:
    return {
        r: sum_samples(metrics, "hatchet_operator_reconcile_total", result=r)
        for r in ("applied", "unchanged", "degraded", "skipped", "error")
    }


# ---- the run ---------------------------------------------------------------------------------------


@dataclass
class Config:
    workers: int
    patches: int
    concurrency: int
    quiet_seconds: float
    replicas_1: bool
    breakdown: bool

    @property
    def create_timeout(self) -> float:
        return 120 + 0.5 * self.workers

    @property
    def settle_timeout(self) -> float:
        return 180 + (1.0 if self.replicas_1 else 0.4) * self.workers


NS_DIRECT = "bench-direct"
NS_WORKERS = "bench-workers"
NS_DIRECT_1 = "bench-direct-r1"
NS_WORKERS_1 = "bench-workers-r1"
NS_PARTS = "bench-parts"


def prepare(kube: ControlPlane, cfg: Config) -> None:
    kube.kubectl("apply", "--server-side", "-f", str(CRD))
    kube.kubectl("wait", "--for=condition=Established", f"crd/{api.PLURAL}.{api.GROUP}", "--timeout=60s")
    wait_for(
        lambda: api.PLURAL in kube.kubectl("api-resources", f"--api-group={api.GROUP}").stdout,
        60,
        "HatchetWorkers in discovery",
    )
    namespaces = [NS_DIRECT, NS_WORKERS]
    namespaces += [NS_DIRECT_1, NS_WORKERS_1] if cfg.replicas_1 else []
    namespaces += [NS_PARTS] if cfg.breakdown else []
    for ns in namespaces:
        kube.create_namespace(ns)
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": api.DEFAULT_TOKEN_SECRET, "namespace": ns},
            "stringData": {api.DEFAULT_TOKEN_KEY: "bench-token"},
        }
        kube.kubectl("apply", "-f", "-", input=json.dumps(secret))


async def run(kube: ControlPlane, workdir: Path, cfg: Config, operators: list[Operator]) -> dict[str, Any]:
    n = cfg.workers
    names = [f"w-{i:05d}" for i in range(n)]
    # Up to this many creates in flight, plus watches and metrics scrapes.
    api = Api(kube, cfg.concurrency + 8)
    procs = list(kube.procs)
    out: dict[str, Any] = {}
    try:
        await settle(api, 5, cfg.settle_timeout)

        log(f"creating {n} Deployments directly ({cfg.concurrency} in flight)")
        direct = await create_direct(api, procs, NS_DIRECT, names, 0, cfg.concurrency, cfg.create_timeout)
        direct["settle"] = await settle(api, 5, cfg.settle_timeout)
        if cfg.breakdown:
            log(f"breakdown: {n} HatchetWorker creates, status patches, Deployment applies (no operator)")
            out["breakdown"] = await breakdown(api, procs, names, cfg)

        log("starting the operator")
        op = Operator(kube, workdir, "hatchet-operator")
        operators.append(op)
        procs.append(op.proc)
        op.start()
        startup = await op.leading(api, 60)
        await settle(api, 5, 60)
        memory: dict[str, Any] = {"idle": op.memory_mb()}

        log(f"creating {n} HatchetWorkers until their {n} Deployments exist")
        via = await create_workers(api, procs, NS_WORKERS, names, 0, cfg.concurrency, cfg.create_timeout)
        via["settle"] = await settle(api, 5, cfg.settle_timeout)
        via["operator_reconciles"] = reconcile_results(await op.metrics(api))
        via["operator_writes"] = write_results(await op.metrics(api))
        out["creation"] = {"replicas_0": {"direct": direct, "operator": via, "ratio": ratio(direct, via)}}

        log(f"counting writes over {cfg.quiet_seconds:.0f}s with the fleet settled")
        before, own = await api.requests(), await op.own_writes(api)
        idle = await count_writes(api, op, before, own, cfg.quiet_seconds)
        # Measured after the quiet window: the operator hands freed memory back every 30 s.
        memory["with_workers"] = op.memory_mb()

        log(f"patching one HatchetWorker {cfg.patches} times")
        latency = await spec_latency(api, NS_WORKERS, names[0], cfg.patches, 10.0)
        latency["settle"] = await settle(api, 5, cfg.settle_timeout)

        log(f"restarting the operator over {n} HatchetWorkers")
        op.stop()
        await settle(api, 3, 60)
        before = await api.requests()
        op = Operator(kube, workdir, "hatchet-operator-2")
        operators.append(op)
        procs.append(op.proc)
        t0 = time.perf_counter()
        op.start()
        restart: dict[str, Any] = {"leading_s": await op.leading(api, 60)}
        caught_up = await reconciled(api, op, n, 60 + 0.1 * n)
        restart["all_reconciled_s"] = time.perf_counter() - t0
        restart["complete"] = caught_up["complete"]
        restart["reconciles"] = caught_up["results"]
        restart_writes = await count_writes(api, op, before, 0.0, cfg.quiet_seconds)
        memory["after_restart"] = op.memory_mb()

        if cfg.replicas_1:
            log(f"replicas 1: creating {n} Deployments directly")
            d1 = await create_direct(api, procs, NS_DIRECT_1, names, 1, cfg.concurrency, cfg.create_timeout)
            d1["settle"] = await settle(api, 5, cfg.settle_timeout)
            log(f"replicas 1: creating {n} HatchetWorkers")
            w1 = await create_workers(api, procs, NS_WORKERS_1, names, 1, cfg.concurrency, cfg.create_timeout)
            w1["settle"] = await settle(api, 5, cfg.settle_timeout)
            out["creation"]["replicas_1"] = {"direct": d1, "operator": w1, "ratio": ratio(d1, w1)}

        out.update(
            {
                "operator_startup_s": startup,
                "latency": latency,
                "idle_writes": {"settled": idle, "restart": restart_writes},
                "restart": restart,
                "memory": memory,
            }
        )
        return out
    finally:
        await api.close()


def ratio(direct: dict[str, Any], via: dict[str, Any]) -> float:
    if not (direct["complete"] and via["complete"]) or via["seconds"] <= 0:
        return math.nan
    return float(direct["seconds"] / via["seconds"])


# ---- report ----------------------------------------------------------------------------------------


def verdicts(r: dict[str, Any], cfg: Config) -> list[dict[str, Any]]:
    """The rows of the summary: what was measured, the target, and whether it was met."""
    n = cfg.workers
    rows: list[dict[str, Any]] = []

    def row(name: str, value: str, target: str = "", ok: bool | None = None) -> None:
        rows.append({"metric": name, "value": value, "target": target, "pass": ok})

    for key, label in (("replicas_0", "replicas 0"), ("replicas_1", "replicas 1")):
        c = r["creation"].get(key)
        if c is None:
            continue
        d, w = c["direct"], c["operator"]
        row(f"create {n} Deployments directly ({label})", secs(d["seconds"], d["complete"]))
        row(
            f"create {n} HatchetWorkers until {n} Deployments exist ({label})",
            secs(w["seconds"], w["complete"]) + f" (POSTs done at {w['posts_seconds']:.1f} s)",
        )
        row(f"ratio direct / operator ({label})", f"{c['ratio']:.2f}", f">= {TARGET_RATIO}", c["ratio"] >= TARGET_RATIO)
    lat = r["latency"]
    row(
        f"spec change to Deployment ({lat['patches']} patches) p50 / p99 / max",
        f"{ms(lat['p50_s'])} / {ms(lat['p99_s'])} / {ms(lat['max_s'])}"
        + (f", {lat['timeouts']} timed out" if lat["timeouts"] else ""),
        f"p99 < {TARGET_P99:.0f} s",
        lat["p99_s"] < TARGET_P99,
    )
    idle, after = r["idle_writes"]["settled"], r["idle_writes"]["restart"]
    row(
        f"idle writes, fleet settled ({cfg.quiet_seconds:.0f} s)",
        f"{idle['apiserver_writes']} (operator's own count {idle['operator_reported_writes']:.0f})",
        "0",
        idle["apiserver_writes"] == 0,
    )
    row(
        f"writes across a restart over {n} HatchetWorkers (+{cfg.quiet_seconds:.0f} s)",
        f"{after['apiserver_writes']} (operator's own count {after['operator_reported_writes']:.0f})",
        "0",
        after["apiserver_writes"] == 0,
    )
    parts = r.get("breakdown")
    if parts:
        times = [parts[k]["seconds"] for k in ("hatchetworker_creates", "deployment_applies", "status_patches")]
        row(
            f"without the operator: {n} HatchetWorker creates / Deployment applies / status patches",
            " / ".join(f"{t:.1f} s" for t in times) + f" (sum {sum(times):.1f} s)",
        )
        # The operator's creation time against its own minimal request sequence sent without it.
        via = r["creation"]["replicas_0"]["operator"]["seconds"]
        overhead = via / sum(times) if sum(times) else float("inf")
        row(
            "operator creation / minimal request sequence without it",
            f"{overhead:.2f}x",
            f"<= {TARGET_OVERHEAD}x",
            overhead <= TARGET_OVERHEAD,
        )
    rs = r["restart"]
    row(
        f"restart: leading / all {n} reconciled",
        f"{rs['leading_s']:.1f} s / " + secs(rs["all_reconciled_s"], rs["complete"]),
    )
    mem = r["memory"]
    idle_mb = mem["idle"]["rss_mb"]
    row("operator resident memory, idle", f"{idle_mb:.0f} MB", f"< {TARGET_RSS_MB:.0f} MB", idle_mb < TARGET_RSS_MB)
    loaded = max(mem["with_workers"]["rss_mb"], mem["after_restart"]["rss_mb"])
    row(
        f"operator resident memory, {n} HatchetWorkers (+{n} unrelated Deployments)",
        f"{mem['with_workers']['rss_mb']:.0f} MB settled, {mem['after_restart']['rss_mb']:.0f} MB after restart"
        + f" (peak {mem['with_workers']['peak_rss_mb']:.0f} MB)",
        f"< {TARGET_RSS_MB:.0f} MB",
        loaded < TARGET_RSS_MB,
    )
    return rows


def secs(value: float, complete: bool) -> str:
    return f"{value:.1f} s" if complete else f"INCOMPLETE after {value:.1f} s"


def ms(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value * 1000:.0f} ms"


def table(rows: list[dict[str, Any]]) -> str:
    cells = [(r["metric"], r["value"], r["target"], {True: "pass", False: "MISS", None: ""}[r["pass"]]) for r in rows]
    widths = [max(len(c[i]) for c in [("metric", "value", "target", "result"), *cells]) for i in range(4)]
    lines = []
    for c in [("metric", "value", "target", "result"), tuple("-" * w for w in widths), *cells]:
        lines.append("  ".join(text.ljust(w) for text, w in zip(c, widths, strict=True)).rstrip())
    return "\n".join(lines)


def cpu_table(r: dict[str, Any]) -> str:
    """CPU seconds per process during each creation phase: where the time went."""
    phases = [(f"{k} {side}", c[side]) for k, c in r["creation"].items() for side in ("direct", "operator")]
    procs = sorted({p for _, ph in phases for p in ph["cpu_seconds"]})
    head = ["cpu seconds", *(name for name, _ in phases)]
    rows = [["wall", *(f"{ph['seconds']:.1f}" for _, ph in phases)]]
    rows += [[p, *(f"{ph['cpu_seconds'].get(p, 0.0):.1f}" for _, ph in phases)] for p in procs]
    widths = [max(len(x[i]) for x in [head, *rows]) for i in range(len(head))]
    lines = ("  ".join(x.ljust(w) for x, w in zip(line, widths, strict=True)).rstrip() for line in [head, *rows])
    return "\n".join(lines)


def clean(value: Any) -> Any:
    """JSON without NaN or infinity (null instead), floats rounded."""
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workers", type=int, default=1000, help="N: HatchetWorkers and direct Deployments (1000)")
    p.add_argument("--patches", type=int, default=100, help="M: sequential spec patches (100)")
    p.add_argument("--concurrency", type=int, default=32, help="creates in flight, both paths (32)")
    p.add_argument("--quiet-seconds", type=float, default=30.0, help="idle-write window (30)")
    p.add_argument("--replicas-1", action="store_true", help="also compare creation with replicas: 1 (pods)")
    p.add_argument(
        "--breakdown",
        action="store_true",
        help="also time the operator path's requests one kind at a time, without the operator",
    )
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, etcd data)")
    args = p.parse_args(argv)
    cfg = Config(args.workers, args.patches, args.concurrency, args.quiet_seconds, args.replicas_1, args.breakdown)

    workdir = Path(tempfile.mkdtemp(prefix="operator-scale-"))
    nodes = max(2, math.ceil(2 * cfg.workers / PODS_PER_NODE)) if cfg.replicas_1 else 2
    kube = ControlPlane(workdir, nodes=nodes)
    operators: list[Operator] = []
    keep = args.keep
    try:
        log(f"starting the control plane ({nodes} kwok nodes) in {workdir}")
        kube.start()
        prepare(kube, cfg)
        results = asyncio.run(run(kube, workdir, cfg, operators))
    except BaseException:
        keep = True
        raise
    finally:
        for op in operators:
            op.stop()
        kube.stop()
        if keep:
            log(f"logs kept in {workdir / 'logs'}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    rows = verdicts(results, cfg)
    print(table(rows))
    print()
    print(cpu_table(results))
    if args.json:
        report = {
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "kubernetes": kube.version, "python": sys.version.split()[0]},
            "config": {**vars(cfg), "kwok_nodes": nodes},
            "summary": rows,
            **results,
        }
        args.json.write_text(json.dumps(clean(report), indent=2) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
