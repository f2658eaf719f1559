"""A deleted HatchetWorker never gets its Deployment back, and the operator forgets it.

Under background cascading deletion the HatchetWorker is gone at once while the garbage collector
deletes its Deployment; the operator may see the Deployment's DELETED event before the owner's.
Ground truth comes from watches on the apiserver, ordered by resourceVersion: every Deployment
ADDED event is matched with its owner's DELETED event, and a Deployment added after its owner was
deleted, or added twice for one owner, is a failure. Per-key state and memory are read from the
operator's metrics after each round.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from typing import Any

import pytest
from conftest import Cluster, Operator, worker_manifest

from harness.kube import ControlPlane
from harness.proc import wait_for

pytestmark = pytest.mark.timeout(1200)

ROUNDS = 10
PER_ROUND = 200


class Recorder:
    """Watches HatchetWorkers and Deployments of one namespace in background threads."""

    def __init__(self, kube: ControlPlane, namespace: str) -> None:
        from kubernetes import client, watch

        self._client = client
        self._watch = watch
        self.api = kube.api_client()
        self.ns = namespace
        self.lock = threading.Lock()
        self.worker_deleted: dict[str, int] = {}  # owner uid -> resourceVersion of its DELETED event
        self.deployment_added: dict[str, list[int]] = defaultdict(list)  # owner uid -> ADDED rvs
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.threads = [
            threading.Thread(target=self._run, args=(self._workers,), daemon=True),
            threading.Thread(target=self._run, args=(self._deployments,), daemon=True),
        ]

    def start(self) -> Recorder:
        for t in self.threads:
            t.start()
        return self

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=15)

    def _run(self, target: Any) -> None:
        try:
            target()
        except BaseException as e:  # reported by the test
            self.errors.append(e)

    def _stream(self, func: Any, **kwargs: Any) -> Any:
        rv = ""
        while not self.stop.is_set():
            w = self._watch.Watch()
            for event in w.stream(func, namespace=self.ns, resource_version=rv, timeout_seconds=5, **kwargs):
                obj = event["raw_object"]
                rv = obj["metadata"]["resourceVersion"]
                yield event["type"], obj
                if self.stop.is_set():
                    w.stop()
                    return

    def _workers(self) -> None:
        api = self._client.CustomObjectsApi(self.api)
        for kind, obj in self._stream(
            api.list_namespaced_custom_object, group="hatchetkube.io", version="v1alpha1", plural="hatchetworkers"
        ):
            if kind == "DELETED":
                with self.lock:
                    self.worker_deleted[obj["metadata"]["uid"]] = int(obj["metadata"]["resourceVersion"])

    def _deployments(self) -> None:
        api = self._client.AppsV1Api(self.api)
        for kind, obj in self._stream(api.list_namespaced_deployment):
            if kind == "ADDED":
                for ref in obj["metadata"].get("ownerReferences") or []:
                    with self.lock:
                        self.deployment_added[ref["uid"]].append(int(obj["metadata"]["resourceVersion"]))

    def violations(self) -> list[str]:
        out = []
        with self.lock:
            for uid, added in self.deployment_added.items():
                if len(set(added)) > 1:
                    out.append(f"owner {uid}: Deployment added {len(set(added))} times")
                gone = self.worker_deleted.get(uid)
                if gone is not None and any(rv > gone for rv in added):
                    out.append(f"owner {uid}: Deployment added at rv {max(added)} after the owner's deletion at {gone}")
        return out


def test_deleted_workers_never_get_their_deployment_back(
    operator: Operator, cluster: Cluster, kube: ControlPlane
) -> None:
    c = cluster
    c.secret()
    recorder = Recorder(kube, c.ns).start()
    rss: list[float] = []
    created = 0
    try:
        for round_ in range(ROUNDS):
            items = [worker_manifest(f"del-{round_}-{i}", replicas=0) for i in range(PER_ROUND)]
            c.apply({"apiVersion": "v1", "kind": "List", "items": items})
            wait_for(lambda: len(c.list("deployments")) == PER_ROUND, 180, f"round {round_}: {PER_ROUND} Deployments")
            created += PER_ROUND
            c.k("delete", "hatchetworkers", "--all", "--cascade=background", "--wait=false")
            wait_for(
                lambda: not c.list("deployments") and not c.list("hatchetworkers"),
                180,
                f"round {round_}: all gone",
                procs=[operator.proc],
            )
            # Everything the operator kept per HatchetWorker falls back to zero.
            wait_for(
                lambda: (
                    operator.metric("hatchet_operator_tracked_keys") == 0
                    and operator.metric("hatchet_operator_managed_workers") == 0
                ),
                60,
                f"round {round_}: per-key state dropped",
                procs=[operator.proc],
            )
            rss.append(operator.metric("process_resident_memory_bytes"))
            assert not recorder.violations(), recorder.violations()[:10]
        # A late re-creation would show up after the last round too: give it a moment to appear.
        wait_for(lambda: len(recorder.worker_deleted) >= created, 60, "all DELETED events seen")
        assert not c.list("deployments")
    finally:
        recorder.close()
    assert not recorder.errors, recorder.errors
    assert not recorder.violations(), recorder.violations()[:10]
    with recorder.lock:
        assert len(recorder.deployment_added) == created, "every HatchetWorker got exactly one Deployment"
    # No growth with the number of objects that came and went: the last rounds cost no more memory
    # than the early ones (a leak of a few KB per key would be ~10 MB over 2,000 keys).
    early, late = max(rss[:3]), max(rss[-3:])
    assert late <= early * 1.15 + 8 * 2**20, json.dumps({"rss_bytes": rss})
