"""The audit-log reading that the one-writer tests count with (pure)."""

from __future__ import annotations

from typing import Any

from harness import audit


def _ev(t: str, user: str, verb: str, resource: str, *, holder: str | None = "x", code: int = 200) -> dict[str, Any]:
    e: dict[str, Any] = {
        "stage": "ResponseComplete",
        "verb": verb,
        "user": {"username": user},
        "objectRef": {"resource": resource, "namespace": "ns", "name": "lease" if resource == "leases" else "w"},
        "requestReceivedTimestamp": f"2026-01-01T00:00:{t}Z",
        "stageTimestamp": f"2026-01-01T00:00:{t}Z",
        "responseStatus": {"code": code},
    }
    if resource == "leases":
        e["requestObject"] = {"spec": {"holderIdentity": holder}}
    return e


def test_writes_out_of_turn() -> None:
    events = [
        _ev("01.000000", "a", "create", "leases"),
        _ev("02.000000", "a", "patch", "deployments"),  # a leads: fine
        _ev("03.000000", "b", "update", "leases", code=409),  # failed take-over: changes nothing
        _ev("04.000000", "b", "patch", "deployments"),  # b writes while a leads: out of turn
        _ev("05.000000", "b", "update", "leases"),  # b takes over
        _ev("06.000000", "a", "patch", "deployments"),  # deposed a writes: out of turn
        _ev("07.000000", "b", "update", "leases", holder=None),  # b releases
        _ev("08.000000", "b", "patch", "deployments"),  # after its own release: out of turn
        _ev("09.000000", "c", "patch", "deployments"),  # not one of the users counted
    ]
    bad = audit.out_of_turn(events, "ns", "lease", ["a", "b"])
    assert [(w.user, w.received.second) for w in bad] == [("b", 4), ("a", 6), ("b", 8)]
    assert [t.holder for t in audit.tenures(events, "ns", "lease")] == ["a", "b", None]
    assert len(audit.writes(events, ["a", "b"])) == 4


def test_a_write_received_with_the_takeover_still_in_progress_belongs_to_the_old_holder() -> None:
    events = [_ev("01.000000", "a", "create", "leases"), _ev("05.000000", "b", "update", "leases")]
    events[1]["requestReceivedTimestamp"] = "2026-01-01T00:00:04.000000Z"
    write = _ev("04.500000", "a", "patch", "hatchetworkers")
    write["objectRef"]["subresource"] = "status"
    assert audit.out_of_turn([*events, write], "ns", "lease", ["a"]) == []
    assert audit.writes([write], ["a"])[0].resource == "hatchetworkers/status"
