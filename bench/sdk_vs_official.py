"""Our worker SDK (hatchet_worker) against the official hatchet-sdk worker, on one real engine.

Run from the repository root:

    .venv/bin/python bench/sdk_vs_official.py [--tasks 2000] [--slots 100] [--rounds 3] [--json out.json]

Each round starts a fresh worker process per SDK (``bench/sdk/worker.py``, the same code for both;
with ``--go``, also ``bench/sdk/go``, the same worker on Hatchet's Go SDK: the engine's ceiling)
and measures: time from process start to ``/health`` 200 and to ACTIVE at the engine; resident
memory of the worker's process tree when idle and at its peak under load; and, for a batch of
no-op async tasks and one of 10 ms sync tasks, the wall time from the first trigger to the last
completion and the CPU seconds the tree used meanwhile. This process triggers the runs (one bulk
client for both SDKs) and reads completion from the engine's REST API, so neither counts for a
worker. Targets are reported as pass/miss, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "bench" / "sdk" / "worker.py"
sys.path.insert(0, str(ROOT / "tests"))  # the test harness starts the engine, as in tests/conftest.py

from harness.hatchet import HatchetEngine  # noqa: E402
from harness.proc import Proc, free_port  # noqa: E402
from hatchet_worker import ClientConfig, ClientTLSConfig, Hatchet  # noqa: E402

SDKS = ("ours", "official")
GO = "go"
"""The anchor: the same worker on Hatchet's Go SDK (bench/sdk/go, built by hack/build-go-bench-worker.sh)."""
VARIANTS = ("noop", "sleep")
START_TIMEOUT = 60.0
IDLE_SETTLE = 3.0  # after ACTIVE: lets start-up garbage and the first heartbeats settle
POLL_START = 0.02
POLL_DONE = 0.1
SAMPLE_EVERY = 0.1
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024


# -- the worker's process tree, read from /proc -------------------------------------------------------


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def tree_pids(root: int) -> list[int]:
    """``root`` and every live descendant (children are listed per thread that forked them)."""
    seen: list[int] = []
    todo = [root]
    while todo and len(seen) < 1000:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError):
                    todo += [int(c) for c in _read(f"/proc/{pid}/task/{task}/children").split()]
    return seen


def tree_cpu_seconds(root: int) -> float:
    """User + system time of the tree; a reaped child's time is in its parent's cutime/cstime."""
    ticks = 0
    for pid in tree_pids(root):
        with contextlib.suppress(OSError):
            fields = _read(f"/proc/{pid}/stat").rsplit(")", 1)[1].split()
            ticks += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return ticks / CLK_TCK


def tree_memory(root: int) -> tuple[float, float, int]:
    """(RSS, PSS) of the tree in MB, and its process count.

    RSS counts pages shared between the processes once per process; PSS splits them, so it is the
    fairer sum when a child shares its parent's pages.
    """
    rss = pss = 0
    pids = tree_pids(root)
    for pid in pids:
        with contextlib.suppress(OSError):
            rss += int(_read(f"/proc/{pid}/statm").split()[1]) * PAGE
        with contextlib.suppress(OSError):
            for line in _read(f"/proc/{pid}/smaps_rollup").splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
                    break
    return rss / MB, pss / MB, len(pids)


class PeakMemory:
    """Samples the tree's memory on a thread until stopped; keeps the peaks."""

    def __init__(self, root: int, limit_seconds: float) -> None:
        self.root = root
        self.limit = limit_seconds
        self.rss = self.pss = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + self.limit
        while not self._stop.is_set() and time.monotonic() < deadline:
            rss, pss, _ = tree_memory(self.root)
            self.rss, self.pss = max(self.rss, rss), max(self.pss, pss)
            self._stop.wait(SAMPLE_EVERY)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


# -- engine and worker probes ------------------------------------------------------------------------


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
            return r.status == 200 and bool(json.loads(r.read()).get("status") == "HEALTHY")
    except (OSError, ValueError):  # refused before the server listens; 503 while starting
        return False


def is_active(engine: HatchetEngine, name: str) -> bool:
    return any(w["name"] == name for w in engine.workers("ACTIVE"))


