"""The operator reads the engine early when a scale-down needs it, not at the next interval.

The operator polls its tenant every 60 s here (±10 % jitter, so never sooner than 54 s apart on its
own). Two readings are asked for early (``scaledown.early_poll``), and this test fails if either
ask is not made by the running operator:

- when the scale-down window will let the count go lower (``Decision.release_at``): the fleet's
  first reading holds its one pod for the window (no history yet), and the drain starts when that
  window ends, well before the next interval poll;
- ``CONFIRM_SECONDS`` after a drain starts: the pod goes at that reading, not a whole interval
  after its worker was paused. And not sooner either: the engine's scheduler may give a just-paused
  worker a task for up to 5 s, so a reading taken earlier proves nothing. Here one does come
  earlier (the worker's actions are new to the HatchetWorker, which asks for a reading at once),
  and the pod must wait it out.

Times come from the operator's own Events (``firstTimestamp``, whole seconds), so the test's own
pace does not enter them. The pod is a kwok pod; its worker is a real worker process on the real
engine, labelled as the kubelet would label it.
"""

from __future__ import annotations

import base64
import datetime
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Cluster, Operator, lone_operator, worker_manifest
from test_autoscaling_drain import NAME, my_worker, start_worker, stop_worker

from harness.hatchet import HatchetEngine
from harness.kube import ControlPlane
from harness.proc import wait_for
from hatchet_operator import scaledown

INTERVAL = 60
WINDOW = 30
EARLIEST_INTERVAL_POLL = INTERVAL * 0.9


@pytest.fixture(scope="module")
def operator(kube: ControlPlane, crd: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    with lone_operator(kube, tmp_path_factory, f"--autoscaling-interval={INTERVAL}") as op:
        yield op


def stamp(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_the_window_end_and_the_drain_confirmation_are_read_early(
        operator: Operator, cluster: Cluster, hatchet: HatchetEngine, tmp_path: Path) -> None:
    c = cluster
    c.secret(data={"HATCHET_CLIENT_TOKEN": base64.b64encode(hatchet.token.encode()).decode()})
    autoscaling = {"minReplicas": 0, "maxReplicas": 2, "scaleDownStabilizationSeconds": WINDOW}
    manifest = worker_manifest(NAME, slots=2, hatchet={"serverUrl": hatchet.rest_url}, autoscaling=autoscaling)
    del manifest["spec"]["replicas"]
    c.apply(manifest)
    created = stamp(c.get("hatchetworker", NAME)["metadata"]["creationTimestamp"])
    [pod] = wait_for(lambda: [p["metadata"]["name"] for p in c.list("pods", f"app.kubernetes.io/instance={NAME}")],
                     60, "the pod")
    proc = start_worker(hatchet, f"t{uuid.uuid4().hex[:10]}", pod, c.ns, tmp_path / "worker.log")
    try:
        wid = wait_for(lambda: my_worker(hatchet, pod), 60, "the worker registered")["metadata"]["id"]

        def event(reason: str) -> dict[str, Any] | None:
            return next((e for e in c.events(NAME) if e["reason"] == reason), None)

        # The first reading (at once, the HatchetWorker being new) holds the pod for the window; the
        # reading asked for at the window's end drains it; the one asked for 7 s later removes it.
        removed = wait_for(lambda: event("ScaledDown"), 2 * INTERVAL, "the pod removed", procs=(operator.proc,))
        draining = event("Draining")
        reasons = [(e["reason"], e["firstTimestamp"], e["message"]) for e in c.events(NAME)]
        assert draining is not None and wid in draining["message"] and pod in draining["message"], reasons
        assert pod in removed["message"], reasons
        drained_after = (stamp(draining["firstTimestamp"]) - created).total_seconds()
        removed_after = (stamp(removed["firstTimestamp"]) - stamp(draining["firstTimestamp"])).total_seconds()
        # The drain starts at the window's end, less the drain's own 7 s (23 s here, plus the time
        # the first reading took), not at the second interval poll.
        assert WINDOW - scaledown.CONFIRM_SECONDS - 1 <= drained_after < EARLIEST_INTERVAL_POLL, reasons
        # The pod goes at the confirming reading: not an interval later, and not at a reading taken
        # before the engine's scheduler must have seen the pause (1 s off: whole-second stamps).
        assert scaledown.CONFIRM_SECONDS - 1 <= removed_after < EARLIEST_INTERVAL_POLL - 10, reasons
        assert (my_worker(hatchet, pod) or {}).get("status") == "PAUSED", "paused before its pod went"
        assert not any(r == "ScaleDownMismatch" for r, _, _ in reasons), reasons
    finally:
        stop_worker(proc)
