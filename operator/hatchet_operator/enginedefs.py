"""What one task of an action costs and requires, read from the workflow definitions the engine holds.

Hatchet v0.104.7 stores, per step (task), the slots it takes while it runs as ``slot type -> units``
(``pkg/repository/workflow.go``, ``createJobTx``: a step declared without slot requests gets
``{"durable": 1}`` if it is durable, else ``{"default": 1}``; units <= 0 are dropped), and the
scheduler reserves all of them on one worker (``pkg/scheduling/v1/scheduler.go``,
``selectSlotsFromPools``). Label affinity is per step too: a desired label marked ``required``
that a worker does not satisfy rules the worker out (``pkg/scheduling/v1/worker.go``,
``computeWeight``: a missing key or an unmet comparator gives -1); the others only weigh.

Both come back in ``GET /api/v1/workflows/{workflow}/versions`` as ``workflowConfig`` (the stored
``CreateWorkflowVersionOpts``: ``Tasks[]`` and ``onFailureJob`` with ``Action``,
``DesiredWorkerLabels``, ``isDurable``, ``slotRequests``). Definitions change rarely, so
``Definitions`` reads a workflow only when one of its actions is first seen or a new worker
registers it (a deploy that may carry a new version), and keeps what it read per workflow version.

Not visible here: labels given when a run is triggered (``desired_worker_labels`` of a trigger).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hatchet_operator import autoscale

log = logging.getLogger(__name__)

DEFAULT = "default"
DURABLE = "durable"
COMPARATORS = ("EQUAL", "NOT_EQUAL", "GREATER_THAN", "GREATER_THAN_OR_EQUAL", "LESS_THAN", "LESS_THAN_OR_EQUAL")


@dataclass(frozen=True)
class LabelRule:
    """One required desired-worker-label of a task."""

    key: str
    value: str
    numeric: bool = False
    """The task gave an integer value (the engine then compares integers)."""
    comparator: str = "EQUAL"

    def met_by(self, labels: Mapping[str, str]) -> bool:
        """Whether a worker with ``labels`` (values as text, as the REST API lists them) meets it.
        As the engine, except that text and integer values that read the same compare equal."""
        have = labels.get(self.key)
        if have is None:
            return False
        if self.comparator == "EQUAL":
            return have == self.value
        if self.comparator == "NOT_EQUAL":
            return have != self.value
        if not self.numeric:
            return False  # the engine orders integers only
        try:
            mine, want = int(have), int(self.value)
        except ValueError:
            return False
        return {
            "GREATER_THAN": mine > want,
            "GREATER_THAN_OR_EQUAL": mine >= want,
            "LESS_THAN": mine < want,
            "LESS_THAN_OR_EQUAL": mine <= want,
        }.get(self.comparator, False)


@dataclass(frozen=True)
class ActionDef:
    """What one task of an action takes and requires."""

    slots: Mapping[str, int] = field(default_factory=lambda: {DEFAULT: 1})
    """Units per slot type while it runs."""
    required: tuple[LabelRule, ...] = ()


UNKNOWN = ActionDef()
"""An action whose definition could not be read: one default slot, no requirement (as before)."""


def slot_requests(task: Mapping[str, Any]) -> dict[str, int]:
    """A stored task's slot requests, defaults applied as the engine applies them."""
    raw = task.get("slotRequests") or {}
    out = {str(k): int(v) for k, v in raw.items() if isinstance(v, int) and v > 0} if isinstance(raw, Mapping) else {}
    if not raw:
        out = {DURABLE if task.get("isDurable") else DEFAULT: 1}
    return out or {DEFAULT: 1}


def label_rules(task: Mapping[str, Any]) -> tuple[LabelRule, ...]:
    """The required desired labels of a stored task (the others do not rule a worker out)."""
    rules: list[LabelRule] = []
    desired = task.get("DesiredWorkerLabels") or {}
    if not isinstance(desired, Mapping):
        return ()
    for name, spec in sorted(desired.items()):
        if not isinstance(spec, Mapping) or not spec.get("Required"):
            continue
        key = str(spec.get("Key") or name)
        comparator = str(spec.get("Comparator") or "EQUAL")
        if spec.get("IntValue") is not None:
            rules.append(LabelRule(key, str(int(spec["IntValue"])), True, comparator))
        elif spec.get("StrValue") is not None:
            rules.append(LabelRule(key, str(spec["StrValue"]), False, comparator))
        else:
            rules.append(LabelRule(key, "", False, "NEVER"))  # nothing to match: no worker can
    return tuple(rules)