def workflow_id(engine: HatchetEngine, name: str) -> str:
    q = urllib.parse.urlencode({"name": name, "limit": 50})
    rows = engine.rest("GET", f"/api/v1/tenants/{engine.tenant_id}/workflows?{q}").get("rows") or []
    for row in rows:
        if row["name"] == name:
            return str(row["metadata"]["id"])
    raise RuntimeError(f"workflow {name!r} is not known to the engine")


def task_counts(engine: HatchetEngine, wf_id: str, since: dt.datetime) -> dict[str, int]:
    """Task counts per status (QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED) since ``since``."""
    q = urllib.parse.urlencode({"since": since.isoformat().replace("+00:00", "Z"), "workflow_ids": wf_id})
    rows = engine.rest("GET", f"/api/v1/stable/tenants/{engine.tenant_id}/task-metrics?{q}") or []
    return {str(r["status"]): int(r["count"]) for r in rows}


# -- one sample: one worker process of one SDK ---------------------------------------------------------


@dataclass
class Batch:
    tasks: int
    seconds: float
    tasks_per_s: float
    trigger_s: float
    cpu_s: float
    peak_rss_mb: float
    peak_pss_mb: float


@dataclass
class Sample:
    sdk: str
    round: int
    healthy_s: float = 0.0
    active_s: float = 0.0
    idle_rss_mb: float = 0.0
    idle_pss_mb: float = 0.0
    processes: int = 0
    batches: dict[str, Batch] = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        """Every figure, flat: batch figures as ``variant.name``."""
        out = {k: float(v) for k, v in asdict(self).items() if isinstance(v, int | float)}
        for variant, b in self.batches.items():
            out.update({f"{variant}.{k}": float(v) for k, v in asdict(b).items()})
        return out


