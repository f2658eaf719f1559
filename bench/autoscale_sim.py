"""A deterministic discrete-time simulator of one HatchetWorker's queue, pods and autoscaler.

It exists to compare the operator's autoscaler with the rule a KEDA metrics-api trigger would give
the HPA, on the same recorded workload (``bench/autoscale.py``), and to let unit tests check
properties of the real decision code over long simulated runs
(``tests/unit/operator/test_autoscale_simulated.py``).

``Ours`` drives the project's real code, called as the operator calls it: each poll builds the
engine's worker list (``EngineWorker`` rows with the ``hatchetworker`` and ``hatchetworker-pod``
labels, slots as ``(available, limit)``) and a ``Reading``, steps ``autoscaler.State`` (which runs
``IdleClock``, ``to_inputs`` and ``autoscale.decide``), then asks ``scaledown.plan`` for the next
step with the pods as the Scaler would list them, and carries the plan out: release, drain (pause),
re-pause, replica write. Nothing of the decision is reimplemented here.

The model (every figure is a parameter of ``Setup``; see bench/README.md for the defaults):

* Engine: one FIFO queue; each tick, queued tasks go to a free slot of a registered worker the
  scheduler does not hold paused (it reads which are paused every ``scheduler_refresh`` seconds,
  so a worker just paused can still be given tasks until its next read), by default a slot picked
  uniformly at random among all free ones (so load spreads over the workers: the assumption least
  favourable to ours, which can only remove idle ones); ``assign="pack"`` fills the busiest worker
  first instead.
* Pods: a created pod registers its worker about ``pod_start`` seconds later (Ready from then on).
* ReplicaSet controller: a lower count removes not-Ready pods first, then the lowest
  ``pod-deletion-cost``, then the pods Ready for the shortest time (``_rank``). A removed pod kills what it runs; each
  killed task is queued again after ``retry_delay`` (the engine's retry) and runs from the start.
* Polls: every ``poll`` seconds, and sooner when ours asks (``scaledown.early_poll``: when a
  reading can show its draining pods drained, ``CONFIRM_SECONDS`` after their drain started, and
  when its scale-down window lets the count go lower), no sooner than ``MIN_INTERVAL`` after the
  last poll; the interval then counts from that poll, as the operator's ``TenantPoller`` does. The
  reading is taken before that tick's assignments and acted on after them, so a worker can take a
  task between the reading and its pause, and until the scheduler reads the pause (the races the
  drain's wait step exists for); the worker's own slot count (``local_in_use``) is read at act
  time.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hatchet_operator import scaledown
from hatchet_operator.api import autoscaling as api
from hatchet_operator.api import v1alpha1
from hatchet_operator.autoscaler import State
from hatchet_operator.enginemetrics import MIN_INTERVAL, EngineWorker, Reading
from hatchet_operator.scaler import engine_views

ACTION = "bench:task"
OWNER = "bench"


@dataclass(frozen=True)
class Setup:
    """One HatchetWorker's settings and the cluster's timings."""

    slots: int = 5
    min_replicas: int = 0
    max_replicas: int = 10
    initial_replicas: int = 0
    target_percent: int = 80
    up_window: float = 0.0
    down_window: float = 300.0
    poll: float = 15.0
    pod_start: float = 10.0
    pod_start_jitter: float = 0.3
    """Each pod's start time is uniform in pod_start x (1 +- this) (seeded): pods of one scale-up do
    not all register in the same instant."""
    drain_timeout: float = 300.0
    retry_delay: float = 0.0
    assign: str = "spread"
    """How the engine picks a free slot: ``spread`` (uniformly at random among all free slots) or
    ``pack`` (on the busiest worker with a free slot first, which leaves other workers idle)."""
    scheduler_refresh: float = 5.0
    """The engine's scheduler reads which workers are paused this often (its lease manager), so a
    worker paused since its last read can still be given tasks until the next one."""
    dt: float = 0.1
    horizon: float = 600.0


@dataclass
class Task:
    id: int
    arrival: float
    duration: float
    queued_at: float = 0.0
    waited: float = 0.0
    """Time spent queued, summed over every attempt."""
    attempts: int = 0
    done: float | None = None


@dataclass
class Pod:
    name: str
    ready_at: float
    running: list[tuple[float, Task]] = field(default_factory=list)
    """(end time, task) of each task in flight."""
    paused: bool = False
    draining: tuple[str, float] | None = None
    cost: int = 0

    @property
    def worker_id(self) -> str:
        return f"w-{self.name}"


@dataclass
class Result:
    name: str
    tasks: int
    finished: int
    interrupted: int
    """Task executions killed by a pod removal."""
    lost_seconds: float
    """Run time of the killed executions (work done twice)."""
    idle_slot_seconds: float
    """Slots of existing pods (starting ones included: they are paid for) not running a task."""
    pod_seconds: float
    wait_p50: float
    wait_p99: float
    wait_max: float
    scale_up: int
    scale_down: int
    last_done: float
    replicas: list[tuple[float, int]]
    """(time, count) after each replica write, starting with the initial count."""

    @property
    def scale_events(self) -> int:
        return self.scale_up + self.scale_down


class Controller(Protocol):
    name: str

    def poll(self, cluster: Cluster, reading: Reading, now: float) -> None: ...


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


class Cluster:
    """The Deployment, its pods, the engine's queue and the accounting."""

    def __init__(self, setup: Setup, trace: Sequence[tuple[float, float]], seed: int) -> None:
        self.setup = setup
        self.rng = random.Random(seed)
        self.tasks = [Task(i, a, d) for i, (a, d) in enumerate(sorted(trace))]
        self.pending = deque(self.tasks)  # not yet arrived, by arrival time
        self.retries: list[tuple[float, Task]] = []  # killed tasks, queued again at the given time
        self.queue: deque[Task] = deque()
        self.pods: list[Pod] = []
        self.replicas = 0
        self.serial = 0
        self.interrupted = 0
        self.lost = 0.0
        self.idle_slot_seconds = 0.0
        self.pod_seconds = 0.0
        self.ups = self.downs = 0
        self.history: list[tuple[float, int]] = []
        self.soon: float | None = None
        """A poll the autoscaler asked for before the interval ends (``TenantPoller.poll_soon``)."""
        # The scheduler's view of paused workers, read at its own refresh (its phase seeded apart, so
        # the other draws of a seed stay as they were).
        self.refresh_at = random.Random(seed + 1_000_003).uniform(0.0, setup.scheduler_refresh)
        self.scheduler_paused: set[str] = set()
        self._scale(setup.initial_replicas, 0.0, count=False)
        for p in self.pods:
            p.ready_at = 0.0  # the initial fleet is up already

    # -- Kubernetes ------------------------------------------------------------------------------

    def scale_to(self, replicas: int, now: float) -> None:
        """A write of the Deployment's replica count, carried out at once by the ReplicaSet."""
        if replicas != self.replicas:
            self._scale(replicas, now, count=True)

    def _scale(self, replicas: int, now: float, *, count: bool) -> None:
        if count:
            if replicas > self.replicas:
                self.ups += 1
            else:
                self.downs += 1
        self.replicas = replicas
        self.history.append((now, replicas))
        while len(self.pods) < replicas:
            self.serial += 1
            spread = self.setup.pod_start * self.setup.pod_start_jitter
            start = self.setup.pod_start + self.rng.uniform(-spread, spread)
            self.pods.append(Pod(f"pod-{self.serial}", now + start))
        if len(self.pods) > replicas:
            ranked = sorted(self.pods, key=lambda p: self._rank(p, now))
            for pod in ranked[: len(self.pods) - replicas]:
                self._remove(pod, now)

    def _rank(self, pod: Pod, now: float) -> tuple[bool, int, int, float]:
        """The ReplicaSet controller's order of removal (lowest first), for pods on one node: not
        Ready first, then the lowest deletion cost, then the shortest time Ready in powers of two
        (its LogarithmicScaleDown buckets), then at random (it compares UIDs; seeded here)."""
        ready = pod.ready_at <= now
        bucket = int(math.log2(now - pod.ready_at + 1)) if ready else 0
        return ready, pod.cost, bucket, self.rng.random()

    def _remove(self, pod: Pod, now: float) -> None:
        self.pods.remove(pod)
        for end, task in pod.running:
            # Killed mid-run: the engine retries it (a new attempt, from the start).
            self.interrupted += 1
            self.lost += now - (end - task.duration)
            self.retries.append((now + self.setup.retry_delay, task))
        pod.running.clear()

    def ready(self, pod: Pod, now: float) -> bool:
        return pod.ready_at <= now

    def used(self, pod: Pod) -> int:
        return len(pod.running)

    # -- the engine ------------------------------------------------------------------------------

    def reading(self, now: float) -> Reading:
        """What one tenant poll would return for this HatchetWorker (the worker list and task-stats)."""
        workers = tuple(
            EngineWorker(
                id=p.worker_id,
                name=p.name,
                status="PAUSED" if p.paused else "ACTIVE",
                actions=frozenset({ACTION}),
                labels={v1alpha1.OWNER_LABEL_KEY: OWNER, v1alpha1.POD_LABEL_KEY: p.name},
                slots={"default": (self.setup.slots - self.used(p), self.setup.slots)},
            )
            for p in self.pods
            if self.ready(p, now)
        )
        return Reading(
            at=now, ok=True, error=None, workers=workers, actions=frozenset({ACTION}),
            queued={ACTION: len(self.queue)}, running_by_task={ACTION: sum(map(self.used, self.pods))},
        )

    def set_paused(self, worker_id: str, paused: bool) -> None:
        for p in self.pods:
            if p.worker_id == worker_id:
                p.paused = paused

    def _arrive(self, now: float) -> None:
        while self.pending and self.pending[0].arrival <= now + 1e-9:
            task = self.pending.popleft()
            task.queued_at = now
            self.queue.append(task)
        if self.retries:
            due = [r for r in self.retries if r[0] <= now + 1e-9]
            self.retries = [r for r in self.retries if r[0] > now + 1e-9]
            for _, task in sorted(due, key=lambda r: (r[0], r[1].id)):
                task.queued_at = now
                self.queue.append(task)

    def _finish(self, now: float) -> None:
        for p in self.pods:
            if p.running and any(end <= now + 1e-9 for end, _ in p.running):
                for end, task in p.running:
                    if end <= now + 1e-9:
                        task.done = end
                p.running = [(end, t) for end, t in p.running if end > now + 1e-9]

    def _assign(self, now: float) -> None:
        while now >= self.refresh_at - 1e-9:
            self.scheduler_paused = {p.name for p in self.pods if p.paused}
            self.refresh_at += self.setup.scheduler_refresh
        if not self.queue:
            return
        free = [
            p
            for p in self.pods
            if self.ready(p, now) and p.name not in self.scheduler_paused
            for _ in range(self.setup.slots - self.used(p))
        ]
        self.rng.shuffle(free)  # a free slot picked at random: load spreads over the workers
        if self.setup.assign == "pack":
            free.sort(key=lambda p: (-self.used(p), p.ready_at))  # stable: the busiest worker first
        for pod in free:
            if not self.queue:
                break
            task = self.queue.popleft()
            task.waited += now - task.queued_at
            task.attempts += 1
            pod.running.append((now + task.duration, task))

    def busy(self) -> bool:
        return bool(self.pending or self.retries or self.queue or any(p.running for p in self.pods))

    # -- the run -----------------------------------------------------------------------------------

    def run(self, controller: Controller) -> Result:
        s = self.setup
        steps = round(s.horizon / s.dt)
        due = 0.0
        for i in range(steps + 1):
            now = i * s.dt
            self._arrive(now)
            self._finish(now)
            # Taken before this tick's assignments, acted on after them (see the module doc).
            reading = None
            if now >= min(due, self.soon if self.soon is not None else due) - 1e-9:
                reading = self.reading(now)
                due, self.soon = now + s.poll, None
            self._assign(now)
            if reading is not None:
                controller.poll(self, reading, now)
                self._assign(now)
            used = sum(map(self.used, self.pods))
            self.idle_slot_seconds += (len(self.pods) * s.slots - used) * s.dt
            self.pod_seconds += len(self.pods) * s.dt
        done = [t for t in self.tasks if t.done is not None]
        waits = [t.waited for t in self.tasks]
        return Result(
            name=controller.name, tasks=len(self.tasks), finished=len(done), interrupted=self.interrupted,
            lost_seconds=self.lost, idle_slot_seconds=self.idle_slot_seconds, pod_seconds=self.pod_seconds,
            wait_p50=percentile(waits, 50), wait_p99=percentile(waits, 99), wait_max=max(waits, default=0.0),
            scale_up=self.ups, scale_down=self.downs,
            last_done=max((t.done for t in done if t.done is not None), default=0.0), replicas=self.history,
        )


