"""Reading a kube-apiserver audit log (``ControlPlane(audit=True)``): who held a Lease when, and
which writes a client made while it did not hold it. The apiserver's record, not the client's.

Each operator replica runs with its own client certificate, so ``user.username`` names the replica.
A write counts against a replica when the apiserver *received* it after the last Lease write it had
*completed* before that moment named another holder or no holder (released) - i.e. the write
arrived while someone else led, or after this replica let go.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


def _time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Write:
    user: str
    verb: str
    resource: str
    namespace: str
    name: str
    received: dt.datetime
    code: int

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}"
        return f"{self.received.time()} {self.user} {self.verb} {self.resource} {where} {self.code}"


@dataclass(frozen=True)
class Tenure:
    """From ``start`` (the Lease write that made ``holder`` the holder completed) to the next change."""

    start: dt.datetime
    holder: str | None
    """The user (client) that holds it, None when released."""


def _ref(event: Mapping[str, Any]) -> Mapping[str, Any]:
    return event.get("objectRef") or {}


def _code(event: Mapping[str, Any]) -> int:
    return int((event.get("responseStatus") or {}).get("code") or 0)


def tenures(events: Iterable[Mapping[str, Any]], namespace: str, name: str) -> list[Tenure]:
    """Successful writes of one Lease, in completion order, as (when, which user holds it now)."""
    out = []
    for e in events:
        ref = _ref(e)
        obj = e.get("requestObject") or {}
        lease_name = ref.get("name") or (obj.get("metadata") or {}).get("name")
        if ref.get("resource") != "leases" or ref.get("namespace") != namespace or lease_name != name:
            continue
        if e.get("verb") not in WRITE_VERBS or e.get("stage") != "ResponseComplete" or not 200 <= _code(e) < 300:
            continue
        holder = (obj.get("spec") or {}).get("holderIdentity")
        out.append(Tenure(_time(e["stageTimestamp"]), e["user"]["username"] if holder else None))
    return sorted(out, key=lambda t: t.start)


def writes(events: Iterable[Mapping[str, Any]], users: Iterable[str], exclude: str = "leases") -> list[Write]:
    """Write requests by ``users`` to anything but ``exclude``, whatever the outcome."""
    wanted = set(users)
    out = []
    for e in events:
        ref = _ref(e)
        user = (e.get("user") or {}).get("username", "")
        if user not in wanted or e.get("verb") not in WRITE_VERBS or e.get("stage") != "ResponseComplete":
            continue
        resource = str(ref.get("resource", ""))
        if resource == exclude:
            continue
        if ref.get("subresource"):
            resource += "/" + str(ref["subresource"])
        out.append(
            Write(
                user,
                str(e["verb"]),
                resource,
                str(ref.get("namespace", "")),
                str(ref.get("name", "")),
                _time(e["requestReceivedTimestamp"]),
                _code(e),
            )
        )
    return sorted(out, key=lambda w: w.received)


def holder_at(history: list[Tenure], when: dt.datetime) -> str | None:
    """Who held the Lease when the apiserver received a request at ``when``."""
    current = None
    for t in history:
        if t.start >= when:
            break
        current = t.holder
    return current


def out_of_turn(events: Iterable[Mapping[str, Any]], namespace: str, lease: str, users: Iterable[str]) -> list[Write]:
    """Writes by ``users`` that the apiserver received while the Lease was not theirs."""
    events = list(events)
    history = tenures(events, namespace, lease)
    return [w for w in writes(events, users) if holder_at(history, w.received) != w.user]
