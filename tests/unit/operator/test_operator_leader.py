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