class Ours:
    """The operator's autoscaler: ``autoscaler.State.step`` then ``scaledown.plan``, as
    ``EngineAutoscaling.evaluate`` and ``Scaler.step`` call them, with the plan carried out."""

    name = "ours"

    def __init__(self, setup: Setup, **overrides: Any) -> None:
        self.spec = api.Autoscaling(
            min_replicas=setup.min_replicas, max_replicas=setup.max_replicas,
            target_slot_utilization_percent=setup.target_percent,
            scale_up_stabilization_seconds=int(setup.up_window),
            scale_down_stabilization_seconds=int(setup.down_window), **overrides,
        )
        self.state = State()
        self.status: dict[str, Any] | None = None
        self.drain_timeout = setup.drain_timeout
        self.slots = setup.slots
        self.notes: list[tuple[float, str]] = []

    def poll(self, cluster: Cluster, reading: Reading, now: float) -> None:
        decision, self.status = self.state.step(
            self.spec, reading, now=now, current_replicas=cluster.replicas, spec_slots=self.slots,
            labels={v1alpha1.OWNER_LABEL_KEY: OWNER}, previous=self.status,
        )
        # The pods as the Scaler lists them now; a draining pod's own /metrics read now as well.
        pods = [
            scaledown.Pod(p.name, cluster.ready(p, now), template="t", draining=p.draining,
                          local_in_use=cluster.used(p) if p.draining else None)
            for p in cluster.pods
        ]
        plan = scaledown.plan(decision, cluster.replicas, pods, engine_views(reading.workers), now=now,
                              drain_timeout=self.drain_timeout, read_at=reading.at)
        by_name = {p.name: p for p in cluster.pods}
        for name, worker_id in plan.release:
            cluster.set_paused(worker_id, False)
            if name in by_name:
                by_name[name].draining, by_name[name].cost = None, 0
        for name, worker_id in plan.drain:
            # The annotation records the drain's start in whole seconds, as scaledown.drain_value does.
            by_name[name].draining, by_name[name].cost = (worker_id, float(math.floor(now))), -(2**31)
            cluster.set_paused(worker_id, True)
        for worker_id in plan.pause:
            cluster.set_paused(worker_id, True)
        delay = scaledown.early_poll(decision, plan, now)  # as EngineAutoscaling.evaluate asks
        if delay is not None:
            # The poller takes the earliest ask, and polls no sooner than MIN_INTERVAL after the last.
            at = max(now + delay, now + MIN_INTERVAL)
            cluster.soon = at if cluster.soon is None else min(cluster.soon, at)
        if plan.note:
            self.notes.append((now, plan.note))
        if plan.replicas is not None:
            cluster.scale_to(plan.replicas, now)