class Bench:
    def __init__(self, engine: HatchetEngine, workdir: Path, slots: int, timeout: float, quiet: bool,
                 go_worker: Path | None = None) -> None:
        self.engine = engine
        self.go_worker = go_worker
        self.workdir = workdir
        self.slots = slots
        self.timeout = timeout
        self.quiet = quiet
        self.client = Hatchet(config=ClientConfig(token=engine.token, host_port=engine.grpc_address,
                                                  server_url=engine.rest_url,
                                                  tls_config=ClientTLSConfig(strategy="none")))

    def sample(self, sdk: str, round_: int, tasks: int) -> Sample:
        suffix = f"{sdk}-{round_}-{uuid.uuid4().hex[:6]}"
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HATCHET_", "BENCH_"))}
        env.update(self.engine.client_env())
        env.update({
            "HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED": "true",
            "HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT": str(port),
            "HATCHET_CLIENT_WORKER_HEALTHCHECK_BIND_ADDRESS": "127.0.0.1",
            "BENCH_SUFFIX": suffix,
            "BENCH_SLOTS": str(self.slots),
            "BENCH_QUIET": "1" if self.quiet else "0",
        })
        argv = [str(self.go_worker)] if sdk == GO else [sys.executable, str(WORKER), sdk]
        proc = Proc(f"worker-{suffix}", argv, self.workdir / "logs" / f"{suffix}.log", env=env, cwd=ROOT)
        s = Sample(sdk, round_)
        t0 = time.monotonic()
        proc.start()
        try:
            self._wait_started(s, proc, port, f"bench-{suffix}", t0)
            time.sleep(IDLE_SETTLE)  # fixed settling time before the idle reading
            readings = []
            for _ in range(5):
                time.sleep(0.2)
                readings.append(tree_memory(proc.pid))
            s.idle_rss_mb = statistics.median(r[0] for r in readings)
            s.idle_pss_mb = statistics.median(r[1] for r in readings)
            s.processes = readings[-1][2]
            for variant in VARIANTS:
                s.batches[variant] = self._batch(proc, f"bench-{variant}-{suffix}", tasks)
        finally:
            proc.stop()
        return s

    def _wait_started(self, s: Sample, proc: Proc, port: int, name: str, t0: float) -> None:
        deadline = t0 + START_TIMEOUT
        health_at = active_at = 0.0
        while not (health_at and active_at):
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited during start-up:\n{proc.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{proc.name} not healthy and ACTIVE after {START_TIMEOUT:.0f} s:\n{proc.tail()}")
            if not health_at and healthy(port):
                health_at = time.monotonic()
            if not active_at and is_active(self.engine, name):
                active_at = time.monotonic()
            time.sleep(POLL_START)
        s.healthy_s, s.active_s = health_at - t0, active_at - t0

    def _batch(self, proc: Proc, workflow: str, tasks: int) -> Batch:
        wf = self.client.workflow(name=workflow)
        wf_id = workflow_id(self.engine, workflow)
        items = [wf.create_bulk_run_item({}) for _ in range(tasks)]
        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
        cpu0 = tree_cpu_seconds(proc.pid)
        with PeakMemory(proc.pid, self.timeout) as peak:
            t0 = time.monotonic()
            self.client.runs.bulk_trigger(wf, items)
            trigger_s = time.monotonic() - t0
            self._wait_completed(proc, wf_id, since, tasks, t0 + self.timeout)
            seconds = time.monotonic() - t0
        cpu = tree_cpu_seconds(proc.pid) - cpu0
        return Batch(tasks, seconds, tasks / seconds, trigger_s, cpu, peak.rss, peak.pss)

    def _wait_completed(self, proc: Proc, wf_id: str, since: dt.datetime, tasks: int, deadline: float) -> None:
        counts: dict[str, int] = {}
        while counts.get("COMPLETED", 0) < tasks:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited during the batch:\n{proc.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{proc.name}: batch not done in time, task counts {counts}")
            time.sleep(POLL_DONE)
            counts = task_counts(self.engine, wf_id, since)
            if counts.get("FAILED", 0) or counts.get("CANCELLED", 0):
                raise RuntimeError(f"{proc.name}: tasks failed, counts {counts}:\n{proc.tail()}")


# -- summary ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    higher_is_better: bool
    target: float | None = None  # bound on ours/official: at least when higher is better, else at most


METRICS = [
    Metric("healthy_s", "time to /health 200 (s)", False, 0.5),
    Metric("active_s", "time to ACTIVE at the engine (s)", False, 0.5),
    Metric("idle_rss_mb", "idle RSS, process tree (MB)", False, 0.5),
    Metric("idle_pss_mb", "idle PSS, process tree (MB)", False),
    *(m for v, what in (("noop", "no-op async"), ("sleep", "10 ms sync")) for m in (
        Metric(f"{v}.tasks_per_s", f"{what}: throughput (tasks/s)", True, 1.5),
        Metric(f"{v}.cpu_s", f"{what}: worker CPU (s)", False),
        Metric(f"{v}.peak_rss_mb", f"{what}: peak RSS (MB)", False, 0.5),
        Metric(f"{v}.peak_pss_mb", f"{what}: peak PSS (MB)", False),
    )),
]


def summarise(samples: list[Sample]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    sdks = [sdk for sdk in (*SDKS, GO) if any(s.sdk == sdk for s in samples)]
    for m in METRICS:
        med = {sdk: statistics.median(s.metrics()[m.key] for s in samples if s.sdk == sdk) for sdk in sdks}
        ratio = med["ours"] / med["official"] if med["official"] else float("nan")
        verdict = None
        if m.target is not None:
            verdict = "pass" if (ratio >= m.target if m.higher_is_better else ratio <= m.target) else "miss"
        # How many times better ours is, whichever way the metric points (above 1: ours is better).
        advantage = ratio if m.higher_is_better else (1 / ratio if ratio else float("inf"))
        out[m.key] = {"label": m.label, "ours": med["ours"], "official": med["official"], "ours_over_official": ratio,
                      "advantage": advantage, "target": m.target, "higher_is_better": m.higher_is_better,
                      "verdict": verdict}
        if GO in med:
            out[m.key].update(go=med[GO], ours_over_go=med["ours"] / med[GO] if med[GO] else float("nan"))
    return out


def table(summary: dict[str, dict[str, Any]]) -> str:
    go = all("go" in row for row in summary.values())
    head = (f"{'metric (median)':<38} {'ours':>9} {'official':>9} {'ours/off':>9} {'advantage':>9}"
            + (f" {'go':>9} {'ours/go':>9}" if go else "") + "  target")
    lines = [head, "-" * len(head)]
    for row in summary.values():
        target = ""
        if row["target"] is not None:
            target = f"{'>=' if row['higher_is_better'] else '<='} {row['target']:.2f} {row['verdict']}"
        anchor = f" {row['go']:>9.2f} {row['ours_over_go']:>9.2f}" if go else ""
        lines.append(f"{row['label']:<38} {row['ours']:>9.2f} {row['official']:>9.2f} "
                     f"{row['ours_over_official']:>9.2f} {row['advantage']:>8.2f}x{anchor}  {target}")
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------------------


def order(round_: int, sdks: tuple[str, ...] = SDKS) -> tuple[str, ...]:
    """Each round starts with the next worker (ours, official / official, ours / ...): a slow drift of the
    engine (its tables grow) cancels out."""
    k = round_ % len(sdks)
    return sdks[k:] + sdks[:k]


@contextlib.contextmanager
def engine_running(workdir: Path) -> Iterator[HatchetEngine]:
    engine = HatchetEngine(workdir / "hatchet")
    try:
        engine.start()
        yield engine
    finally:
        engine.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=2000, help="tasks per batch (default 2000)")
    ap.add_argument("--slots", type=int, default=100, help="slots of each worker (default 100)")
    ap.add_argument("--rounds", type=int, default=3, help="samples per SDK (default 3)")
    ap.add_argument("--warmup-tasks", type=int, default=200,
                    help="tasks per batch of one unrecorded sample per SDK first (0: none; default 200)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per batch (default 600)")
    ap.add_argument("--quiet", action="store_true",
                    help="both workers drop INFO logs (the official SDK logs three lines per task by default)")
    ap.add_argument("--go", action="store_true",
                    help="also run the same worker on Hatchet's Go SDK (hack/build-go-bench-worker.sh builds it)")
    ap.add_argument("--json", type=Path, help="write samples and summary to this file")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs) after a successful run")
    args = ap.parse_args()
    if min(args.tasks, args.slots, args.rounds) < 1:
        ap.error("--tasks, --slots and --rounds must be positive")

    # SIGTERM unwinds like Ctrl-C, so every worker and the engine are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    go_worker = None
    if args.go:
        built = subprocess.run(["bash", str(ROOT / "hack" / "build-go-bench-worker.sh")], capture_output=True,
                               text=True, check=False)
        if built.returncode != 0:
            print(built.stderr[-4000:], file=sys.stderr)
            return 1
        go_worker = Path(built.stdout.strip().splitlines()[-1])
    sdks = (*SDKS, GO) if go_worker else SDKS
    workdir = Path(tempfile.mkdtemp(prefix="bench-sdk-"))
    ok = False
    try:
        with engine_running(workdir) as engine:
            print(f"engine {engine.version} up in {engine.start_seconds:.1f} s; work dir {workdir}", flush=True)
            bench = Bench(engine, workdir, args.slots, args.timeout, args.quiet, go_worker)
            if args.warmup_tasks:
                for sdk in sdks:
                    bench.sample(sdk, -1, args.warmup_tasks)
                print("warm-up done", flush=True)
            samples: list[Sample] = []
            for r in range(args.rounds):
                for sdk in order(r, sdks):
                    s = bench.sample(sdk, r, args.tasks)
                    samples.append(s)
                    m = s.metrics()
                    print(f"round {r} {sdk:<8} healthy {s.healthy_s:.2f} s, active {s.active_s:.2f} s, "
                          f"idle RSS {s.idle_rss_mb:.0f} MB, "
                          + ", ".join(f"{v} {m[v + '.tasks_per_s']:.0f}/s cpu {m[v + '.cpu_s']:.1f} s "
                                      f"peak RSS {m[v + '.peak_rss_mb']:.0f} MB" for v in VARIANTS), flush=True)
        summary = summarise(samples)
        print()
        print(f"{args.tasks} tasks per batch, {args.slots} slots, {args.rounds} rounds, {os.cpu_count()} CPUs"
              + (", INFO logs off" if args.quiet else ""))
        print(table(summary))
        if args.json:
            report = {
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "config": {"tasks": args.tasks, "slots": args.slots, "rounds": args.rounds,
                           "warmup_tasks": args.warmup_tasks, "quiet": args.quiet},
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                            "engine": engine.version, "hatchet_sdk": importlib.metadata.version("hatchet-sdk")},
                "samples": [asdict(s) for s in samples],
                "summary": summary,
            }
            args.json.write_text(json.dumps(report, indent=2) + "\n")
        ok = True
    finally:
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        elif not ok:
            print(f"logs kept in {workdir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
