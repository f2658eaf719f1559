"""The pure autoscaling decision: examples for every rule, then properties over random inputs."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hatchet_operator.api.autoscaling import Autoscaling
from hatchet_operator.autoscale import (
    DRAIN_LEAD_SECONDS,
    RELEASE_MARGIN_SECONDS,
    Decision,
    Inputs,
    Policy,
    Recommendation,
    Work,
    Worker,
    decide,
    servable,
)


def idle(wid: str, since: float = 0.0) -> Worker:
    return Worker(id=wid, used_slots=0, idle_since=since)


def busy(wid: str, slots: int = 1) -> Worker:
    return Worker(id=wid, used_slots=slots, running=slots, idle_since=None)


def inputs(
    current: int,
    queued: int = 0,
    workers: Sequence[Worker] = (),
    slots: int | None = 5,
    now: float = 1000.0,
    **kw: object,
) -> Inputs:
    work = [Work("wf:t", queued)] if queued else []
    return Inputs(now=now, current_replicas=current, slots_per_worker=slots, work=work, workers=workers, **kw)  # type: ignore[arg-type]


FAST = Policy(min_replicas=0, max_replicas=10, target_percent=100, up_window=0, down_window=0)


# --- the formula -------------------------------------------------------------------------------


def test_policy_from_the_api_defaults() -> None:
    p = Policy.of(Autoscaling(max_replicas=7))
    assert (p.min_replicas, p.max_replicas, p.target_percent, p.up_window, p.down_window) == (1, 7, 80, 0, 300)
    with pytest.raises(ValueError, match="minReplicas"):
        Policy(min_replicas=3, max_replicas=2)


@pytest.mark.parametrize(
    ("queued", "running_slots", "target", "expected"),
    [
        (0, 0, 100, 0),
        (1, 0, 100, 1),
        (5, 0, 100, 1),  # exactly one worker's slots
        (6, 0, 100, 2),
        (4, 0, 80, 1),  # 4 / (5 * 0.8) = 1.0 exactly: no float rounding up to 2
        (5, 0, 80, 2),
        (10, 10, 100, 4),  # queued plus running
        (500, 0, 100, 10),  # clamped to max
    ],
)
def test_desired_is_demand_over_slots_at_target(queued: int, running_slots: int, target: int, expected: int) -> None:
    policy = Policy(min_replicas=0, max_replicas=10, target_percent=target, up_window=0, down_window=0)
    workers = [busy("b", running_slots)] if running_slots else []
    current = len(workers)
    d = decide(policy, inputs(current, queued, workers))
    assert d.recommended == expected
    if expected >= current:
        assert d.desired == expected


def test_slot_cost_counts() -> None:
    work = [Work("wf:heavy", 3, slot_cost=2), Work("wf:light", 1)]
    d = decide(FAST, Inputs(now=0, current_replicas=0, slots_per_worker=5, work=work, workers=()))
    assert d.demand_slots == 7 and d.desired == 2 and d.queued == 4


def test_min_and_max_clamp() -> None:
    p = Policy(min_replicas=2, max_replicas=3, target_percent=100, up_window=0, down_window=0)
    assert decide(p, inputs(2, 0)).desired == 2
    assert decide(p, inputs(2, 100)).desired == 3
    # A max lowered below the current count wins over the load (idle workers are removed)...
    d = decide(p, inputs(5, 100, [idle(f"w{i}") for i in range(5)]))
    assert d.desired == 3 and len(d.remove) == 2
    # ...but not over a running task: busy workers stay until they are idle.
    d = decide(p, inputs(5, 100, [busy(f"w{i}") for i in range(5)]))
    assert d.desired == 5 and d.remove == ()


# --- scale from zero ---------------------------------------------------------------------------


def test_scale_from_zero_at_once_even_with_an_up_window() -> None:
    p = Policy(min_replicas=0, max_replicas=10, target_percent=100, up_window=600, down_window=300)
    history = [Recommendation(900.0, 0), Recommendation(990.0, 0)]
    d = decide(p, inputs(0, queued=1), history)
    assert d.desired == 1 and "scale up 0 -> 1" in d.reason


def test_scale_from_zero_with_unknown_slot_count_asks_for_one() -> None:
    d = decide(FAST, inputs(0, queued=50, slots=None))
    assert d.desired == 1 and "unknown" in d.reason


def test_zero_work_scales_to_min_zero() -> None:
    d = decide(FAST, inputs(2, 0, [idle("a"), idle("b")]))
    assert d.desired == 0 and set(d.remove) == {"a", "b"}


# --- label affinity ----------------------------------------------------------------------------


def test_label_affinity_counts_only_servable_work() -> None:
    assert servable({}, {}) and servable({"gpu": "1"}, {"gpu": "1", "x": "y"})
    assert not servable({"gpu": "1"}, {"gpu": "0"}) and not servable({"gpu": "1"}, {})
    work = [Work("wf:gpu", 10, required_labels={"gpu": "1"}), Work("wf:any", 2)]
    cpu = decide(
        FAST, Inputs(now=0, current_replicas=0, slots_per_worker=5, work=work, workers=(), labels={"gpu": "0"})
    )
    gpu = decide(
        FAST, Inputs(now=0, current_replicas=0, slots_per_worker=5, work=work, workers=(), labels={"gpu": "1"})
    )
    assert (cpu.queued, cpu.desired) == (2, 1)
    assert (gpu.queued, gpu.desired) == (12, 3)


# --- stabilization -----------------------------------------------------------------------------


def test_down_window_keeps_the_highest_recent_recommendation() -> None:
    p = Policy(min_replicas=0, max_replicas=10, target_percent=100, up_window=0, down_window=300)
    history = [Recommendation(800.0, 4), Recommendation(900.0, 2)]
    workers = [idle(f"w{i}") for i in range(4)]
    d = decide(p, inputs(4, 0, workers, now=1000.0), history)
    assert d.desired == 4 and d.remove == () and "scale-down window" in d.reason
    # Once the 4 has left the window, the highest left is 2.
    d = decide(p, inputs(4, 0, workers, now=1101.0), history)
    assert d.desired == 2 and len(d.remove) == 2


def test_the_down_window_ends_when_the_pods_go_and_says_when_that_is() -> None:
    # The drain takes DRAIN_LEAD_SECONDS from the decision to the pods going, so the decision lets
    # the count down that much before the window ends: the pods go 300 s after the reading that
    # needed them, not a drain later. And it says when it will let the count go lower, so the
    # operator reads the engine then instead of up to a poll later.
    p = Policy(min_replicas=0, max_replicas=10, target_percent=100, up_window=0, down_window=300)
    history = [Recommendation(700.0, 4), Recommendation(800.0, 4), Recommendation(900.0, 2)]
    workers = [idle(f"w{i}") for i in range(4)]
    release = 800.0 + 300 - DRAIN_LEAD_SECONDS + RELEASE_MARGIN_SECONDS
    held = decide(p, inputs(4, 0, workers, now=1000.0), history)
    assert held.desired == 4 and held.release_at == release  # the later 4 sets it, not the earlier one
    assert decide(p, inputs(4, 0, workers, now=release - 1), history).desired == 4
    at_release = decide(p, inputs(4, 0, workers, now=release), history)
    assert at_release.desired == 2 and len(at_release.remove) == 2
    assert release < 800.0 + 300 and at_release.release_at == 900.0 + 300 - DRAIN_LEAD_SECONDS + RELEASE_MARGIN_SECONDS
    # Nothing held back (at the recommendation already, no window, going up): no time.
    assert decide(p, inputs(2, 10, workers[:2], now=1200.0), [Recommendation(1100.0, 3)]).release_at is None
    assert decide(FAST, inputs(4, 0, workers, now=1000.0), history).release_at is None
    assert decide(p, inputs(1, 20, [busy("a", 5)], now=1000.0)).release_at is None
    # A window shorter than the drain is no window at all.
    short = Policy(min_replicas=0, max_replicas=10, target_percent=100, up_window=0, down_window=5)
    assert decide(short, inputs(4, 0, workers, now=1000.0), [Recommendation(999.0, 4)]).desired == 0


def test_up_window_keeps_the_lowest_recent_recommendation() -> None:
    p = Policy(min_replicas=1, max_replicas=10, target_percent=100, up_window=60, down_window=0)
    history = [Recommendation(950.0, 1)]
    d = decide(p, inputs(1, 20, [busy("a", 5)], now=1000.0), history)
    assert d.recommended == 5 and d.desired == 1 and "scale-up window" in d.reason
    d = decide(p, inputs(1, 20, [busy("a", 5)], now=1011.0), d.history)
    assert d.desired == 5


def test_without_history_a_scale_down_waits_a_full_window() -> None:
    # An operator restart loses the history: one reading of an empty queue must not empty the fleet.
    p = Policy(min_replicas=0, max_replicas=10, target_percent=100, up_window=0, down_window=300)
    workers = [idle(f"w{i}") for i in range(4)]
    d = decide(p, inputs(4, 0, workers, now=1000.0))
    assert d.desired == 4 and d.remove == ()
    d = decide(p, inputs(4, 0, workers, now=1200.0), d.history)
    assert d.desired == 4
    d = decide(p, inputs(4, 0, workers, now=1301.0), d.history)
    assert d.desired == 0 and len(d.remove) == 4
    # Scaling up is not held back by the missing history.
    assert decide(p, inputs(1, 20, [busy("a", 5)])).desired == 5


def test_history_is_pruned_to_the_longest_window() -> None:
    p = Policy(min_replicas=0, max_replicas=10, up_window=10, down_window=30)
    old = [Recommendation(t, 1) for t in (0.0, 50.0, 75.0, 99.0)]
    d = decide(p, inputs(1, 0, [idle("a")], now=100.0), old)
    assert [r.at for r in d.history] == [75.0, 99.0, 100.0]


# --- steps -------------------------------------------------------------------------------------


def test_step_limits() -> None:
    p = Policy(
        min_replicas=0, max_replicas=100, target_percent=100, up_window=0, down_window=0, max_up_step=3, max_down_step=2
    )
    d = decide(p, inputs(1, 100, [idle("a")]))
    assert d.desired == 4 and "step limited to 3" in d.reason
    d = decide(p, inputs(6, 0, [idle(f"w{i}") for i in range(6)]))
    assert d.desired == 4 and len(d.remove) == 2


# --- which workers go --------------------------------------------------------------------------


def test_only_idle_workers_longest_idle_first() -> None:
    workers = [idle("new", since=990.0), busy("b1"), idle("old", since=100.0), busy("b2"), idle("mid", since=500.0)]
    d = decide(FAST, inputs(5, 0, workers))
    # The load (running 2 slots) asks for 1; only the three idle ones may go, oldest first.
    assert d.remove == ("old", "mid", "new")
    assert d.desired == 2 and "only 3 of 4" in d.reason


def test_idle_time_before_removal() -> None:
    p = Policy(min_replicas=0, max_replicas=10, target_percent=100, up_window=0, down_window=0, idle_before_removal=60)
    workers = [idle("fresh", since=980.0), idle("stale", since=900.0)]
    d = decide(p, inputs(2, 0, workers, now=1000.0))
    assert d.remove == ("stale",) and d.desired == 1


def test_pods_without_a_worker_go_first() -> None:
    d = decide(FAST, inputs(4, 0, [idle("a"), busy("b")]))
    # 4 pods, 2 registered: 2 unregistered pods first, then the idle worker; never the busy one.
    assert d.remove_unregistered == 2 and d.remove == ("a",) and d.desired == 1


def test_worker_with_unknown_idle_time_is_not_removable() -> None:
    d = decide(FAST, inputs(1, 0, [Worker(id="x", used_slots=0, idle_since=None)]))
    assert d.remove == () and d.desired == 1


# --- metrics outage ----------------------------------------------------------------------------


def test_outage_keeps_the_last_good_decision_and_removes_nothing() -> None:
    workers = [idle("a"), idle("b"), idle("c")]
    history = (Recommendation(990.0, 3),)
    d = decide(FAST, inputs(3, 0, workers, metrics_available=False), history, last_good=3)
    assert d.desired == 3 and d.remove == () and d.history == history and "unavailable" in d.reason
    # A scale-up decided before the outage stands while it lasts.
    assert decide(FAST, inputs(1, metrics_available=False), last_good=4).desired == 4


# --- properties --------------------------------------------------------------------------------

policies = st.builds(
    lambda lo, span, target, up, down, us, ds, it: Policy(lo, max(1, lo + span), target, up, down, us, ds, it),
    st.integers(0, 5),
    st.integers(0, 20),
    st.integers(1, 100),
    st.sampled_from([0, 15, 60, 300]),
    st.sampled_from([0, 15, 60, 300]),
    st.none() | st.integers(1, 5),
    st.none() | st.integers(1, 5),
    st.sampled_from([0, 30]),
)
workers_st = st.lists(
    st.builds(
        lambda i, used, since: Worker(id=f"w{i}", used_slots=used, running=used, idle_since=None if used else since),
        st.integers(0, 10_000),
        st.integers(0, 3),
        st.none() | st.floats(0, 1000),
    ),
    max_size=12,
    unique_by=lambda w: w.id,
)
inputs_st = st.builds(
    lambda now, cur, slots, queued, workers, ok: Inputs(
        now=now,
        current_replicas=cur,
        slots_per_worker=slots,
        work=[Work("wf:t", queued)],
        workers=workers,
        metrics_available=ok,
    ),
    st.floats(1000, 2000),
    st.integers(0, 30),
    st.none() | st.integers(1, 10),
    st.integers(0, 200),
    workers_st,
    st.booleans(),
)
history_st = st.lists(st.builds(Recommendation, st.floats(0, 2000), st.integers(0, 30)), max_size=10)


@settings(max_examples=400, deadline=None)
@given(policies, inputs_st, history_st, st.none() | st.integers(0, 30))
def test_clamp_always_holds_and_no_busy_worker_is_ever_chosen(
    policy: Policy, inp: Inputs, history: list[Recommendation], last_good: int | None
) -> None:
    d = decide(policy, inp, history, last_good)
    assert policy.min_replicas <= d.desired
    # Above max only while busy workers (or missing data) keep pods that a lowered max would remove.
    assert d.desired <= max(policy.max_replicas, inp.current_replicas)
    chosen = {w.id: w for w in inp.workers if w.id in d.remove}
    assert len(chosen) == len(d.remove)  # each named worker exists, named once
    assert not any(w.busy for w in chosen.values())
    assert all(inp.now - (w.idle_since or 0) >= policy.idle_before_removal for w in chosen.values())
    # The count goes down by exactly what is removed (never a random pod).
    if d.desired < inp.current_replicas:
        assert inp.current_replicas - d.desired == len(d.remove) + d.remove_unregistered
    else:
        assert d.remove == () and d.remove_unregistered == 0
    # Longest idle first.
    order = [chosen[i].idle_since for i in d.remove]
    assert order == sorted(order)  # type: ignore[type-var]


@settings(max_examples=300, deadline=None)
@given(policies, inputs_st, history_st, st.none() | st.integers(0, 30))
def test_metrics_outage_never_lowers_replicas(
    policy: Policy, inp: Inputs, history: list[Recommendation], last_good: int | None
) -> None:
    down = Inputs(**{**inp.__dict__, "metrics_available": False})
    d = decide(policy, down, history, last_good)
    assert d.desired >= inp.current_replicas
    assert d.remove == () and d.remove_unregistered == 0
    assert d.history == tuple(history)


def _run_constant(policy: Policy, queued: int, used: int, start: int, steps: int = 60) -> list[Decision]:
    """Drive the decision with a constant load, applying each decision as the fleet (idle workers
    removed as chosen, new ones added idle), one decision every 15 s."""
    workers = [Worker(id=f"w{i}", used_slots=0, idle_since=0.0) for i in range(start)]
    if workers and used:
        workers[0] = Worker(id="w0", used_slots=used, running=used)
    current, history, last = start, (), None
    out = []
    for k in range(steps):
        now = 1000.0 + 15 * k
        d = decide(policy, Inputs(now, current, 5, [Work("wf:t", queued)], workers), history, last)
        out.append(d)
        history, last = d.history, d.desired
        workers = [w for w in workers if w.id not in d.remove]
        while len(workers) < d.desired:
            workers.append(Worker(id=f"n{k}-{len(workers)}", used_slots=0, idle_since=now))
        if d.desired < current:
            workers = workers[: d.desired] if len(workers) > d.desired else workers
        current = d.desired
    return out


@settings(max_examples=200, deadline=None)
@given(policies, st.integers(0, 60), st.integers(0, 5), st.integers(0, 15))
def test_no_flapping_under_constant_load(policy: Policy, queued: int, used: int, start: int) -> None:
    desired = [d.desired for d in _run_constant(policy, queued, used, start)]
    # Under a constant load the count moves in one direction only and then stays.
    changes = [b - a for a, b in itertools.pairwise(desired) if b != a]
    assert all(c > 0 for c in changes) or all(c < 0 for c in changes), desired
    assert len(set(desired[-5:])) == 1, desired


def test_no_flapping_near_a_threshold() -> None:
    # Demand alternating around the boundary of 2 and 3 workers: the down window holds at 3.
    p = Policy(min_replicas=0, max_replicas=10, target_percent=100, up_window=0, down_window=300)
    current, history = 3, ()
    workers = [idle("a", 0), idle("b", 0), idle("c", 0)]
    seen = []
    for k in range(40):
        queued = 11 if k % 2 else 10  # 11 slots -> 3 workers, 10 -> 2
        d = decide(p, Inputs(1000.0 + 15 * k, current, 5, [Work("wf:t", queued)], workers), history)
        history, current = d.history, d.desired
        seen.append(d.desired)
    assert set(seen) == {3}
