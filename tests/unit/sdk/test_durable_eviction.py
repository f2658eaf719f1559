"""Which waiting durable run the worker evicts (``_eviction.choose``), and the durable wait's wire
conditions (``_durable_ops.conditions_proto``): pure functions, checked against the official SDK's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hatchet_worker import SleepCondition, UserEventCondition, or_
from hatchet_worker._durable_ops import conditions_proto, first_match, memo_key
from hatchet_worker._eviction import DEFAULT_DURABLE_TASK_EVICTION_POLICY, EvictionPolicy, Waiting, choose

NOW = 1000.0


def waiting(since: float | None, policy: EvictionPolicy | None = DEFAULT_DURABLE_TASK_EVICTION_POLICY,
            count: int = 1) -> Waiting:
    return Waiting("run", 1, policy, since=since, count=count, on="wait_for(x)")


def test_ttl_evicts_the_lowest_priority_then_longest_waiting() -> None:
    short = EvictionPolicy(ttl=timedelta(seconds=5))
    runs = {"a": waiting(NOW - 6, short), "b": waiting(NOW - 9, short), "c": waiting(NOW - 4, short),
            "d": waiting(NOW - 7, EvictionPolicy(ttl=timedelta(seconds=5), priority=-1))}
    key, reason = choose(runs, NOW, durable_slots=100) or (None, "")
    assert key == "d" and reason == "Wait TTL (0:00:05) exceeded while waiting on wait_for(x)"
    del runs["d"]
    assert choose(runs, NOW, 100) == ("b", "Wait TTL (0:00:05) exceeded while waiting on wait_for(x)")


def test_runs_not_waiting_or_without_a_policy_are_never_chosen() -> None:
    short = EvictionPolicy(ttl=timedelta(seconds=1))
    runs = {"active": waiting(NOW - 60, short, count=0), "never": waiting(NOW - 60, None)}
    assert choose(runs, NOW, durable_slots=1) is None


def test_capacity_eviction_when_waiting_runs_fill_the_durable_slots() -> None:
    no_ttl = EvictionPolicy(ttl=None)
    runs = {"old": waiting(NOW - 30, no_ttl), "new": waiting(NOW - 5, no_ttl),
            "pinned": waiting(NOW - 60, EvictionPolicy(ttl=None, allow_capacity_eviction=False))}
    assert choose(runs, NOW, durable_slots=4) is None  # 3 waiting of 4 slots: no pressure
    assert choose(runs, NOW, durable_slots=3) == ("old", "Worker at capacity while waiting on wait_for(x)")
    del runs["old"]  # "new" has waited under 10 s, "pinned" does not allow it
    assert choose(runs, NOW, durable_slots=2) is None


def test_conditions_proto_groups_or_members_and_namespaces_event_keys() -> None:
    since = datetime(2026, 1, 2, tzinfo=UTC)
    group = or_(SleepCondition(timedelta(seconds=30)), UserEventCondition("paid", "input.ok", scope="s",
                                                                          consider_events_since=since))
    alone = SleepCondition(timedelta(minutes=2))
    msg = conditions_proto([group, alone], lambda key: "ns_" + key)
    first, second = msg.sleep_conditions
    event = msg.user_event_conditions[0]
    assert (first.sleep_for, first.base.readable_data_key, second.sleep_for) == ("30s", "sleep:30s", "2m")
    assert first.base.or_group_id == event.base.or_group_id == group.or_group_id != second.base.or_group_id
    assert (event.user_event_key, event.base.readable_data_key, event.base.expression) == ("ns_paid", "paid",
                                                                                           "input.ok")
    assert event.event_scope == "s" and event.consider_events_since.ToDatetime(tzinfo=UTC) == since


def test_first_match_and_memo_key() -> None:
    assert first_match({"CREATE": {"paid": [{"n": 2}]}}) == {"n": 2}
    # the official SDK's digest: sha256(run id, JSON of the args, JSON of the kwargs)
    assert memo_key("r").hex() == "143b110b83e530c987b862754ee1740372abbca2bbddc5d8803e16935169ebcc"