class KedaRule:
    """What a KEDA ScaledObject with a metrics-api trigger on task-stats' queued count gives the HPA:
    desired = ceil(queued / target per pod), clamped to [min, max], with the HPA's 10 % tolerance
    and the same stabilization windows as ours; a lower count removes whichever pods the ReplicaSet
    controller picks. Generous to it: scale from zero goes straight to the count (KEDA goes 0 -> 1
    and the HPA's default rate limits, +4 pods or +100 % per 15 s, are left out)."""

    name = "keda"
    TOLERANCE = 0.1

    def __init__(self, setup: Setup, target: float | None = None) -> None:
        self.setup = setup
        # The same work per pod as ours aims for: slots x target utilization (5 x 80 % = 4).
        self.target = target if target is not None else setup.slots * setup.target_percent / 100
        self.recs: list[tuple[float, int]] = []

    def poll(self, cluster: Cluster, reading: Reading, now: float) -> None:
        s = self.setup
        queued = sum(reading.queued.values())
        current = cluster.replicas
        rec = max(s.min_replicas, min(s.max_replicas, math.ceil(queued / self.target)))
        if queued > 0:
            rec = max(rec, 1)  # KEDA's activation: any queued work wakes a fleet at zero
        if current > 0 and queued > 0 and abs(queued / (self.target * current) - 1) <= self.TOLERANCE:
            rec = current  # the HPA's tolerance band
        self.recs = [(t, r) for t, r in self.recs if now - t <= max(s.up_window, s.down_window)]
        self.recs.append((now, rec))
        up = min(r for t, r in self.recs if now - t <= s.up_window)
        down = max(r for t, r in self.recs if now - t <= s.down_window)
        desired = up if current < up else down if current > down else current
        cluster.scale_to(desired, now)


