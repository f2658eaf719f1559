"""The operator's own Prometheus metrics (a private registry: no global state, testable)."""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector


class Metrics:
    """All series the operator exports at /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.reconciles = Counter(
            "hatchet_operator_reconcile",
            "Reconciles by result: applied (the Deployment was written), unchanged (nothing to write), "
            "degraded (a problem was reported), error (will be retried).",
            ["result"],
            registry=self.registry,
        )
        self.reconcile_seconds = Histogram(
            "hatchet_operator_reconcile_duration_seconds",
            "Wall time of one reconcile, including API writes.",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.managed = Gauge(
            "hatchet_operator_managed_workers",
            "HatchetWorkers currently known to the operator.",
            registry=self.registry,
        )
        self.tracked = Gauge(
            "hatchet_operator_tracked_keys",
            "HatchetWorkers the reconciler keeps per-key state for (falls back as HatchetWorkers go).",
            registry=self.registry,
        )
        self.errors = Counter(
            "hatchet_operator_errors",
            "Errors by kind (api, invalid_spec, internal).",
            ["kind"],
            registry=self.registry,
        )
        self.writes = Counter(
            "hatchet_operator_api_writes",
            "API write requests sent, by resource, verb and HTTP status code.",
            ["resource", "verb", "code"],
            registry=self.registry,
        )
        self.leader = Gauge(
            "hatchet_operator_leader", "1 while this replica holds the leader Lease.", registry=self.registry
        )
        self.watch_age = Gauge(
            "hatchet_operator_watch_heartbeat_age_seconds",
            "Seconds since the leader's Lease renewal was last seen through the watch.",
            registry=self.registry,
        )

        # Autoscaling, per HatchetWorker with spec.autoscaling: the numbers its decisions stand on, so
        # an HPA or KEDA (through a Prometheus adapter) can use the same ones.
        per = ["namespace", "hatchetworker"]
        self.as_queued = Gauge(
            "hatchet_operator_autoscaling_queued_tasks",
            "Tasks queued at the engine for the actions this HatchetWorker serves (last good reading).",
            per,
            registry=self.registry,
        )
        self.as_running = Gauge(
            "hatchet_operator_autoscaling_running_slots",
            "Slots in use on this HatchetWorker's workers, by the engine's slot view.",
            per,
            registry=self.registry,
        )
        self.as_utilization = Gauge(
            "hatchet_operator_autoscaling_slot_utilization",
            "Slots in use / slots offered by this HatchetWorker's registered workers (0-1; 0 with no workers).",
            per,
            registry=self.registry,
        )
        self.as_desired = Gauge(
            "hatchet_operator_autoscaling_desired_replicas",
            "Replicas the last decision asked for.",
            per,
            registry=self.registry,
        )
        self.as_scale_events = Counter(
            "hatchet_operator_autoscaling_scale_events",
            "Replica count changes written, by direction (up, down).",
            [*per, "direction"],
            registry=self.registry,
        )
        self.as_drained = Counter(
            "hatchet_operator_autoscaling_workers_drained",
            "Workers paused at the engine for a scale-down (each then removed, or given back).",
            per,
            registry=self.registry,
        )

    def forget_autoscaled(self, namespace: str, name: str) -> None:
        """Drop the per-HatchetWorker autoscaling series (the resource is gone or no longer autoscaled)."""
        for gauge in (self.as_queued, self.as_running, self.as_utilization, self.as_desired, self.as_drained):
            with contextlib.suppress(KeyError):
                gauge.remove(namespace, name)
        for direction in ("up", "down"):
            with contextlib.suppress(KeyError):
                self.as_scale_events.remove(namespace, name, direction)

    def write(self, resource: str, verb: str, code: int) -> None:
        self.writes.labels(resource=resource, verb=verb, code=str(code)).inc()
