"""Per-HatchetWorker autoscaling state between polls, and the ``status.autoscaling`` it reports.

The decision (``autoscale.decide``) is pure and the engine reads (``enginemetrics``) are per
tenant; this is what sits between them for one HatchetWorker: the recommendation history, the
last decision made with data, since when each worker has been idle, the actions remembered when
the workers are gone, and the status written from all of it. ``EngineAutoscaling`` is the
reconciler's hook: it writes status.autoscaling and, through ``scaler.Scaler``, the replica count
and the drain steps of a scale-down (see docs/autoscaling.md).

``status.autoscaling`` only changes when a decision or its inputs change: the time of the reading
is carried over from the previous status when nothing else moved, so an idle fleet causes no
status writes.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from hatchet_operator import autoscale, render, scaledown
from hatchet_operator.api import autoscaling as api
from hatchet_operator.api import v1alpha1
from hatchet_operator.enginemetrics import EngineClient, IdleClock, Reading, TenantPoller, to_inputs, token_claims
from hatchet_operator.kube import Client
from hatchet_operator.metrics import Metrics
from hatchet_operator.scaler import Memory, Outcome, Scaler
from hatchet_operator.status import Event

log = logging.getLogger(__name__)


def rfc3339(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def remembered_actions(previous: Mapping[str, Any] | None) -> list[str]:
    """The actions recorded in a previous ``status.autoscaling`` (wire form)."""
    return [str(a) for a in ((previous or {}).get("actions") or ())]


@dataclass
class State:
    """One HatchetWorker's autoscaler memory (lost on an operator restart, which the decision's
    no-history rule makes safe: a scale-down then waits a full window)."""

    history: tuple[autoscale.Recommendation, ...] = ()
    last_good: int | None = None
    idle: IdleClock = field(default_factory=IdleClock)
    scaling: Memory = field(default_factory=Memory)

    def step(
        self,
        spec: api.Autoscaling,
        reading: Reading,
        *,
        now: float,
        current_replicas: int,
        spec_slots: int | None,
        labels: Mapping[str, str],
        previous: Mapping[str, Any] | None = None,
    ) -> tuple[autoscale.Decision, dict[str, Any]]:
        """Decide from one reading; returns the decision and the new ``status.autoscaling``."""
        idle_since = self.idle.update(reading.workers, now) if reading.ok else {}
        inputs = to_inputs(
            reading,
            now=now,
            current_replicas=current_replicas,
            spec_slots=spec_slots,
            labels=labels,
            idle_since=idle_since,
        )
        decision = autoscale.decide(autoscale.Policy.of(spec), inputs, self.history, self.last_good)
        self.history = decision.history
        if reading.ok:
            self.last_good = decision.desired
        return decision, status_of(decision, inputs, reading, previous, now)


def status_of(
    decision: autoscale.Decision,
    inputs: autoscale.Inputs,
    reading: Reading,
    previous: Mapping[str, Any] | None,
    now: float,
) -> dict[str, Any]:
    """``status.autoscaling`` (wire form), validated by the model the CRD is generated from."""
    actions = sorted(set(reading.actions) | set(remembered_actions(previous)))
    out: dict[str, Any] = {
        "desiredReplicas": decision.desired,
        "metricsAvailable": reading.ok,
        "reason": decision.reason,
        "actions": actions[: api.MAX_ACTIONS],
    }
    if len(actions) > api.MAX_ACTIONS:
        out["actionsTruncated"] = True
    if reading.ok:
        out.update(
            queued=decision.queued,
            running=decision.running,
            workers=len(inputs.workers),
            busyWorkers=decision.busy_workers,
            idleWorkers=decision.idle_workers,
        )
        if inputs.slots_per_worker is not None:
            out["slotsPerWorker"] = inputs.slots_per_worker
    else:
        # Keep the inputs of the last decision made with data: they are what the count stands on.
        for k in ("queued", "running", "workers", "busyWorkers", "idleWorkers", "slotsPerWorker"):
            if previous and k in previous:
                out[k] = previous[k]
    before = dict(previous or {})
    moved = {k: v for k, v in out.items() if k != "reason"} != {
        k: v for k, v in before.items()
        if k not in ("reason", "lastMetricsTime", "lastScaleTime", "externalAutoscaler")
    }
    if reading.ok:
        out["lastMetricsTime"] = (
            rfc3339(reading.at) if moved or "lastMetricsTime" not in before else before["lastMetricsTime"]
        )
    elif "lastMetricsTime" in before:
        out["lastMetricsTime"] = before["lastMetricsTime"]
    if previous is None or previous.get("desiredReplicas") != decision.desired:
        out["lastScaleTime"] = rfc3339(now)
    elif "lastScaleTime" in before:
        out["lastScaleTime"] = before["lastScaleTime"]
    if not moved and "reason" in before:
        out["reason"] = before["reason"]  # the same decision from the same inputs: same words
    return api.AutoscalingStatus.model_validate(out).model_dump(by_alias=True, exclude_none=True, mode="json")


class Pollers:
    """One ``TenantPoller`` per (REST address, tenant), shared by all HatchetWorkers on that tenant."""

    def __init__(self, session: aiohttp.ClientSession, interval: float = 15.0) -> None:
        self.session = session
        self.interval = interval
        self._pollers: dict[tuple[str, str], TenantPoller] = {}

    def for_token(self, rest_url: str, token: str) -> TenantPoller:
        tenant = str(token_claims(token)["sub"])
        key = (rest_url.rstrip("/"), tenant)
        poller = self._pollers.get(key)
        if poller is None:
            poller = self._pollers[key] = TenantPoller(EngineClient(rest_url, token, self.session), self.interval)
        return poller

    def __len__(self) -> int:
        return len(self._pollers)


@dataclass(frozen=True)
class Evaluation:
    status: dict[str, Any]
    """The new ``status.autoscaling``."""
    events: tuple[Event, ...] = ()


class EngineAutoscaling:
    """The reconciler's autoscaling hook: it reads the engine, reports the decision in
    ``status.autoscaling`` and, given a Kubernetes client, carries it out (``scaler.Scaler``; without
    one it only reports: a dry run).

    Per HatchetWorker it needs the token (read from its Secret, which the operator may ``get``) and
    the REST address (``spec.hatchet.serverUrl``, else the token's ``server_url`` claim). Pollers
    start on first use; each poll calls ``on_poll`` with the keys it refreshed (the reconciler
    reconciles them, and writes the status only if it changed).
    """

    def __init__(
        self,
        get_secret: Callable[[str, str], Awaitable[Mapping[str, Any] | None]],
        on_poll: Callable[[list[Any]], Awaitable[None]],
        *,
        interval: float = 15.0,
        clock: Callable[[], float] = time.time,
        kube: Client | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._get_secret = get_secret
        self._on_poll = on_poll
        self._interval = interval
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._pollers: Pollers | None = None
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._states: dict[Any, State] = {}
        self._poller_of: dict[Any, TenantPoller] = {}
        self._kube = kube
        self._metrics = metrics
        self._scaler: Scaler | None = None

    async def _token(self, namespace: str, ref: v1alpha1.TokenSecretRef) -> str:
        secret = await self._get_secret(namespace, ref.name)
        if secret is None:
            raise LookupError(f"Secret {ref.name!r} does not exist")
        data = (secret.get("data") or {}).get(ref.key)
        if data is None:
            raise LookupError(f"Secret {ref.name!r} has no key {ref.key!r}")
        return base64.b64decode(data).decode().strip()

    async def _poller(self, worker: v1alpha1.HatchetWorker) -> TenantPoller:
        """The poller of the HatchetWorker's tenant (token from its Secret, REST address from the spec
        or the token); LookupError or ValueError when either cannot be had."""
        conn = worker.spec.hatchet or v1alpha1.HatchetConnection()
        token = await self._token(worker.metadata.namespace or "default", conn.token_secret_ref)
        rest_url = conn.server_url or str(token_claims(token).get("server_url") or "")
        if not rest_url:
            raise LookupError("no spec.hatchet.serverUrl and no server_url claim in the token")
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._pollers = Pollers(self._session, self._interval)
            if self._kube is not None:
                self._scaler = Scaler(self._kube, self._session)
        assert self._pollers is not None
        return self._pollers.for_token(rest_url, token)

    async def stop_scaling(self, key: Any, worker: v1alpha1.HatchetWorker) -> bool:
        """``spec.autoscaling`` was removed: give back every worker a scale-down was draining (unpause,
        remove the pod annotations), forget the HatchetWorker. True when done (``status.autoscaling``
        may then go); False when the engine or its token cannot be reached yet (try again later)."""
        self.forget(key)
        try:
            poller = await self._poller(worker)
        except (LookupError, ValueError) as e:
            log.warning("%s/%s: cannot give back draining workers yet: %s", *key, e)
            return False
        if self._scaler is not None:
            await self._scaler.release_all(worker, poller.client)
        return True

    def _start(self, poller: TenantPoller) -> None:
        if id(poller) in self._tasks:
            return
        poller.on_poll = self._on_poll
        self._tasks[id(poller)] = asyncio.get_running_loop().create_task(poller.run(), name="autoscaling-poll")

    async def evaluate(
        self,
        key: Any,
        worker: v1alpha1.HatchetWorker,
        current_replicas: int,
        previous: Mapping[str, Any] | None,
    ) -> Evaluation:
        """The new ``status.autoscaling`` of an autoscaled HatchetWorker (``worker``: the model), after
        the scaling step it called for."""
        spec = worker.spec
        assert spec.autoscaling is not None
        now = self._clock()
        try:
            poller = await self._poller(worker)
        except (LookupError, ValueError) as e:
            return Evaluation(_unavailable(previous, f"cannot read the engine: {e}"))
        old = self._poller_of.get(key)
        if old is not None and old is not poller:
            old.unwatch(key)
        self._poller_of[key] = poller
        owner = render.owner_labels(worker)
        poller.watch(key, owner, remembered_actions(previous))
        self._start(poller)
        reading = poller.reading(key)
        if reading is None:
            return Evaluation(_unavailable(previous, "waiting for the first reading from the engine"))
        state = self._states.setdefault(key, State())
        labels = {**{k: str(v) for k, v in (spec.labels or {}).items()}, **owner}
        decision, status = state.step(
            spec.autoscaling,
            reading,
            now=now,
            current_replicas=current_replicas,
            spec_slots=spec.slots,
            labels=labels,
            previous=previous,
        )
        if self._metrics is not None and reading.ok:
            self._observe(key, decision, status)
        if self._scaler is None:
            return Evaluation(status)
        memory = state.scaling
        external, events = await self._external(memory, worker, current_replicas)
        if external is not None:
            # Two autoscalers would fight over the count: this one stands aside, and gives back any
            # drain of its own that was under way.
            if memory.draining or memory.removing:
                await self._scaler.release_all(worker, poller.client)
                memory.draining, memory.removing = False, ()
            status = {**status, "externalAutoscaler": external,
                      "reason": f"not scaling: {external} writes the Deployment's replicas"}
            return Evaluation(status, events)
        if memory.acted_on == reading.at:
            # A reconcile for another reason (often a Deployment event the last step's own write
            # caused) does not act again on the same, now stale reading: it waits for the next one.
            outcome = Outcome(memory.note)
        else:
            outcome = await self._scaler.step(
                memory, worker, decision, reading.workers, poller.client, current_replicas,
                metrics_ok=reading.ok, now=now, read_at=reading.at,
            )
            memory.acted_on, memory.note = reading.at, outcome.note
            delay = scaledown.early_poll(decision, outcome.plan, now)
            if delay is not None:
                poller.poll_soon(delay)
        if self._metrics is not None:
            for event in outcome.events:
                if event.reason in ("ScaledUp", "ScaledDown"):
                    self._metrics.as_scale_events.labels(*key, "up" if event.reason == "ScaledUp" else "down").inc()
                elif event.reason == "Draining":
                    self._metrics.as_drained.labels(*key).inc()
        if outcome.note and outcome.note not in status["reason"]:
            status["reason"] = f"{status['reason']}; {outcome.note}"[: api.REASON_LIMIT]
        return Evaluation(status, outcome.events)

    async def _external(
        self, memory: Memory, worker: v1alpha1.HatchetWorker, current: int
    ) -> tuple[str | None, tuple[Event, ...]]:
        """Another autoscaler writing the replicas (``HorizontalPodAutoscaler/<name>``), or None; and
        the Warning to post when it is newly found.

        The sign of one is a Deployment count this operator did not write (the HPA controller's
        writes through ``/scale`` leave no owner of ``spec.replicas`` in managedFields, so that
        cannot tell). Only then are the namespace's HPAs listed: once per such count while none is
        found (the write was a one-off, such as ``kubectl scale``, which the next scaling step
        overrides), and on every evaluation while one is (so its removal is noticed at the next
        poll, though the count it left behind does not change). After an operator restart the
        first count seen is taken as its own, so an HPA is found at its next write.
        """
        assert self._scaler is not None
        if memory.wrote is None:
            memory.wrote = current
        if current == memory.wrote:
            memory.external = memory.external_seen = None
            return None, ()
        if memory.external is None and memory.external_seen == current:
            return None, ()
        found = await self._scaler.external_autoscaler(worker.metadata.namespace or "default", worker.metadata.name)
        events: tuple[Event, ...] = ()
        if found is not None and found != memory.external:
            events = (Event("Warning", "ExternalAutoscaler",
                            f"{found} also scales this HatchetWorker (it set the Deployment's replicas to {current}; "
                            f"this operator last set {memory.wrote}): spec.autoscaling does not scale while it "
                            "does; remove one"),)
        memory.external, memory.external_seen = found, current
        return found, events

    def _observe(self, key: Any, decision: autoscale.Decision, status: Mapping[str, Any]) -> None:
        assert self._metrics is not None
        m = self._metrics
        m.as_queued.labels(*key).set(decision.queued)
        m.as_running.labels(*key).set(decision.running)
        m.as_desired.labels(*key).set(decision.desired)
        offered = int(status.get("workers", 0)) * int(status.get("slotsPerWorker", 0))
        m.as_utilization.labels(*key).set(decision.running / offered if offered else 0.0)

    def forget(self, key: Any) -> None:
        if self._metrics is not None:
            self._metrics.forget_autoscaled(*key)
        self._states.pop(key, None)
        poller = self._poller_of.pop(key, None)
        if poller is not None:
            poller.unwatch(key)

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        if self._session is not None:
            await self._session.close()


def _unavailable(previous: Mapping[str, Any] | None, why: str) -> dict[str, Any]:
    """Keep the previous decision and inputs; say why there is no new one."""
    out = dict(previous or {})
    out["metricsAvailable"] = False
    out["reason"] = why[: api.REASON_LIMIT]
    return api.AutoscalingStatus.model_validate(out).model_dump(by_alias=True, exclude_none=True, mode="json")