def simulate(setup: Setup, trace: Sequence[tuple[float, float]], controller: str, seed: int = 0) -> Result:
    """Run one controller (``ours`` or ``keda``) over a trace of (arrival, duration) pairs."""
    cluster = Cluster(setup, trace, seed)
    ctl: Controller = Ours(setup) if controller == "ours" else KedaRule(setup)
    return cluster.run(ctl)


# -- workloads (seeded generated traces) -------------------------------------------------------------


def burst(n: int = 500, duration: float = 2.0, at: float = 5.0) -> list[tuple[float, float]]:
    """``n`` tasks of ``duration`` seconds, all queued at ``at``."""
    return [(at, duration)] * n


def poisson(rng: random.Random, rate: float, start: float, end: float, durations: tuple[float, float]) -> list[
    tuple[float, float]
]:
    """Arrivals at ``rate`` per second in [start, end), durations uniform in ``durations``."""
    out: list[tuple[float, float]] = []
    t = start
    while True:
        t += rng.expovariate(rate)
        if t >= end:
            return out
        out.append((round(t, 3), round(rng.uniform(*durations), 3)))


def mixed(seed: int, minutes: int = 20) -> list[tuple[float, float]]:
    """Short tasks (1-10 s) whose rate changes every 5 minutes (0.5, 2, 0.2, 1 per s, repeating) and
    long tasks (30-120 s) at 3 a minute throughout."""
    rng = random.Random(seed)
    rates = (0.5, 2.0, 0.2, 1.0)
    trace = poisson(rng, 0.05, 0, minutes * 60, (30, 120))
    for i in range(math.ceil(minutes / 5)):
        trace += poisson(rng, rates[i % len(rates)], i * 300, min((i + 1) * 300, minutes * 60), (1, 10))
    return sorted(trace)


