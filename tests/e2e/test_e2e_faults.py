"""Exactly once across faults, on real pods (issue 9, sections 3 and 6), on the package's cluster.

Worker pods run tests/e2e/apps/fault_worker.py (mounted into the example-worker image) under the
operator; each execution records (run id, attempt, pod) in a PostgreSQL in the cluster before it
sleeps, so executions are counted from a source the worker cannot fool, and compared with the
engine's own records of every run.

- Shutdown budget: a pod deleted (SIGTERM from the kubelet) while its tasks end just before the drain
  deadline: every result is recorded by the engine once, and the container exits by itself (exit
  code 0, reason Completed) before the kubelet's SIGKILL deadline.
- Faults: a 3-replica fleet runs FAULT_RUNS runs of tasks lasting 0.1-20 s (seeded) while, in
  sequence, it is rolled (``slots`` changed), scaled 3 -> 1 -> 3 through the scale subresource, a
  pod's listener subprocess is SIGKILLed, the engine process restarts, a pod is deleted and a pod is
  evicted (the Eviction API, as ``kubectl drain`` does). Each fault is injected while tasks run (a
  new batch of runs is triggered before it, and the ledger shows the batch executing). Afterwards
  every run is COMPLETED at the engine with no retry, each was executed exactly once, and every
  container that ended exited 0 (none was SIGKILLed); a run executed twice is reported with the fault
  whose window it fell in.

FAULT_RUNS is 1,000 (issue 9); HATCHET_E2E_FAULT_RUNS overrides it. The fault test has NOT yet been run
to completion (its wall time at 1,000 runs on a 2-core machine is not measured), so it only runs when
HATCHET_E2E_FAULTS=1 is set; the shutdown-budget test always runs.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from harness.helm import Helm
from hatchet_worker import ClientConfig, ClientTLSConfig, Hatchet

from .conftest import PROVIDER, WHY, EngineForward, wait_until
from .e2e_clusters import ClusterProvider
from .faults import EngineRecords as Records
from .faults import Execution, Fleet, Ledger, prepare_namespace, restart_engine, worker_manifest

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(PROVIDER is None, reason=WHY), pytest.mark.timeout(2400)]

NS = "hatchet-faults"
FAULT_RUNS = int(os.environ.get("HATCHET_E2E_FAULT_RUNS", "1000"))
SEED = 9
SLOTS, NEW_SLOTS = 24, 20
DRAIN = 30  # longer than the longest task: a drained pod finishes all of its tasks


@pytest.fixture(scope="module")
def ledger(cluster: ClusterProvider, images: dict[str, str], engine: dict[str, str], operator: Helm
           ) -> Iterator[Ledger]:
    prepare_namespace(cluster, NS, engine)
    try:
        yield Ledger(cluster, NS).start(images["hatchet-engine"])
    finally:
        for name in ("drain-deadline", "fault-fleet"):
            Fleet(cluster, NS, name).release()
        cluster.kubectl("delete", "namespace", NS, "--wait=false", check=False)


def client(engine: dict[str, str], namespace: str) -> Hatchet:
    return Hatchet(config=ClientConfig(
        token=engine["HATCHET_CLIENT_TOKEN"], host_port=engine["HATCHET_CLIENT_HOST_PORT"],
        server_url=engine["HATCHET_CLIENT_SERVER_URL"], namespace=namespace,
        tls_config=ClientTLSConfig(strategy="none")))


def trigger(hatchet: Hatchet, inputs: list[dict[str, Any]]) -> list[str]:
    """Runs alternating between the async and the sync task; their run ids."""
    ids: list[str] = []
    for i, name in enumerate(("fault-sleep", "fault-sleep-sync")):
        wf = hatchet.workflow(name=name)
        items = [wf.create_bulk_run_item(input=x) for x in inputs[i::2]]
        if items:
            ids += [ref.workflow_run_id for ref in hatchet.runs.bulk_trigger(wf, items)]
    return ids


def check_engine_records(details: dict[str, dict[str, Any]]) -> list[str]:
    """Problems in the engine's records: a run not COMPLETED, a task retried or not COMPLETED."""
    bad = []
    for rid, d in details.items():
        tasks = [(t["status"], t["retryCount"]) for t in d["tasks"]]
        if d["run"]["status"] != "COMPLETED" or tasks != [("COMPLETED", 0)]:
            bad.append(f"{rid}: run {d['run']['status']}, tasks {tasks}")
    return bad


