"""Prometheus exposition of the worker's state, built at scrape time from ``_stats.Stats``.

Imported lazily by the health server. Uses its own registry (not the global one) so several
workers in one process, or a user's own metrics, never collide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.process_collector import ProcessCollector

from hatchet_worker._stats import DURATION_BUCKETS, Stats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _WorkerCollector:
    def __init__(self, stats: Stats, healthy: Callable[[], bool]) -> None:
        self._stats = stats
        self._healthy = healthy

    def collect(self) -> Iterator[Any]:
        s = self._stats
        cap = GaugeMetricFamily("hatchet_worker_slots", "Slots the worker offers, per slot pool",
                                labels=["slot_type"])
        used = GaugeMetricFamily("hatchet_worker_slots_in_use", "Slots occupied by running tasks",
                                 labels=["slot_type"])
        free = GaugeMetricFamily("hatchet_worker_slots_available", "Slots free for new tasks",
                                 labels=["slot_type"])
        for kind, total in sorted(s.slot_capacity.items()):
            busy = s.slots_in_use.get(kind, 0)
            cap.add_metric([kind], total)
            used.add_metric([kind], busy)
            free.add_metric([kind], max(0, total - busy))
        yield from (cap, used, free)
        for name, counter, help_text in (
            ("hatchet_worker_tasks_started", s.started, "Tasks started"),
            ("hatchet_worker_tasks_succeeded", s.succeeded, "Tasks that completed successfully"),
            ("hatchet_worker_tasks_failed", s.failed, "Tasks that raised"),
            ("hatchet_worker_tasks_cancelled", s.cancelled, "Tasks cancelled by the engine"),
        ):
            fam = CounterMetricFamily(name, help_text, labels=["action"])
            for action, value in sorted(counter.items()):
                fam.add_metric([action], value)
            yield fam
        hist = HistogramMetricFamily("hatchet_worker_task_duration_seconds", "Task run time",
                                     labels=["action"])
        for action, h in sorted(s.durations.items()):
            cumulative, buckets = 0, []
            for bound, count in zip((*DURATION_BUCKETS, float("inf")), h.buckets, strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            hist.add_metric([action], buckets, h.total)
        yield hist
        yield CounterMetricFamily("hatchet_worker_listener_reconnects",
                                  "Times the action listener re-established its engine session",
                                  value=s.listener_reconnects)
        yield CounterMetricFamily("hatchet_worker_listener_restarts",
                                  "Times the action listener subprocess died and was started again",
                                  value=s.listener_restarts)
        age = s.heartbeat_age()
        yield GaugeMetricFamily("hatchet_worker_heartbeat_age_seconds",
                                "Seconds since the last successful heartbeat (-1: none yet)",
                                value=-1.0 if age is None else age)
        yield GaugeMetricFamily("hatchet_worker_listener_health", "1 when the worker is HEALTHY",
                                value=1.0 if self._healthy() else 0.0)


class Metrics:
    def __init__(self, stats: Stats, healthy: Callable[[], bool]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_WorkerCollector(stats, healthy))
        ProcessCollector(registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
