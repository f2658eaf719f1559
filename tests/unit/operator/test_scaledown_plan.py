"""The drain-aware scale-down plan (pure): examples for each step and hypothesis properties."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hatchet_operator import autoscale, scaledown
from hatchet_operator.scaledown import EngineView, Pod

NOW = 10_000.0
TIMEOUT = 60.0


def decision(desired: int, remove: tuple[str, ...] = (), unregistered: int = 0) -> autoscale.Decision:
    return autoscale.Decision(desired, desired, remove, unregistered, (), "test")


def pods(*names: str, ready: bool = True, template: str = "a") -> list[Pod]:
    return [Pod(n, ready, template=template) for n in names]


def draining(name: str, worker: str, since: float = NOW - 10, **kw: object) -> Pod:
    return Pod(name, True, template="a", draining=(worker, since), **kw)  # type: ignore[arg-type]


def test_scale_up_writes_the_count_and_gives_back_draining_pods() -> None:
    p = scaledown.plan(decision(5), 3, [*pods("p1", "p2"), draining("p3", "w3")],
                       [EngineView("w3", "p3", 0, True)], now=NOW, drain_timeout=TIMEOUT)
    assert p.replicas == 5
    assert p.release == (("p3", "w3"),)
    assert p.drain == () and p.removing == ()


def test_hold_writes_nothing() -> None:
    p = scaledown.plan(decision(3), 3, pods("p1", "p2", "p3"), [], now=NOW, drain_timeout=TIMEOUT)
    assert p == scaledown.Plan(None)


def test_first_step_drains_the_chosen_workers_without_lowering_the_count() -> None:
    workers = [EngineView("w1", "p1", 0, False), EngineView("w2", "p2", 0, False), EngineView("w3", "p3", 2, False)]
    p = scaledown.plan(decision(1, ("w2", "w1")), 3, pods("p1", "p2", "p3"), workers, now=NOW, drain_timeout=TIMEOUT)
    assert p.drain == (("p2", "w2"), ("p1", "w1"))
    assert p.replicas is None and p.removing == ()


def test_drained_pods_are_removed_when_the_controller_must_pick_them() -> None:
    workers = [EngineView("w1", "p1", 0, True), EngineView("w3", "p3", 1, False)]
    live = [draining("p1", "w1"), *pods("p3")]
    p = scaledown.plan(decision(1, ("w1",)), 2, live, workers, now=NOW, drain_timeout=TIMEOUT)
    assert (p.replicas, p.removing, p.drain) == (1, ("p1",), ())


def test_a_worker_whose_own_metrics_show_a_task_is_given_back() -> None:
    # The engine's slot view lags the worker's own: it took a task in the race before its pause.
    workers = [EngineView("w1", "p1", 0, True), EngineView("w3", "p3", 1, False)]
    live = [draining("p1", "w1", local_in_use=1), *pods("p3")]
    p = scaledown.plan(decision(1, ("w1",)), 2, live, workers, now=NOW, drain_timeout=TIMEOUT)
    assert p.replicas is None and p.removing == () and p.release == (("p1", "w1"),)
    assert "p1 took a task before the pause" in p.note


def test_a_worker_that_took_a_task_in_the_race_is_given_back_and_another_chosen() -> None:
    # Given back at once, not held paused until its task ends: the task runs on, and an idle
    # worker goes instead.
    workers = [EngineView("w1", "p1", 1, True), EngineView("w2", "p2", 0, False), EngineView("w3", "p3", 1, False)]
    live = [draining("p1", "w1", since=NOW - 10), *pods("p2", "p3")]
    p = scaledown.plan(decision(2, ("w2",)), 3, live, workers, now=NOW, drain_timeout=TIMEOUT)
    assert p.release == (("p1", "w1"),) and p.drain == (("p2", "w2"),) and p.replicas is None


def test_a_worker_never_shown_paused_waits_then_is_given_back_after_the_drain_timeout() -> None:
    workers = [EngineView("w1", "p1", 0, False), EngineView("w2", "p2", 0, False)]
    live = [draining("p1", "w1", since=NOW - 10), *pods("p2")]
    waiting = scaledown.plan(decision(1, ("w2",)), 2, live, workers, now=NOW, drain_timeout=TIMEOUT)
    assert (waiting.release, waiting.drain, waiting.pause, waiting.replicas) == ((), (), ("w1",), None)
    assert "waiting for the engine to list p1 as paused" in waiting.note
    live = [draining("p1", "w1", since=NOW - TIMEOUT - 1), *pods("p2")]
    late = scaledown.plan(decision(1, ("w2",)), 2, live, workers, now=NOW, drain_timeout=TIMEOUT)
    assert late.release == (("p1", "w1"),) and late.drain == (("p2", "w2"),)
    assert "giving back p1" in late.note and "took a task" not in late.note


def test_no_removal_while_another_pod_is_not_ready_or_a_rollout_runs() -> None:
    workers = [EngineView("w1", "p1", 0, True)]
    not_ready = [draining("p1", "w1"), Pod("p2", False, template="a"), *pods("p3")]
    p = scaledown.plan(decision(2, ("w1",)), 3, not_ready, workers, now=NOW, drain_timeout=TIMEOUT)
    assert p.replicas is None and "not Ready" in p.note
    rolling = [draining("p1", "w1"), *pods("p2"), *pods("p3", template="b")]
    p = scaledown.plan(decision(2, ("w1",)), 3, rolling, workers, now=NOW, drain_timeout=TIMEOUT)
    assert p.replicas is None and "rollout" in p.note
    unsettled = [draining("p1", "w1"), *pods("p2")]
    p = scaledown.plan(decision(2, ("w1",)), 3, unsettled, workers, now=NOW, drain_timeout=TIMEOUT)
    assert p.replicas is None


def test_pods_with_no_registered_worker_only_lower_the_count() -> None:
    live = [Pod("p1", False, template="a"), *pods("p2")]
    p = scaledown.plan(decision(1, (), unregistered=1), 2, live, [EngineView("w2", "p2", 1, False)],
                       now=NOW, drain_timeout=TIMEOUT)
    assert (p.replicas, p.drain, p.removing) == (1, (), ())


def test_more_draining_than_wanted_gives_back_the_newest() -> None:
    workers = [EngineView("w1", "p1", 0, True), EngineView("w2", "p2", 0, True)]
    live = [draining("p1", "w1", since=NOW - 20), draining("p2", "w2", since=NOW - 5), *pods("p3")]
    p = scaledown.plan(decision(2, ("w1", "w2")), 3, live, workers, now=NOW, drain_timeout=TIMEOUT)
    assert p.release == (("p2", "w2"),)
    # p2 is unpaused now and may take a task before its lowest deletion cost is gone: p1 goes next time.
    assert (p.replicas, p.removing) == (None, ())
    after = [live[0], *pods("p2", "p3")]
    p = scaledown.plan(decision(2, ("w1",)), 3, after, workers[:1], now=NOW, drain_timeout=TIMEOUT)
    assert (p.replicas, p.removing, p.release) == (2, ("p1",), ())


def test_a_marked_pod_whose_worker_is_not_paused_is_paused_again() -> None:
    live = [draining("p1", "w1"), *pods("p2")]
    p = scaledown.plan(decision(1, ("w1",)), 2, live, [EngineView("w1", "p1", 0, False)], now=NOW,
                       drain_timeout=TIMEOUT)
    assert p.pause == ("w1",) and p.replicas is None


def test_a_worker_gone_from_the_engine_counts_as_drained() -> None:
    p = scaledown.plan(decision(1), 2, [draining("p1", "w1"), *pods("p2")], [], now=NOW, drain_timeout=TIMEOUT)
    assert (p.replicas, p.removing) == (1, ("p1",))


def test_a_pause_the_scheduler_may_not_have_seen_proves_nothing() -> None:
    # The engine shows the worker paused and idle 2 s after the pause, but its scheduler reads
    # pauses every 5 s and may still give it a task: the pod waits for a reading taken
    # CONFIRM_SECONDS after the drain started, and the plan says when that is.
    since = NOW - 2
    workers = [EngineView("w1", "p1", 0, True), EngineView("w2", "p2", 0, False)]
    live = [draining("p1", "w1", since=since, local_in_use=0), *pods("p2")]
    early = scaledown.plan(decision(1), 2, live, workers, now=NOW, drain_timeout=TIMEOUT)
    assert (early.replicas, early.removing, early.recheck_at) == (None, (), since + scaledown.CONFIRM_SECONDS)
    # Acting later on a reading taken too early does not count either: the reading's time decides.
    later = NOW + 10
    stale = scaledown.plan(decision(1), 2, live, workers, now=later, drain_timeout=TIMEOUT, read_at=NOW)
    assert stale.removing == ()
    ok = scaledown.plan(decision(1), 2, live, workers, now=later, drain_timeout=TIMEOUT,
                        read_at=since + scaledown.CONFIRM_SECONDS)
    assert (ok.replicas, ok.removing, ok.recheck_at) == (1, ("p1",), None)
    # A worker gone from the engine needs no such wait.
    assert scaledown.plan(decision(1), 2, live, workers[1:], now=NOW, drain_timeout=TIMEOUT).removing == ("p1",)


def test_early_polls_confirm_a_drain_and_meet_the_window_end() -> None:
    held = autoscale.Decision(3, 1, (), 0, (), "", release_at=NOW + 40)
    confirm_in_7 = scaledown.Plan(None, recheck_at=NOW + 7)
    assert scaledown.early_poll(held, None, NOW) == 40
    assert scaledown.early_poll(held, scaledown.Plan(None), NOW) == 40
    assert scaledown.early_poll(held, confirm_in_7, NOW) == 7
    assert scaledown.early_poll(autoscale.Decision(3, 1, (), 0, (), "", release_at=NOW + 2), confirm_in_7, NOW) == 2
    assert scaledown.early_poll(autoscale.Decision(3, 1, (), 0, (), "", release_at=NOW - 1), None, NOW) == 0
    assert scaledown.early_poll(decision(3), None, NOW) is None
    assert scaledown.early_poll(decision(3), confirm_in_7, NOW) == 7
    # A drain started now asks for its confirming reading.
    fresh = scaledown.plan(decision(1, ("w2",)), 2, pods("p1", "p2"), [EngineView("w2", "p2", 0, False)],
                           now=NOW, drain_timeout=TIMEOUT)
    assert fresh.drain == (("p2", "w2"),) and scaledown.early_poll(decision(1), fresh, NOW) == scaledown.CONFIRM_SECONDS


def test_annotation_round_trip_and_unreadable_values() -> None:
    assert scaledown.parse_drain(scaledown.drain_value("w-1", 1_700_000_000)) == ("w-1", 1_700_000_000.0)
    assert scaledown.parse_drain("garbage") is None
    body = {"metadata": {"name": "p", "annotations": {scaledown.DRAIN_ANNOTATION: "w9 yesterday"},
                         "labels": {"pod-template-hash": "h"}},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    assert Pod.of(body) == Pod("p", True, False, "h", ("w9", 0.0))


def test_confirm_names_pods_that_went_instead() -> None:
    after = [Pod("p1", True, terminating=True), Pod("p2", True, terminating=True), Pod("p3", True)]
    assert scaledown.confirm(("p1",), after) == ([], ["p2"])
    assert scaledown.confirm(("p3",), after[2:]) == (["p3"], [])


# --- properties over random fleets -------------------------------------------------------------

@st.composite
def fleets(draw: st.DrawFn) -> tuple[autoscale.Decision, int, list[Pod], list[EngineView]]:
    n = draw(st.integers(1, 8))
    live: list[Pod] = []
    workers: list[EngineView] = []
    for i in range(n):
        used = draw(st.integers(0, 2))
        paused = draw(st.booleans())
        marked = draw(st.booleans())
        since = NOW - draw(st.one_of(st.floats(0, 2 * scaledown.CONFIRM_SECONDS), st.floats(0, 2 * TIMEOUT)))
        local = draw(st.one_of(st.none(), st.integers(0, 1)))
        live.append(Pod(f"p{i}", draw(st.booleans()), template=draw(st.sampled_from("aab")),
                        draining=(f"w{i}", since) if marked else None, local_in_use=local if marked else None))
        if draw(st.booleans()):
            workers.append(EngineView(f"w{i}", f"p{i}", used, paused))
    current = draw(st.integers(n - 1, n + 1))
    idle = [w.id for w in workers if w.used_slots == 0]
    remove = tuple(draw(st.lists(st.sampled_from(idle), unique=True, max_size=len(idle)))) if idle else ()
    unregistered = draw(st.integers(0, max(0, current - len(workers))))
    desired = draw(st.integers(0, current + 2))
    return decision(desired, remove, unregistered), current, live, workers


@settings(max_examples=400, derandomize=True, deadline=None)
@given(fleets(), st.floats(0, 3))
def test_never_removes_a_pod_whose_worker_runs_a_task(
    fleet: tuple[autoscale.Decision, int, list[Pod], list[EngineView]], age: float,
) -> None:
    d, current, live, workers = fleet
    read_at = NOW - age  # the engine's view may be a little older than the step
    p = scaledown.plan(d, current, live, workers, now=NOW, drain_timeout=TIMEOUT, read_at=read_at)
    by_pod = {w.pod: w for w in workers}
    by_name = {x.name: x for x in live}
    for name in p.removing:
        pod = by_name[name]
        w = by_pod.get(name)
        assert pod.draining is not None, "only pods marked in an earlier step go"
        assert w is None or (w.paused and w.used_slots == 0), "the engine shows it paused and idle"
        assert w is None or read_at - pod.draining[1] >= scaledown.CONFIRM_SECONDS, "after its scheduler saw it"
        assert pod.local_in_use in (None, 0), "the worker's own metrics agree"
    if p.replicas is not None and p.replicas < current:
        # Exactly the removed pods are the ones the ReplicaSet controller ranks first: every pod that
        # stays is Ready, one template, and the count matches the pods.
        stays = [x for x in live if x.name not in p.removing]
        dropped = current - p.replicas
        not_ready_gone = dropped - len(p.removing)
        not_ready = [x for x in stays if not x.ready]
        busy = {w.pod for w in workers if w.used_slots > 0}
        assert len(not_ready) >= not_ready_gone
        if not_ready_gone:
            assert not busy & {x.name for x in not_ready}, "whichever not-ready pod goes runs no task"
        assert len(live) == current
        if p.removing:
            assert len(not_ready) == not_ready_gone, "the controller takes every not-ready pod first"
            assert len({x.template for x in live}) == 1
            # The removed pods share the lowest deletion cost with every other marked pod: none may stay
            # marked (or be marked now), or the controller could take it, task and all, instead.
            assert not [x for x in stays if x.draining is not None] and not p.drain and not p.release
        assert p.replicas >= d.desired
    # Nothing is both drained and released, and only idle workers the decision chose start draining.
    assert not {n for n, _ in p.release} & set(p.removing)
    assert {w for _, w in p.drain} <= set(d.remove)
    # Every pod left draining gets a reading as soon as one can show it drained.
    assert not p.drain or (p.recheck_at is not None and p.recheck_at <= NOW + scaledown.CONFIRM_SECONDS)
    assert p.replicas is None or p.replicas >= 0
    if d.desired >= current:
        assert not p.drain and not p.removing


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.lists(st.floats(0, 3 * scaledown.CONFIRM_SECONDS), min_size=1, max_size=6), st.floats(0, 3))
def test_a_drain_counts_only_on_a_reading_the_scheduler_had_seen_it_by(ages: list[float], age: float) -> None:
    # Every pod marked, its worker paused and idle at the engine: the reading's time alone decides.
    live = [draining(f"p{i}", f"w{i}", since=NOW - a) for i, a in enumerate(ages)]
    workers = [EngineView(f"w{i}", f"p{i}", 0, True) for i in range(len(ages))]
    read_at = NOW - age
    p = scaledown.plan(decision(0), len(live), live, workers, now=NOW, drain_timeout=TIMEOUT, read_at=read_at)
    settled = [x for x in live if x.draining and read_at - x.draining[1] >= scaledown.CONFIRM_SECONDS]
    unsettled = [x for x in live if x not in settled]
    # All together or none (every marked pod shares the lowest deletion cost).
    assert p.removing == (tuple(x.name for x in sorted(settled, key=lambda x: (x.draining or ("", 0))[1]))
                          if not unsettled else ())
    expected = min((x.draining[1] + scaledown.CONFIRM_SECONDS for x in unsettled if x.draining), default=None)
    assert p.recheck_at == expected