def parse_version(body: Mapping[str, Any]) -> tuple[str, dict[str, ActionDef]]:
    """(version id, definition per action) of a ``WorkflowVersion`` answer."""
    version = str((body.get("metadata") or {}).get("id", ""))
    config = body.get("workflowConfig") or {}
    tasks = list(config.get("Tasks") or ()) + ([config["onFailureJob"]] if config.get("onFailureJob") else [])
    out: dict[str, ActionDef] = {}
    for task in tasks:
        if isinstance(task, Mapping) and task.get("Action"):
            out[str(task["Action"])] = ActionDef(slot_requests(task), label_rules(task))
    return version, out


def workflow_of(action: str) -> str:
    """The workflow part of an action id (``workflow:task``), lowercased as action ids are."""
    return action.split(":", 1)[0].lower()


MAX_READS_PER_POLL = 50
"""Workflow versions read in one poll at most (a tenant's first poll must not burst hundreds of
requests); the rest are read at the next polls and count as one default slot until then."""

Getter = Callable[[str, list[tuple[str, str]]], Awaitable[Any]]


@dataclass
class Definitions:
    """Per tenant: the definition of every action seen, read once per workflow version."""

    defs: dict[str, ActionDef] = field(default_factory=dict)
    workflow_ids: dict[str, list[str]] = field(default_factory=dict)
    """Lowercased workflow name -> workflow ids (read from the workflow list)."""
    versions: dict[str, str] = field(default_factory=dict)
    """Workflow id -> the version last read."""
    by_version: dict[str, dict[str, ActionDef]] = field(default_factory=dict)
    reads: int = 0
    """Workflow versions read (a test bounds it)."""
    requests: int = 0
    """Requests sent for definitions (workflow list pages and versions)."""
    max_reads: int = MAX_READS_PER_POLL
    pending: set[str] = field(default_factory=set)
    """Workflows to read again (a new worker registered them) that the last poll's budget left."""

    def get(self, action: str) -> ActionDef:
        return self.defs.get(action, UNKNOWN)

    async def refresh(self, get: Getter, tenant: str, needed: Iterable[str], renewed: Iterable[str] = ()) -> None:
        """Read the definitions of ``needed`` actions not known yet, and again those in ``renewed``
        (actions a new worker registered). A failed read leaves them unknown until the next poll."""
        want = set(needed)
        stale = {workflow_of(a) for a in want if a not in self.defs} | {workflow_of(a) for a in set(renewed) & want}
        stale |= self.pending & {workflow_of(a) for a in want}
        self.pending = set()
        if not stale:
            return
        if stale - set(self.workflow_ids):
            self.workflow_ids = await _workflow_ids(self._counted(get), tenant)
        done: set[str] = set()
        budget = self.max_reads
        try:
            for name in sorted(stale):
                ids = self.workflow_ids.get(name, [])
                if done and len(ids) > budget:
                    break  # the rest at the next poll
                for wf_id in ids:
                    body = await self._counted(get)(f"/api/v1/workflows/{wf_id}/versions", [])
                    version, defs = parse_version(body)
                    self.reads += 1
                    budget -= 1
                    self.versions[wf_id] = version
                    self.by_version.setdefault(version, defs)
                    self.defs.update(self.by_version[version])
                done.add(name)
        finally:
            self.pending = stale - done
        for action in want:
            # An action no stored workflow declares (deleted, or not ours): one slot, nothing required,
            # and not asked for again until a new worker registers it.
            if workflow_of(action) in done:
                self.defs.setdefault(action, UNKNOWN)

    def _counted(self, get: Getter) -> Getter:
        async def counted(path: str, params: list[tuple[str, str]]) -> Any:
            self.requests += 1
            return await get(path, params)

        return counted