def test_sigterm_while_tasks_end_just_before_the_drain_deadline(
        cluster: ClusterProvider, images: dict[str, str], engine: dict[str, str], ledger: Ledger) -> None:
    drain, batch, n = 10, 1000, 12
    fleet = Fleet(cluster, NS, "drain-deadline")
    fleet.apply(worker_manifest(fleet.name, images["example-worker"], ledger, replicas=1, slots=16, drain=drain,
                                hatchet_namespace="drainproof"))
    fleet.wait_settled(1)
    [pod] = fleet.live_pods()
    fleet.hold([pod])
    sigterm_at = time.time() + 8
    until = sigterm_at + drain - 1.5  # each task ends 1.5 s before the drain deadline
    run_ids = trigger(client(engine, "drainproof"), [{"until": until, "batch": batch} for _ in range(n)])
    wait_until(lambda: ledger.count(batch) == n, 30, f"all {n} runs executing on {pod}")
    time.sleep(max(0.0, sigterm_at - time.time()))
    fleet.kubectl("delete", "pod", pod, "--wait=false")
    ended = wait_until(lambda: fleet.ended().get(pod), drain + 30, f"{pod}'s container to terminate", interval=1.0)
    # The kubelet's record of the container: it exited by itself (a SIGKILL would be 137 / Error), and
    # before the deletion deadline (deletionTimestamp is when the kubelet would send SIGKILL).
    assert (ended["exitCode"], ended["reason"]) == (0, "Completed"), ended
    assert ended["finishedAt"] <= ended["deletionTimestamp"], ended
    events = json.loads(fleet.kubectl("get", "events", "--field-selector", f"involvedObject.name={pod}",
                                      "-o", "json").stdout)["items"]
    reasons = Counter(e["reason"] for e in events)
    assert reasons["Killing"] >= 1, reasons
    # (Unhealthy is expected: the startup probe before the health server listens, readiness while draining.)
    assert not {"ExceededGracePeriod", "FailedKillPod", "BackOff"} & set(reasons), reasons
    details = Records(engine).wait_terminal(run_ids, 60)
    assert check_engine_records(details) == []
    assert {d["tasks"][0]["output"]["pod"] for d in details.values()} == {pod}
    # Executed once each, all on the pod told to stop (the engine re-ran none on its replacement).
    execs = ledger.executions((batch,))
    assert Counter(e.run_id for e in execs) == dict.fromkeys(run_ids, 1)
    assert {e.pod for e in execs} == {pod}
    assert len(ledger.executions((batch,), table="finishes")) == n
    print(f"\nshutdown budget: {n} tasks ending {drain - 1.5:.1f} s after SIGTERM (drain {drain} s, grace "
          f"{ended['grace']} s): container exit {ended['exitCode']} ({ended['reason']}) at {ended['finishedAt']}, "
          f"deadline {ended['deletionTimestamp']}; executions per run {set(Counter(e.run_id for e in execs).values())}")
    fleet.kubectl("delete", "hatchetworker", fleet.name, "--wait=false")
    fleet.release()


def attribute(execs: list[Execution], windows: list[tuple[str, float, float]]) -> str:
    """The fault whose window (start .. settled + the longest task) holds the repeated execution."""
    second = execs[1].at
    hits = [name for name, start, end in windows if start <= second <= end + 25]
    return hits[-1] if hits else "no fault window"


@pytest.mark.skipif(os.environ.get("HATCHET_E2E_FAULTS") != "1",
                    reason="not yet proven to fit the suite's time budget: set HATCHET_E2E_FAULTS=1 to run it")