def steady(
    seed: int | None, minutes: int = 20, every: float = 0.8, duration: float = 10.0
) -> list[tuple[float, float]]:
    """About ``duration / every`` (12.5) slots of work at all times: one ``duration`` task per
    ``every`` seconds, evenly (seed None) or as Poisson arrivals at that rate (seeded). At 5 slots x
    80 % that sits on the 3/4-worker threshold (12 slots)."""
    if seed is None:
        return [(round(i * every, 3), duration) for i in range(int(minutes * 60 / every))]
    return poisson(random.Random(seed), 1 / every, 0, minutes * 60, (duration, duration))


@dataclass(frozen=True)
class Workload:
    name: str
    about: str
    setup: Setup
    seeded: bool
    """False: the trace is the same for every seed (the seed still drives assignment and removal)."""

    def trace(self, seed: int) -> list[tuple[float, float]]:
        if self.name == "burst":
            return burst()
        if self.name == "mixed":
            return mixed(seed)
        return steady(seed)


def workloads(poll: float = 15.0, down_window: float = 300.0, assign: str = "spread") -> list[Workload]:
    """The benchmark's three workloads, with the given poll interval, scale-down window and engine
    assignment for both autoscalers (the horizon leaves room for the window to empty the fleet after
    the last task, so the idle capacity of the tail is counted for both)."""
    settle = down_window + 5 * poll + 60

    def setup(**kw: Any) -> Setup:
        return Setup(poll=poll, down_window=down_window, assign=assign, **kw)

    return [
        Workload("burst", "500 tasks of 2 s queued at once; 5 slots, min 0, max 10",
                 setup(min_replicas=0, max_replicas=10, horizon=60 + settle), False),
        Workload("mixed", "20 min: short tasks 1-10 s at 0.5/2/0.2/1 per s (5 min each) + long tasks 30-120 s "
                 "at 3/min; 5 slots, min 1, max 10",
                 setup(min_replicas=1, max_replicas=10, initial_replicas=1, horizon=20 * 60 + 120 + settle), True),
        Workload("steady", "20 min: 10 s tasks, Poisson at 1.25/s (12.5 slots, on the 3/4-pod threshold); "
                 "5 slots, min 1, max 10",
                 setup(min_replicas=1, max_replicas=10, initial_replicas=1, horizon=20 * 60 + 60 + settle), True),
    ]
