"""The autoscaler's decision (pure: no I/O; the clock is an input).

One call of ``decide`` turns what the engine reported about a HatchetWorker's work and workers into
the replica count to go to now, and, when that is fewer pods, exactly which idle workers to remove.

The rule, in order:

1. Demand, in slots: every queued task of an action this HatchetWorker serves (and whose required
   labels its workers carry) times the action's slot cost, plus the slots its workers have in use.
2. Recommendation: ceil(demand / (slots per worker * target utilization)), clamped to [min, max].
   Work queued while there are no workers always recommends at least one (scale from zero).
3. Stabilization, as the HPA's ``behavior``: go up only to the *lowest* recommendation of the
   scale-up window, down only to the *highest* of the scale-down window (so a spike or a lull
   shorter than the window changes nothing, and a constant load never flaps). The scale-down window
   is counted to when the pods go, which is ``DRAIN_LEAD_SECONDS`` after their drain starts.
4. Step limits per decision, then [min, max] again (a lowered ``maxReplicas`` wins over the step).
   Without history (after an operator restart) the current count is a recommendation of the
   scale-down window, so nothing is removed on the strength of a single reading.
5. Scale-down removes only idle workers (no slot in use, idle for at least the idle time), longest
   idle first; pods with no registered worker (starting, crashed) go before any worker. If fewer are
   removable than the load would allow, the count goes down only by those: not killing a task wins
   over every bound (even a lowered ``maxReplicas`` waits for busy workers to become idle).
6. When the engine could not be read, nothing goes down: the last good decision stands (or the
   current count, whichever is higher), no worker is chosen, and the history is left as it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hatchet_operator.api import autoscaling as api

DRAIN_LEAD_SECONDS = 7.0
"""How long a scale-down takes from its decision to the pods going: the workers are paused, and the
pods removed once a reading taken this much later shows them drained (the engine's scheduler
refreshes its list of assignable workers every 5 s; see ``scaledown.CONFIRM_SECONDS``). A
scale-down may therefore start this much before its window ends, so that the pods go when the
window ends rather than a drain after it, as they would under the HPA, whose scale-down takes no
time of its own."""
RELEASE_MARGIN_SECONDS = 0.5
"""``Decision.release_at`` comes this long after the holding reading leaves the window, so that a
reading taken then is past it on any clock rounding."""


@dataclass(frozen=True)
class Policy:
    """The knobs of ``spec.autoscaling``, defaults applied."""

    min_replicas: int = api.DEFAULT_MIN_REPLICAS
    max_replicas: int = 10
    target_percent: int = api.DEFAULT_TARGET_UTILIZATION_PERCENT
    up_window: float = api.DEFAULT_SCALE_UP_STABILIZATION_SECONDS
    down_window: float = api.DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS
    max_up_step: int | None = None
    max_down_step: int | None = None
    idle_before_removal: float = api.DEFAULT_IDLE_SECONDS_BEFORE_REMOVAL

    def __post_init__(self) -> None:
        if not (0 <= self.min_replicas <= self.max_replicas and self.max_replicas >= 1):
            raise ValueError(
                f"need 0 <= minReplicas ({self.min_replicas}) <= maxReplicas ({self.max_replicas}), maxReplicas >= 1"
            )
        if not 1 <= self.target_percent <= 100:
            raise ValueError(f"targetSlotUtilizationPercent must be 1-100, not {self.target_percent}")

    @classmethod
    def of(cls, spec: api.Autoscaling) -> Policy:
        return cls(
            min_replicas=spec.min_replicas,
            max_replicas=spec.max_replicas,
            target_percent=spec.target_slot_utilization_percent,
            up_window=spec.scale_up_stabilization_seconds,
            down_window=spec.scale_down_stabilization_seconds,
            max_up_step=spec.max_scale_up_step,
            max_down_step=spec.max_scale_down_step,
            idle_before_removal=spec.idle_seconds_before_removal,
        )


@dataclass(frozen=True)
class Work:
    """Queued work of one action (``workflow:task``)."""

    action: str
    queued: int
    slot_cost: int = 1
    """Slots one task of this action holds while it runs."""
    required_labels: Mapping[str, str] = field(default_factory=dict)
    """Worker labels a task of this action requires (label affinity); values compared as text."""


@dataclass(frozen=True)
class Worker:
    """One registered worker of this HatchetWorker, as the engine lists it."""

    id: str
    used_slots: int
    """Slots in use (the engine's slot view: limit - available, summed over slot types)."""
    running: int = 0
    """Tasks in flight (for the status; ``used_slots`` decides busy or idle)."""
    idle_since: float | None = None
    """When it last had no slot in use (None: busy, or not known to be idle yet)."""
    pod: str | None = None

    @property
    def busy(self) -> bool:
        return self.used_slots > 0 or self.running > 0


@dataclass(frozen=True)
class Inputs:
    now: float
    current_replicas: int
    """Pods the Deployment asks for now (``spec.replicas``)."""
    slots_per_worker: int | None
    """Slots of one worker (the engine's slot config, else spec.slots); None: unknown."""
    work: Sequence[Work]
    workers: Sequence[Worker]
    labels: Mapping[str, str] = field(default_factory=dict)
    """This HatchetWorker's worker labels (spec.labels plus the owner label), values as text."""
    metrics_available: bool = True


@dataclass(frozen=True)
class Recommendation:
    at: float
    replicas: int
    down_only: bool = False
    """Counts in the scale-down window only (the count found when there was no history)."""


@dataclass(frozen=True)
class Decision:
    desired: int
    """Replicas to go to now."""
    recommended: int
    """What the load asks for, before stabilization and step limits (clamped to [min, max])."""
    remove: tuple[str, ...]
    """Worker ids to remove (idle only, longest idle first); empty unless scaling down."""
    remove_unregistered: int
    """Pods with no registered worker that the scale-down takes out before any worker."""
    history: tuple[Recommendation, ...]
    """Recommendations within the longest window, for the next call."""
    reason: str
    queued: int = 0
    running: int = 0
    demand_slots: int = 0
    busy_workers: int = 0
    idle_workers: int = 0
    release_at: float | None = None
    """When the scale-down window next lets the count go lower than it holds it now (the oldest
    reading that holds it leaves the window then); None when the window holds nothing back. The
    operator reads the engine again then, so the pods go when the window ends, not up to a poll
    interval after it."""


def servable(required: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Whether a worker with ``labels`` can take a task that requires ``required`` (exact matches)."""
    return all(labels.get(k) == v for k, v in required.items())


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _clamp(n: int, policy: Policy) -> int:
    return max(policy.min_replicas, min(policy.max_replicas, n))


def recommend(policy: Policy, inputs: Inputs) -> tuple[int, int, int, str]:
    """(recommended replicas clamped to [min, max], queued tasks counted, demand in slots, why)."""
    counted = [w for w in inputs.work if w.queued > 0 and servable(w.required_labels, inputs.labels)]
    queued = sum(w.queued for w in counted)
    demand = sum(w.queued * max(1, w.slot_cost) for w in counted) + sum(max(0, w.used_slots) for w in inputs.workers)
    slots = inputs.slots_per_worker
    if demand == 0:
        raw, why = 0, "no work"
    elif not slots:
        # No worker has told its slot count yet and the spec does not set one: one worker, then learn.
        raw, why = 1, f"{demand} slots of work, slots per worker unknown"
    else:
        # Integers only: ceil(demand / (slots * target / 100)) without float rounding at the boundary.
        raw = _ceil_div(demand * 100, slots * policy.target_percent)
        why = f"{demand} slots of work / ({slots} slots x {policy.target_percent}%)"
    if queued > 0:
        raw = max(raw, 1)  # scale from zero as soon as work is queued
    return _clamp(raw, policy), queued, demand, f"{why} -> {raw}"


def decide(
    policy: Policy, inputs: Inputs, history: Sequence[Recommendation] = (), last_good: int | None = None
) -> Decision:
    """The decision for one HatchetWorker now; ``history`` and ``last_good`` come from the previous
    calls (``Decision.history`` and the last ``Decision.desired`` made with metrics available)."""
    current = max(0, inputs.current_replicas)
    busy = sum(1 for w in inputs.workers if w.busy)
    idle = len(inputs.workers) - busy
    running = sum(max(0, w.running) for w in inputs.workers)
    if not inputs.metrics_available:
        # The count only ever goes down by workers chosen with data; with none, nothing goes down
        # (not even to a lowered maxReplicas: that waits until the engine can be read again).
        desired = max(current, _clamp(last_good if last_good is not None else current, policy))
        return Decision(
            desired=desired,
            recommended=desired,
            remove=(),
            remove_unregistered=0,
            history=tuple(history),
            reason=f"engine metrics unavailable: keeping {desired} replicas (no scale-down on missing data)",
            busy_workers=busy,
            idle_workers=idle,
        )

    recommended, queued, demand, why = recommend(policy, inputs)
    horizon = max(policy.up_window, policy.down_window)
    kept = [r for r in history if inputs.now - r.at <= horizon and r.at <= inputs.now]
    if not history and policy.down_window > 0:
        # No history (a new HatchetWorker, an operator restart): the current count counts as a
        # recommendation of the scale-down window, so a scale-down needs a full window of
        # evidence, not one reading (scaling up is not held back by it).
        kept.append(Recommendation(inputs.now, current, down_only=True))
    kept.append(Recommendation(inputs.now, recommended))
    in_up = [r.replicas for r in kept if inputs.now - r.at <= policy.up_window and not r.down_only]
    # The window is counted to when the pods go, a drain after this decision (see DRAIN_LEAD_SECONDS).
    down_span = max(0.0, policy.down_window - DRAIN_LEAD_SECONDS)
    in_down = [r.replicas for r in kept if inputs.now - r.at <= down_span]
    up_floor, down_ceiling = min(in_up), max(in_down)

    target = current
    notes: list[str] = []
    if target < up_floor:
        target = up_floor
    if current == 0 and queued > 0:
        target = max(target, 1)  # from zero at once, whatever the scale-up window says
    if target > down_ceiling:
        target = down_ceiling
    if recommended > current and target < recommended:
        notes.append(f"scale-up window holds at {target} (lowest in {policy.up_window:g}s)")
    release_at = None
    if recommended < current and target > recommended:
        notes.append(f"scale-down window holds at {target} (highest in {policy.down_window:g}s)")
        if down_ceiling > recommended:
            # The ceiling drops once the last reading that set it has left the window.
            last = max(r.at for r in kept if inputs.now - r.at <= down_span and r.replicas == down_ceiling)
            release_at = last + down_span + RELEASE_MARGIN_SECONDS

    if policy.max_up_step is not None and target > current + policy.max_up_step:
        target = current + policy.max_up_step
        notes.append(f"scale-up step limited to {policy.max_up_step}")
    if policy.max_down_step is not None and target < current - policy.max_down_step:
        target = current - policy.max_down_step
        notes.append(f"scale-down step limited to {policy.max_down_step}")
    target = _clamp(target, policy)

    remove: tuple[str, ...] = ()
    unregistered_out = 0
    desired = target
    if target < current:
        want = current - target
        unregistered = max(0, current - len(inputs.workers))
        unregistered_out = min(want, unregistered)
        removable = sorted(
            (
                w
                for w in inputs.workers
                if not w.busy and w.idle_since is not None and inputs.now - w.idle_since >= policy.idle_before_removal
            ),
            key=lambda w: (w.idle_since, w.id),
        )
        remove = tuple(w.id for w in removable[: want - unregistered_out])
        desired = current - unregistered_out - len(remove)
        if desired > target:
            notes.append(f"only {current - desired} of {want} pods removable now (busy or not idle long enough)")

    if desired > current:
        verdict = f"scale up {current} -> {desired}"
    elif desired < current:
        verdict = f"scale down {current} -> {desired}"
    else:
        verdict = f"hold at {current}"
    reason = f"{verdict}: queued {queued}, {why}" + ("; " + "; ".join(notes) if notes else "")
    return Decision(
        desired=desired,
        recommended=recommended,
        remove=remove,
        remove_unregistered=unregistered_out,
        history=tuple(kept),
        reason=reason[: api.REASON_LIMIT],
        queued=queued,
        running=running,
        demand_slots=demand,
        busy_workers=busy,
        idle_workers=idle,
        release_at=release_at,
    )
