"""Many autoscaled HatchetWorkers on one tenant cost the engine one poll per interval, not one each.

N HatchetWorkers (200; HATCHET_AUTOSCALE_SCALE_N overrides) with ``spec.autoscaling`` on the harness
control plane (kwok pods), all reading one real engine through a counting HTTP proxy on this
machine, so the engine requests are counted outside the operator. Once every status reports a
reading, the requests over a window of polls are counted, along with the apiserver's own count of
status writes (an idle fleet whose inputs do not change costs none), and the operator's CPU time and
memory are reported.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Cluster, Operator, apiserver_writes, lone_operator, worker_manifest

from harness.hatchet import HatchetEngine
from harness.kube import ControlPlane
from harness.proc import wait_for

N = int(os.environ.get("HATCHET_AUTOSCALE_SCALE_N", "200"))
INTERVAL = 2.0
WINDOW = 20.0


class CountingProxy:
    """Forwards GET/PATCH to the engine's REST API and counts requests by kind (worker list, task-stats)."""

    def __init__(self, target: str) -> None:
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _forward(self) -> None:
                kind = "task-stats" if "/task-stats" in self.path else "workers" if "/worker" in self.path else "other"
                with proxy.lock:
                    proxy.counts[kind] += 1
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
                req = urllib.request.Request(target + self.path, data=body, method=self.command,
                                             headers={k: v for k, v in self.headers.items()
                                                      if k.lower() in ("authorization", "content-type", "accept")})
                try:
                    with urllib.request.urlopen(req, timeout=15) as r:
                        status, data = r.status, r.read()
                except urllib.error.HTTPError as e:
                    status, data = e.code, e.read()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PATCH = _forward

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def snapshot(self) -> Counter[str]:
        with self.lock:
            return Counter(self.counts)


@pytest.fixture(scope="module")
def operator(kube: ControlPlane, crd: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    with lone_operator(kube, tmp_path_factory, f"--autoscaling-interval={INTERVAL:g}") as op:
        yield op


def cpu_and_rss(pid: int) -> tuple[float, float]:
    """(CPU seconds, RSS MiB) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return cpu, rss


def test_one_engine_poll_per_tenant_and_interval_for_many_hatchetworkers(
        operator: Operator, cluster: Cluster, kube: ControlPlane, hatchet: HatchetEngine) -> None:
    c = cluster
    proxy = CountingProxy(hatchet.rest_url)
    proxy.thread.start()
    try:
        c.secret(data={"HATCHET_CLIENT_TOKEN": base64.b64encode(hatchet.token.encode()).decode()})
        items = []
        for i in range(N):
            m = worker_manifest(f"as-{i:03d}", slots=2, hatchet={"serverUrl": proxy.url},
                                autoscaling={"minReplicas": 1, "maxReplicas": 3, "scaleDownStabilizationSeconds": 600})
            del m["spec"]["replicas"]
            items.append(m)
        t0 = time.monotonic()
        c.k("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))

        def reported() -> int:
            hws = json.loads(c.k("get", "hatchetworkers", "-o", "json").stdout)["items"]
            return sum(1 for hw in hws if ((hw.get("status") or {}).get("autoscaling") or {}).get("metricsAvailable")
                       and any(x["type"] == "Ready" and x["status"] == "True"
                               for x in (hw.get("status") or {}).get("conditions") or ()))

        wait_for(lambda: reported() == N, 300, f"all {N} HatchetWorkers Ready and reporting a reading",
                 procs=(operator.proc,))
        settle = time.monotonic() - t0

        def status_writes() -> float:
            return apiserver_writes(kube, "hatchetworkers", "status", verbs=("PATCH", "PUT", "APPLY"))

        def quiet() -> bool:  # the pods' rollout reported, nothing left to write
            before = status_writes()
            time.sleep(2 * INTERVAL)
            return status_writes() == before

        wait_for(quiet, 120, "the status writes to stop", procs=(operator.proc,))
        assert operator.proc.popen is not None
        pid = operator.proc.popen.pid
        cpu0, _ = cpu_and_rss(pid)
        before = proxy.snapshot()
        writes0 = status_writes()
        time.sleep(WINDOW)
        after = proxy.snapshot()
        writes1 = status_writes()
        cpu1, rss = cpu_and_rss(pid)
        polls = after["workers"] - before["workers"]
        other = after["task-stats"] - before["task-stats"] + after["other"] - before["other"]
        # One worker-list request per interval (+-10 % jitter) for all N: ~WINDOW / INTERVAL, never N per poll.
        expected = WINDOW / INTERVAL
        print(f"\nautoscaling scale: {N} HatchetWorkers on one tenant; all reporting after {settle:.1f} s; over "
              f"{WINDOW:g} s at a {INTERVAL:g} s interval: {polls} worker-list requests, {other} other engine "
              f"requests, {writes1 - writes0:g} status writes; operator CPU {cpu1 - cpu0:.2f} s "
              f"({(cpu1 - cpu0) / WINDOW:.0%} of a core), RSS {rss:.0f} MiB")
        assert expected * 0.7 <= polls <= expected * 1.3 + 1, (polls, expected)
        assert other <= 1, after  # no worker registered an action: nothing to ask task-stats about
        assert writes1 - writes0 == 0, "an idle fleet whose inputs do not change writes no status"
    finally:
        c.k("delete", "hatchetworkers", "--all", "--wait=false", check=False)
        proxy.server.shutdown()
