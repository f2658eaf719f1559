"""Drain-aware scale-down, as a pure plan: which pods to start draining, which to give back, and when
the Deployment's replica count may drop so that exactly the drained pods go (no I/O; the clock is an
input).

A scale-down the decision (``autoscale.decide``) asks for goes through these steps, one per poll
(the poll after a drain starts comes ``CONFIRM_SECONDS`` later, not a whole interval):

1. **Drain**: each chosen idle worker's pod is annotated (``DRAIN_ANNOTATION``: the engine worker id
   and the time; ``DELETION_COST`` at the lowest value) and the worker is paused at the engine, so
   nothing new is assigned to it. The annotation is the scale-down's memory: an operator restart
   finds it on the pod and resumes or rolls back from there.
2. **Wait, bounded**: a draining pod counts as drained once the engine lists its worker as paused
   with no slot in use, in a reading taken at least ``CONFIRM_SECONDS`` after the drain started
   (by then the engine's scheduler has seen the pause), and the worker's own ``/metrics`` (when it
   serves them) shows no slot in use either. A worker that took a task in the race before the
   pause (the engine or its own metrics show a slot in use) is given back at once (unpaused,
   annotation removed; its task runs on) and another idle worker is chosen; one still not shown
   drained after the drain timeout is given back too.
3. **Remove exactly those pods**: the replica count drops by the drained pods only while the
   ReplicaSet controller is certain to pick them: one pod template (no rollout, whose proportional
   scaling spreads a removal over ReplicaSets), every other pod Ready, no other pod marked (all marked
   pods share the lowest cost, so the controller could take one still running a task), and the count
   equal to the pods that exist. The controller deletes not-ready pods first, then the lowest
   deletion cost, so the drained pods (lowest cost) are the ones that go. The next poll confirms it
   (``confirm``).
4. A scale-down that is no longer wanted (the queue grew back) gives every draining pod back.

Pods with no registered worker (starting or crashed; ``Decision.remove_unregistered``) need no
drain: the controller removes not-ready pods first anyway, so they only lower the count, and only
when the not-ready pods are no more than the ones the decision lets go.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hatchet_operator import autoscale

DRAIN_ANNOTATION = "hatchetkube.io/scale-down"
"""On a pod being drained for removal: ``<engine worker id> <RFC 3339 time the drain started>``."""
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
CONFIRM_SECONDS = autoscale.DRAIN_LEAD_SECONDS
"""How long after its drain started a reading must have been taken to show a pod drained, and how
soon after pausing workers the tenant is read again (not a whole poll interval later). The engine's
scheduler refreshes its list of assignable workers every 5 s, so until then a paused worker can
still be given a task, which a reading taken earlier would not show; the drain's start is recorded
in whole seconds (up to 1 s early); 1 s more is margin. The decision starts a scale-down this much
before its window ends."""
REMOVAL_COST = str(-(2**31))
"""The lowest deletion cost (int32): the ReplicaSet controller removes this pod before any Ready pod
with a higher one."""


def early_poll(decision: autoscale.Decision, step: Plan | None, now: float) -> float | None:
    """Seconds until the tenant should be read again, when that is to come before the poll
    interval ends (the poller takes the earliest ask): when a reading can show the pods draining
    now as drained (``Plan.recheck_at``), so they go without waiting a whole interval; and when the
    scale-down window lets the count go lower (``Decision.release_at``), so the pods go when the
    window ends. None: no ask."""
    asks = [t - now for t in (step.recheck_at if step else None, decision.release_at) if t is not None]
    return max(0.0, min(asks)) if asks else None


def drain_value(worker_id: str, since: float) -> str:
    t = datetime.datetime.fromtimestamp(since, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{worker_id} {t}"


def parse_drain(value: str | None) -> tuple[str, float] | None:
    """(worker id, since) from a ``DRAIN_ANNOTATION`` value; None when absent or unreadable (an
    unreadable one is treated as a drain that started long ago, see ``Pod.of``)."""
    if not value:
        return None
    try:
        worker, at = value.split(" ", 1)
        since = datetime.datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC).timestamp()
    except ValueError:
        return None
    return worker, since


@dataclass(frozen=True)
class Pod:
    """One pod of the HatchetWorker's Deployment."""

    name: str
    ready: bool
    terminating: bool = False
    template: str = ""
    """The pod-template-hash label: pods of one ReplicaSet share it."""
    draining: tuple[str, float] | None = None
    """(engine worker id, since) from ``DRAIN_ANNOTATION``."""
    local_in_use: int | None = None
    """Slots in use by the worker's own ``/metrics``; None when not read (only read for draining pods)."""

    @classmethod
    def of(cls, body: Mapping[str, object]) -> Pod:
        meta = body.get("metadata") or {}
        assert isinstance(meta, Mapping)
        status = body.get("status") or {}
        assert isinstance(status, Mapping)
        conditions = status.get("conditions") or ()
        assert isinstance(conditions, Sequence)
        ready = any(
            isinstance(c, Mapping) and c.get("type") == "Ready" and c.get("status") == "True" for c in conditions
        )
        annotations = meta.get("annotations") or {}
        labels = meta.get("labels") or {}
        assert isinstance(annotations, Mapping) and isinstance(labels, Mapping)
        raw = annotations.get(DRAIN_ANNOTATION)
        draining = parse_drain(str(raw)) if raw is not None else None
        if raw is not None and draining is None:
            draining = (str(raw).split(" ", 1)[0], 0.0)  # unreadable time: past any bound, released or removed
        return cls(
            name=str(meta.get("name", "")),
            ready=ready and status.get("phase") == "Running",
            terminating=bool(meta.get("deletionTimestamp")),
            template=str(labels.get("pod-template-hash", "")),
            draining=draining,
        )


