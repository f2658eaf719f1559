"""Plain in-process counters updated on the task hot path (no locks, no prometheus objects).

Everything that touches these runs on the worker's event loop thread. ``_metrics`` turns a
snapshot into Prometheus families only when ``/metrics`` is scraped, so a worker without the
health server never imports prometheus-client and pays nothing per task.
"""

from __future__ import annotations

import bisect
import dataclasses
import time
from collections.abc import Iterable

DURATION_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                                       30.0, 60.0, 300.0, 900.0, 3600.0)


@dataclasses.dataclass
class Histogram:
    buckets: list[int] = dataclasses.field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, seconds: float) -> None:
        self.buckets[bisect.bisect_left(DURATION_BUCKETS, seconds)] += 1
        self.total += seconds
        self.count += 1


@dataclasses.dataclass
class Stats:
    slot_capacity: dict[str, int] = dataclasses.field(default_factory=dict)
    slots_in_use: dict[str, int] = dataclasses.field(default_factory=dict)
    started: dict[str, int] = dataclasses.field(default_factory=dict)
    succeeded: dict[str, int] = dataclasses.field(default_factory=dict)
    failed: dict[str, int] = dataclasses.field(default_factory=dict)
    cancelled: dict[str, int] = dataclasses.field(default_factory=dict)
    durations: dict[str, Histogram] = dataclasses.field(default_factory=dict)
    listener_reconnects: int = 0
    listener_restarts: int = 0
    """Times the listener subprocess died and was started again."""
    last_heartbeat: float | None = None
    """Wall-clock time of the listener's last successful heartbeat."""
    started_at: float = dataclasses.field(default_factory=time.time)

    def register_actions(self, actions: Iterable[str]) -> None:
        for action in actions:
            for counter in (self.started, self.succeeded, self.failed, self.cancelled):
                counter.setdefault(action, 0)
            self.durations.setdefault(action, Histogram())

    @staticmethod
    def bump(counter: dict[str, int], action: str, by: int = 1) -> None:
        counter[action] = counter.get(action, 0) + by

    def observe(self, action: str, seconds: float) -> None:
        hist = self.durations.get(action)
        if hist is None:
            hist = self.durations[action] = Histogram()
        hist.observe(seconds)

    def heartbeat_age(self, now: float | None = None) -> float | None:
        if self.last_heartbeat is None:
            return None
        return max(0.0, (now or time.time()) - self.last_heartbeat)
