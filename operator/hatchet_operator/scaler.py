"""Carries out an autoscaling decision: the replica count, and the drain steps of a scale-down
(``scaledown.plan``), against the apiserver and the engine. The thin I/O layer around the two pure
modules; every choice is made there.

Writes: the Deployment's ``/scale`` subresource (merge patch, its own field manager, so it never
fights the operator's server-side apply, which leaves ``replicas`` out when autoscaled), the drain
annotations of the chosen pods, and the engine's worker pause. Reads: the HatchetWorker's pods
(only when a scale-down is under way, wanted, or may have been left by a previous leader) and each
draining pod's own ``/metrics`` (slots in use, the worker's view, checked against the engine's).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from hatchet_operator import autoscale, render, scaledown
from hatchet_operator.api import v1alpha1 as api
from hatchet_operator.enginemetrics import EngineClient, EngineError, EngineWorker
from hatchet_operator.kube import ApiError, Client
from hatchet_operator.status import Event

log = logging.getLogger(__name__)

FIELD_MANAGER = "hatchet-operator-autoscaler"
METRICS_TIMEOUT = 3.0


@dataclass
class Memory:
    """What the scaler remembers per HatchetWorker between polls (lost on restart: the pods'
    annotations carry what must survive it)."""

    checked: bool = False
    """The pods were listed at least once (after a start, to find a previous leader's drains)."""
    draining: bool = False
    """Some pod carried a drain annotation at the last listing."""
    removing: tuple[str, ...] = ()
    """Pods the last replica write meant to remove, confirmed at the next listing."""
    acted_on: float | None = None
    """Time of the engine reading the last step acted on (see ``EngineAutoscaling.evaluate``)."""
    note: str = ""
    """That step's note, repeated in the status until the next reading."""
    wrote: int | None = None
    """The replica count this operator last wrote (or first saw), to tell another writer's."""
    external: str | None = None
    """Another autoscaler found writing the Deployment's replicas (see ``external_autoscaler``)."""
    external_seen: int | None = None
    """The foreign count it was last looked for at (looked for again when the count changes)."""


@dataclass(frozen=True)
class Outcome:
    note: str = ""
    events: tuple[Event, ...] = field(default_factory=tuple)
    plan: scaledown.Plan | None = None
    """The scale-down step taken, if one was planned."""


def engine_views(workers: Sequence[EngineWorker]) -> list[scaledown.EngineView]:
    return [
        scaledown.EngineView(w.id, w.labels.get(api.POD_LABEL_KEY), w.used_slots, w.status == "PAUSED")
        for w in workers
    ]


def scaled_up(current: int, replicas: int, reason: str) -> Event:
    return Event("Normal", "ScaledUp", f"scaled up {current} -> {replicas}: {reason}"[:1000])


def scales(hpa: Mapping[str, Any], name: str) -> bool:
    """Whether ``hpa`` targets the HatchetWorker ``name`` or its Deployment (of the same name)."""
    ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
    group = str(ref.get("apiVersion") or "").split("/")[0]
    return ref.get("name") == name and (
        (ref.get("kind") == "Deployment" and group == "apps")
        or (ref.get("kind") == api.KIND and group == api.GROUP)
    )


def slots_in_use(metrics_text: str) -> int:
    """The sum of ``hatchet_worker_slots_in_use`` samples in a Prometheus text exposition."""
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith("hatchet_worker_slots_in_use"):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


class Scaler:
    def __init__(self, client: Client, session: aiohttp.ClientSession) -> None:
        self.client = client
        self.session = session

    async def _pods(self, namespace: str, name: str) -> list[dict[str, Any]]:
        body = await self.client.request(
            "GET",
            f"/api/v1/namespaces/{namespace}/pods",
            params={"labelSelector": render.selector_string(name)},
            resource="pods",
        )
        return list((body or {}).get("items") or ())

    async def local_in_use(self, pods: Sequence[Mapping[str, Any]], port: int) -> dict[str, int | None]:
        """Slots in use by each pod's own ``/metrics``, by pod name (None: not read), read all at once:
        where a network policy drops the operator's packets every read waits out METRICS_TIMEOUT, and
        one after another they would hold up the step (and every HatchetWorker reconciled after it)
        for that times the pods draining."""
        reads = await asyncio.gather(*(self._local_in_use(p, port) for p in pods))
        return {str(p["metadata"]["name"]): n for p, n in zip(pods, reads, strict=True)}

    async def _local_in_use(self, pod: Mapping[str, Any], port: int) -> int | None:
        ip = (pod.get("status") or {}).get("podIP")
        if not ip:
            return None
        try:
            async with self.session.get(
                f"http://{ip}:{port}/metrics", timeout=aiohttp.ClientTimeout(total=METRICS_TIMEOUT)
            ) as r:
                if r.status != 200:
                    return None
                return slots_in_use(await r.text())
        except (aiohttp.ClientError, TimeoutError, ValueError, IndexError):
            return None  # not this SDK's worker, or not reachable from here: the engine's view decides

    async def _annotate(self, namespace: str, pod: str, annotations: Mapping[str, str | None]) -> None:
        try:
            await self.client.request(
                "PATCH",
                f"/api/v1/namespaces/{namespace}/pods/{pod}",
                body={"metadata": {"annotations": dict(annotations)}},
                content_type="application/merge-patch+json",
                params={"fieldManager": FIELD_MANAGER},
                resource="pods",
            )
        except ApiError as e:
            if e.status != 404:
                raise

    async def external_autoscaler(self, namespace: str, name: str) -> str | None:
        """``HorizontalPodAutoscaler/<name>`` of an HPA (KEDA's included) that scales the HatchetWorker
        ``name`` or its Deployment, else None (also when the operator may not list HPAs: then a foreign
        write of the replicas is taken for a one-off, such as ``kubectl scale``)."""
        try:
            body = await self.client.request(
                "GET", f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers",
                resource="horizontalpodautoscalers",
            )
        except ApiError as e:
            if e.status in (403, 404):
                log.warning("%s/%s: cannot list HorizontalPodAutoscalers: %s", namespace, name, e)
                return None
            raise
        for hpa in (body or {}).get("items") or ():
            if scales(hpa, name):
                return f"HorizontalPodAutoscaler/{(hpa.get('metadata') or {}).get('name')}"
        return None

    async def scale_to(self, memory: Memory, namespace: str, name: str, replicas: int) -> None:
        memory.wrote = replicas
        await self.client.request(
            "PATCH",
            f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
            body={"spec": {"replicas": replicas}},
            content_type="application/merge-patch+json",
            params={"fieldManager": FIELD_MANAGER},
            resource="deployments/scale",
        )

    async def release_all(self, worker: api.HatchetWorker, engine: EngineClient) -> list[str]:
        """Give back every pod of the HatchetWorker marked for a scale-down; the pods released."""
        namespace, name = worker.metadata.namespace or "default", worker.metadata.name
        released = []
        for pod in map(scaledown.Pod.of, await self._pods(namespace, name)):
            if pod.draining is None or pod.terminating:
                continue
            try:
                await engine.set_paused(pod.draining[0], False)
            except EngineError as e:
                if e.status != 404:
                    raise
            await self._annotate(namespace, pod.name, {scaledown.DRAIN_ANNOTATION: None,
                                                       scaledown.DELETION_COST: None})
            released.append(pod.name)
        return released

    async def step(
        self,
        memory: Memory,
        worker: api.HatchetWorker,
        decision: autoscale.Decision,
        engine_workers: Sequence[EngineWorker],
        engine: EngineClient,
        current: int,
        *,
        metrics_ok: bool,
        now: float,
        read_at: float | None = None,
    ) -> Outcome:
        """One poll's worth of scaling for one HatchetWorker."""
        namespace, name = worker.metadata.namespace or "default", worker.metadata.name
        events: list[Event] = []
        need_pods = not memory.checked or memory.draining or bool(memory.removing) or decision.desired < current
        if not need_pods:
            if decision.desired > current:
                await self.scale_to(memory, namespace, name, decision.desired)
                events.append(scaled_up(current, decision.desired, decision.reason))
            return Outcome(events=tuple(events))

        bodies = await self._pods(namespace, name)
        pods = [scaledown.Pod.of(b) for b in bodies]
        memory.checked = True
        if memory.removing:
            kept, others = scaledown.confirm(memory.removing, pods)
            if others:
                events.append(Event("Warning", "ScaleDownMismatch",
                                    f"pods {', '.join(others)} are going instead of the drained "
                                    f"{', '.join(memory.removing)}"))
            if not kept or others:
                memory.removing = ()
        if not metrics_ok:
            # No engine data: nothing is drained or given back on a stale view. The decision never
            # goes down then; it may go up (back to the last decision made with data).
            memory.draining = any(p.draining for p in pods)
            if decision.desired > current:
                await self.scale_to(memory, namespace, name, decision.desired)
                events.append(scaled_up(current, decision.desired, decision.reason))
            return Outcome("engine metrics unavailable: scale-down steps wait", tuple(events))
        port = (worker.spec.health_check or api.HealthCheck()).port
        local = await self.local_in_use([b for b, p in zip(bodies, pods, strict=True)
                                         if p.draining is not None and not p.terminating], port)
        pods = [
            p if p.name not in local
            else scaledown.Pod(p.name, p.ready, p.terminating, p.template, p.draining, local[p.name])
            for p in pods
        ]
        drain_timeout = (worker.spec.drain or api.Drain()).timeout_seconds
        plan = scaledown.plan(decision, current, pods, engine_views(engine_workers), now=now,
                              drain_timeout=drain_timeout, read_at=read_at)
        for pod, worker_id in plan.release:
            try:
                await engine.set_paused(worker_id, False)
            except EngineError as e:
                if e.status != 404:  # a worker the engine no longer has needs no unpause
                    raise
            await self._annotate(namespace, pod, {scaledown.DRAIN_ANNOTATION: None, scaledown.DELETION_COST: None})
            events.append(Event("Normal", "DrainCancelled", f"gave back pod {pod} (worker {worker_id}): "
                                f"{plan.note}"[:1000]))
        for pod, worker_id in plan.drain:
            # The annotation first: if the operator stops between the two writes, the next leader
            # finds the pod marked and gives the worker back or finishes the removal.
            await self._annotate(namespace, pod, {scaledown.DRAIN_ANNOTATION: scaledown.drain_value(worker_id, now),
                                                  scaledown.DELETION_COST: scaledown.REMOVAL_COST})
            try:
                await engine.set_paused(worker_id, True)
            except EngineError:
                await self._annotate(namespace, pod, {scaledown.DRAIN_ANNOTATION: None,
                                                      scaledown.DELETION_COST: None})
                raise
            events.append(Event("Normal", "Draining", f"paused worker {worker_id} of pod {pod} for a scale-down"))
        for worker_id in plan.pause:
            await engine.set_paused(worker_id, True)
        if plan.replicas is not None:
            await self.scale_to(memory, namespace, name, plan.replicas)
            if plan.replicas > current:
                events.append(scaled_up(current, plan.replicas, decision.reason))
            else:
                removed = ", ".join(plan.removing) or "pods with no registered worker"
                events.append(Event("Normal", "ScaledDown", f"scaled down {current} -> {plan.replicas}, removing "
                                    f"{removed} (drained: no task running)"))
                memory.removing = plan.removing
        memory.draining = bool(plan.drain) or any(
            p.draining for p in pods if not p.terminating and p.name not in {n for n, _ in plan.release}
        )
        # Each scale-down step in the log too (Events expire, and a test's failure shows the log's tail).
        for event in events:
            log.info("%s/%s: %s: %s", namespace, name, event.reason, event.message)
        if plan.note:
            log.info("%s/%s: scale-down step: %s", namespace, name, plan.note)
        return Outcome(plan.note, tuple(events), plan)