def test_every_run_executes_exactly_once_across_faults(
        cluster: ClusterProvider, images: dict[str, str], engine: dict[str, str], engine_forward: EngineForward,
        ledger: Ledger) -> None:
    t_start = time.monotonic()
    fleet = Fleet(cluster, NS, "fault-fleet")
    manifest = worker_manifest(fleet.name, images["example-worker"], ledger, replicas=3, slots=SLOTS, drain=DRAIN,
                               hatchet_namespace="faultproof")
    fleet.apply(manifest)
    fleet.wait_settled(3)
    hatchet = client(engine, "faultproof")
    rng = random.Random(SEED)
    durations = [round(rng.uniform(0.1, 20.0), 2) for _ in range(FAULT_RUNS)]

    def busiest() -> str:
        live = fleet.live_pods()
        flight = ledger.in_flight()
        return max(live, key=lambda p: flight.get(p, 0))

    def rolling_update() -> str:
        fleet.hold()
        generation = fleet.deployment()["metadata"]["generation"]
        fleet.kubectl("patch", "hatchetworker", fleet.name, "--type", "merge", "-p",
                      json.dumps({"spec": {"slots": NEW_SLOTS}}))
        wait_until(lambda: fleet.deployment()["metadata"]["generation"] > generation, 60, "the new template")
        fleet.wait_settled(3)
        return f"slots {SLOTS} -> {NEW_SLOTS}"

    def scale() -> str:
        fleet.hold()
        fleet.kubectl("scale", "hatchetworker", fleet.name, "--replicas=1")
        fleet.wait_settled(1)
        fleet.kubectl("scale", "hatchetworker", fleet.name, "--replicas=3")
        fleet.wait_settled(3)
        return "3 -> 1 -> 3"

    def kill_listener() -> str:
        pod = busiest()
        [old] = fleet.listener_pids(pod, kill=True)
        wait_until(lambda: fleet.listener_pids(pod) not in ([], [old]), 30, f"a new listener in {pod}")
        return pod

    def engine_restart() -> str:
        return f"engine away {restart_engine(cluster, engine_forward):.1f} s"

    def delete_pod() -> str:
        pod = busiest()
        fleet.hold([pod])
        fleet.kubectl("delete", "pod", pod, "--wait=false")
        fleet.wait_settled(3)
        return pod

    def evict_pod() -> str:
        pod = busiest()
        fleet.hold([pod])
        fleet.evict(pod)
        fleet.wait_settled(3)
        return pod

    faults = [("rolling update", rolling_update), ("scale 3->1->3", scale), ("listener killed", kill_listener),
              ("engine restart", engine_restart), ("pod deleted", delete_pod), ("pod evicted", evict_pod)]
    per = -(-FAULT_RUNS // len(faults))
    run_ids: list[str] = []
    windows: list[tuple[str, float, float]] = []
    notes = []
    for i, (name, inject) in enumerate(faults):
        chunk = durations[i * per:(i + 1) * per]
        run_ids += trigger(hatchet, [{"seconds": d, "batch": i} for d in chunk])
        # Mid-flight: the batch is executing before the fault lands.
        wanted = min(len(chunk), 20)
        wait_until(lambda i=i, k=wanted: ledger.count(i) >= k, 120, f"batch {i} executing")
        flight = ledger.in_flight()
        start = time.time()
        what = inject()
        windows.append((name, start, time.time()))
        notes.append(f"{name} ({what}): {sum(flight.values())} tasks in flight on {len(flight)} pods, "
                     f"{time.time() - start:.0f} s")
    assert len(run_ids) == FAULT_RUNS
    details = Records(engine).wait_terminal(run_ids, 300)
    execs = ledger.executions()
    per_run: dict[str, list[Execution]] = defaultdict(list)
    for e in execs:
        per_run[e.run_id].append(e)
    repeated = {rid: es for rid, es in per_run.items() if len(es) > 1}
    by_fault = Counter(attribute(es, windows) for es in repeated.values())
    wait_until(lambda: not set(fleet.held_terminating()) - set(fleet.ended()), 90, "ended pods to terminate")
    ended = fleet.ended()
    elapsed = time.monotonic() - t_start
    summary = (f"\nfaults: {FAULT_RUNS} runs, {len(execs)} executions, {len(per_run)} runs executed, executions "
               f"per run {dict(Counter(len(es) for es in per_run.values()))}, repeated by fault {dict(by_fault)}, "
               f"{len(ended)} containers ended with "
               f"{dict(Counter((s['exitCode'], s['reason']) for s in ended.values()))}, "
               f"restarts {fleet.restarts()}, {elapsed:.0f} s\n  " + "\n  ".join(notes))
    print(summary)
    problems = check_engine_records(details)
    assert problems == [], f"{len(problems)} runs not completed cleanly: {problems[:10]}{summary}"
    assert not repeated, "executed more than once: " + "; ".join(
        f"{rid} on {[(e.pod, e.attempt) for e in es]} ({attribute(es, windows)})"
        for rid, es in list(repeated.items())[:20]) + summary
    assert set(per_run) == set(run_ids), summary
    assert {e.attempt for e in execs} == {0}, summary
    assert all((s["exitCode"], s["reason"]) == (0, "Completed") for s in ended.values()), summary
    assert set(fleet.restarts().values()) == {0}, summary
    fleet.kubectl("delete", "hatchetworker", fleet.name, "--wait=false")
    fleet.release()
