"""Per-HatchetWorker autoscaling state between polls, and the ``status.autoscaling`` it reports.

The decision (``autoscale.decide``) is pure and the engine reads (``enginemetrics``) are per
tenant; this is what sits between them for one HatchetWorker: the recommendation history, the
last decision made with data, since when each worker has been idle, the actions remembered when
the workers are gone, and the status written from all of it. Not wired into the reconciler yet
(see docs/autoscaling.md).

``status.autoscaling`` only changes when a decision or its inputs change: the time of the reading
is carried over from the previous status when nothing else moved, so an idle fleet causes no
status writes.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from hatchet_operator import autoscale
from hatchet_operator.api import autoscaling as api
from hatchet_operator.enginemetrics import EngineClient, IdleClock, Reading, TenantPoller, to_inputs, token_claims


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
        k: v for k, v in before.items() if k not in ("reason", "lastMetricsTime", "lastScaleTime")
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