async def _workflow_ids(get: Getter, tenant: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    offset, limit = 0, 1000
    while True:
        page = await get(f"/api/v1/tenants/{tenant}/workflows", [("offset", str(offset)), ("limit", str(limit))])
        rows = page.get("rows") or []
        for row in rows:
            out.setdefault(str(row.get("name", "")).lower(), []).append(str((row.get("metadata") or {}).get("id", "")))
        pagination = page.get("pagination") or {}
        if len(rows) < limit or pagination.get("next_page") == pagination.get("current_page"):
            return out
        offset += limit


@dataclass(frozen=True)
class Shape:
    """The decision's inputs in one slot pool: the pool that limits the fleet."""

    pool: str | None
    """None: no pool size known (the decision then asks for one worker to learn it)."""
    slots_per_worker: int | None
    work: tuple[autoscale.Work, ...]
    used: Mapping[str, int]
    """Worker id -> units in use in ``pool`` (and in pools of unknown size)."""
    queued_unservable: int = 0
    """Queued tasks this HatchetWorker's labels cannot take (not counted)."""


def shape(
    queued: Mapping[str, int],
    defs: Mapping[str, ActionDef],
    workers: Sequence[tuple[str, Mapping[str, tuple[int, int]]]],
    spec_slots: int | None,
    labels: Mapping[str, str],
) -> Shape:
    """Cut the work into the one pool the decision counts in.

    A worker takes a task only with room in every pool the task asks for, so the fleet needs, per
    pool, its demand over one worker's size, and the most of those. That pool is chosen here (the
    default pool on ties); pools no worker reports a size for count as part of it (so durable work
    queued before any worker has told its durable slots still scales from zero), and work that
    asks nothing of the chosen pool has room by that choice. Each worker's ``(available, limit)``
    per pool comes from the worker list; ``spec_slots`` sizes the default pool when none does.
    """
    limits: dict[str, int] = {}
    for _, slots in workers:
        for kind, (_, limit) in slots.items():
            if limit > 0:
                limits[kind] = max(limits.get(kind, 0), limit)
    if DEFAULT not in limits and spec_slots:
        limits[DEFAULT] = spec_slots
    servable: dict[str, int] = {}
    unservable = 0
    for action, n in queued.items():
        if n <= 0:
            continue
        if all(rule.met_by(labels) for rule in defs.get(action, UNKNOWN).required):
            servable[action] = n
        else:
            unservable += n
    demand: dict[str, int] = {}
    for action, n in servable.items():
        for kind, units in defs.get(action, UNKNOWN).slots.items():
            demand[kind] = demand.get(kind, 0) + n * units
    for _, slots in workers:
        for kind, (available, limit) in slots.items():
            demand[kind] = demand.get(kind, 0) + max(0, limit - available)

    pool: str | None = None
    if limits:
        pool = DEFAULT if DEFAULT in limits else sorted(limits)[0]
        for kind in sorted(limits):
            # demand[kind] / limits[kind] > demand[pool] / limits[pool], in integers
            if demand.get(kind, 0) * limits[pool] > demand.get(pool, 0) * limits[kind]:
                pool = kind

    def counted(kind: str) -> bool:
        return pool is None or kind == pool or kind not in limits

    work = []
    for action, n in sorted(queued.items()):
        if n <= 0:
            continue
        d = defs.get(action, UNKNOWN)
        cost = sum(units for kind, units in d.slots.items() if counted(kind))
        if action in servable and cost == 0:
            continue  # asks nothing of the pool that limits the fleet
        required = {r.key: r.value for r in d.required if r.comparator == "EQUAL"}
        if action not in servable and all(labels.get(k) == v for k, v in required.items()):
            continue  # ruled out by a comparator the decision does not know (it compares EQUAL only)
        work.append(autoscale.Work(action, n, max(1, cost), required))
    used = {
        wid: sum(max(0, limit - available) for kind, (available, limit) in slots.items() if counted(kind))
        for wid, slots in workers
    }
    return Shape(pool, limits.get(pool) if pool else None, tuple(work), used, unservable)
