"""The leader-election decision (pure)."""

from __future__ import annotations

from hatchet_operator import leader


def test_renew_own_lease() -> None:
    assert leader.decide({"holderIdentity": "me", "leaseDurationSeconds": 15}, "me", 0, 100) == leader.Decision(True)


def test_take_a_free_lease() -> None:
    assert leader.decide({}, "me", 0, 0) == leader.Decision(True, transition=True)
    assert leader.decide({"holderIdentity": ""}, "me", 0, 0).transition


def test_wait_while_the_holder_renews() -> None:
    spec = {"holderIdentity": "other", "leaseDurationSeconds": 15}
    assert leader.decide(spec, "me", record_changed_at=100, now=110) == leader.Decision(False)


def test_take_over_an_expired_lease() -> None:
    spec = {"holderIdentity": "other", "leaseDurationSeconds": 15}
    assert leader.decide(spec, "me", record_changed_at=100, now=115) == leader.Decision(True, transition=True)


def test_micro_time_format() -> None:
    import datetime

    t = datetime.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=datetime.UTC)
    assert leader.micro_time(t) == "2026-01-02T03:04:05.000006Z"


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _elector(clock: _Clock) -> leader.LeaderElector:
    from hatchet_operator.metrics import Metrics
    from hatchet_operator.settings import LeaderElection

    return leader.LeaderElector(
        None,
        LeaderElection(identity="me"),
        Metrics(),
        watch_stale_seconds=30,  # type: ignore[arg-type]
        clock=clock,
    )


def test_watch_heartbeat_detects_a_stuck_watch() -> None:
    clock = _Clock()
    e = _elector(clock)
    e.is_leader = True
    e._wrote({"metadata": {"resourceVersion": "10"}, "spec": {}}, clock.now)
    clock.now += 5
    assert e.watch_heartbeat_age() == 5 and not e.watch_stuck()
    e.saw(10)  # the renewal came back through the watch
    assert e.watch_heartbeat_age() == 0
    e._wrote({"metadata": {"resourceVersion": "11"}, "spec": {}}, clock.now)
    e._wrote({"metadata": {"resourceVersion": "12"}, "spec": {}}, clock.now + 2)
    clock.now += 31
    assert e.watch_stuck()  # renewals keep succeeding but the watch shows none of them
    e.saw(12)
    assert not e.watch_stuck()


def test_a_standby_is_never_stuck() -> None:
    clock = _Clock()
    e = _elector(clock)
    e._wrote({"metadata": {"resourceVersion": "10"}, "spec": {}}, clock.now)
    clock.now += 1000
    assert not e.watch_stuck()