@dataclass(frozen=True)
class EngineView:
    """What the engine lists about one worker of this HatchetWorker."""

    id: str
    pod: str | None
    used_slots: int
    paused: bool


@dataclass(frozen=True)
class Plan:
    replicas: int | None
    """The Deployment's new replica count; None leaves it."""
    drain: tuple[tuple[str, str], ...] = ()
    """(pod, worker id) to start draining: annotate the pod, then pause the worker."""
    release: tuple[tuple[str, str], ...] = ()
    """(pod, worker id) to give back: unpause the worker, then remove the annotations."""
    removing: tuple[str, ...] = ()
    """Pods the replica write removes (drained ones); the next poll confirms they were the ones."""
    pause: tuple[str, ...] = ()
    """Workers of draining pods the engine does not list as paused (a stop between the annotation and
    the pause): paused again (idempotent)."""
    note: str = ""
    recheck_at: float | None = None
    """When a reading can first show a pod draining now as drained (``CONFIRM_SECONDS`` after its
    drain started); None when no pod waits for that."""


def plan(
    decision: autoscale.Decision,
    current: int,
    pods: Sequence[Pod],
    workers: Sequence[EngineView],
    *,
    now: float,
    drain_timeout: float,
    read_at: float | None = None,
) -> Plan:
    """The next step towards ``decision.desired`` from ``current`` replicas (see the module doc);
    ``workers`` is the engine's view read at ``read_at`` (default ``now``)."""
    read_at = now if read_at is None else read_at
    live = [p for p in pods if not p.terminating]
    draining = [p for p in live if p.draining is not None]
    if decision.desired >= current:
        gone = tuple((p.name, p.draining[0]) for p in draining if p.draining)
        replicas = decision.desired if decision.desired > current else None
        note = f"scale-down no longer wanted: giving back {len(gone)} draining pods" if gone else ""
        return Plan(replicas, release=gone, note=note)

    want = current - decision.desired
    by_id = {w.id: w for w in workers}
    drained: list[Pod] = []
    waiting: list[Pod] = []
    settling: list[Pod] = []
    """Draining pods no reading has been late enough to judge (see CONFIRM_SECONDS)."""
    raced: list[str] = []
    release: list[tuple[str, str]] = []
    for p in sorted(draining, key=lambda p: (p.draining or ("", 0.0))[1]):
        assert p.draining is not None
        worker_id, since = p.draining
        w = by_id.get(worker_id)
        # A worker the engine no longer lists as active or paused has stopped heartbeating: the
        # engine gives its tasks to others whatever happens to the pod, so removing it loses nothing.
        quiet = w is None or (w.paused and w.used_slots == 0)
        # A pause the engine's scheduler may not have seen yet proves nothing: wait for a reading
        # taken after it must have (a worker gone from the engine needs no such wait).
        settled = w is None or read_at - since >= CONFIRM_SECONDS
        took_work = (w is not None and w.used_slots > 0) or bool(p.local_in_use)
        if quiet and settled and not took_work:
            drained.append(p)
        elif took_work:
            # It took a task in the race before its pause (the decision names idle workers only):
            # give it back at once, so the task runs on and another idle worker goes instead,
            # rather than holding this one paused, and every other drain with it, until the task
            # ends.
            raced.append(p.name)
            release.append((p.name, worker_id))
        elif now - since > drain_timeout:
            release.append((p.name, worker_id))  # the engine never listed it as paused in time
        else:
            waiting.append(p)
            if not settled:
                settling.append(p)
    # More draining than the scale-down still wants: give back the newest first.
    keep = drained + waiting
    while len(keep) > want:
        extra = max(keep, key=lambda p: (p.draining or ("", 0.0))[1])
        keep.remove(extra)
        assert extra.draining is not None
        release.append((extra.name, extra.draining[0]))
    drained = [p for p in drained if p in keep]
    waiting = [p for p in waiting if p in keep]

    # Start draining more of the decision's idle workers (those with a known pod), up to the need.
    taken = {p.name for p in draining} | {name for name, _ in release}
    pod_names = {p.name for p in live}
    new: list[tuple[str, str]] = []
    room = want - len(drained) - len(waiting) - decision.remove_unregistered
    for worker_id in decision.remove:
        w = by_id.get(worker_id)
        if room <= 0 or w is None or w.pod is None or w.pod not in pod_names or w.pod in taken:
            continue
        new.append((w.pod, worker_id))
        taken.add(w.pod)
        room -= 1

    # Lower the count only where the ReplicaSet controller will remove exactly the drained pods.
    removing = drained
    not_ready = [p for p in live if not p.ready and p not in removing]
    # Never below the decision: drained pods (from earlier polls) count before workerless ones.
    unregistered = max(0, min(decision.remove_unregistered, len(not_ready), want - len(removing)))
    notes: list[str] = []
    # The controller picks which not-ready pods go: all of them must be free of running tasks.
    busy = {w.pod for w in workers if w.used_slots > 0}
    if unregistered and any(p.name in busy for p in not_ready):
        notes.append("a pod that is not Ready runs a task: its removal waits")
        unregistered = 0
    # Every marked pod has the same lowest deletion cost, so while another is marked (still
    # draining, given back in this step or newly chosen) the controller could take it instead of a
    # drained one, and it may run a task (it can take one in the race before its pause lands).
    others_marked = waiting or new or release
    if removing and others_marked:
        notes.append("other pods are still marked for removal: removal waits until all are drained")
        removing = []
    if removing and len(not_ready) > unregistered:
        notes.append(f"{len(not_ready)} pods not Ready: removal waits (the controller would take them first)")
        removing = []
    if removing and len({p.template for p in live}) > 1:
        notes.append("a rollout is in progress: removal waits for one pod template")
        removing = []
    if (removing or unregistered) and len(live) != current:
        notes.append(f"{len(live)} pods for {current} replicas: removal waits for the count to settle")
        removing, unregistered = [], 0
    replicas = current - len(removing) - unregistered if (removing or unregistered) else None
    if new:
        notes.append(f"draining {', '.join(name for name, _ in new)}")
    settling = [p for p in settling if p in waiting]
    if settling:
        notes.append(f"waiting until the engine's scheduler has seen {', '.join(p.name for p in settling)} paused")
    if unpaused := [p for p in waiting if p not in settling]:
        notes.append(f"waiting for the engine to list {', '.join(p.name for p in unpaused)} as paused")
    if raced:
        notes.append(f"{', '.join(raced)} took a task before the pause: given back")
    if rest := [name for name, _ in release if name not in raced]:
        notes.append(f"giving back {', '.join(rest)}")
    pause = tuple(
        p.draining[0]
        for p in waiting
        if p.draining and p.draining[0] in by_id and not by_id[p.draining[0]].paused
    )
    recheck = [p.draining[1] + CONFIRM_SECONDS for p in settling if p.draining]
    recheck += [now + CONFIRM_SECONDS] if new else []
    return Plan(
        replicas,
        drain=tuple(new),
        release=tuple(release),
        removing=tuple(p.name for p in removing),
        pause=pause,
        note="; ".join(notes),
        recheck_at=min(recheck, default=None),
    )


def confirm(removing: Sequence[str], pods: Sequence[Pod]) -> tuple[list[str], list[str]]:
    """After a replica write that meant to remove ``removing``: (chosen pods still running, other
    pods that are going instead). Both empty means exactly the chosen pods went."""
    live = {p.name for p in pods if not p.terminating}
    chosen = set(removing)
    kept = sorted(chosen & live)
    others = sorted(p.name for p in pods if p.terminating and p.name not in chosen and p.draining is None)
    return kept, others
