"""Compute a HatchetWorker's status from what the operator observed (pure: the clock is passed in).

Conditions follow the Kubernetes API conventions (metav1.Condition): ``Ready`` (all desired worker
pods of the current template are available and nothing is wrong), ``Progressing`` (a rollout or
scale is under way) and ``Degraded`` (something needs a human: a missing Secret or key, no image,
an invalid pod setting, a rollout past its deadline, pods the ReplicaSet cannot create).
``lastTransitionTime`` only moves when a condition's status flips, so an unchanged world computes
an identical status and the operator writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hatchet_operator import render
from hatchet_operator.api import v1alpha1 as api

READY = "Ready"
PROGRESSING = "Progressing"
DEGRADED = "Degraded"

# Characters kept of a condition message. An apiserver rejection can quote a whole object; a message
# beyond the CRD's maxLength would make every status write fail, so the status could never recover.
MESSAGE_LIMIT = 4096
_CUT = " ... [truncated]"


def bounded(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """``message`` cut to at most ``limit`` characters, marked as cut when it was."""
    if len(message) <= limit:
        return message
    return message[: max(0, limit - len(_CUT))] + _CUT


@dataclass(frozen=True)
class Problem:
    """Something that makes the resource Degraded; ``reason`` is CamelCase, ``message`` names the field."""

    reason: str
    message: str


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to post for a transition."""

    type: str  # Normal | Warning
    reason: str
    message: str


def _cond(type_: str, status: bool, reason: str, message: str) -> dict[str, Any]:
    return {"type": type_, "status": "True" if status else "False", "reason": reason, "message": message}


def _deployment_condition(deployment: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    for c in deployment.get("status", {}).get("conditions", []) or []:
        if c.get("type") == type_:
            return c  # type: ignore[no-any-return]
    return None


def deployment_problems(deployment: Mapping[str, Any] | None) -> list[Problem]:
    """Problems the Deployment controller reports (rollout deadline, pods it cannot create)."""
    if deployment is None:
        return []
    out: list[Problem] = []
    progressing = _deployment_condition(deployment, "Progressing")
    if progressing and progressing.get("status") == "False" and progressing.get("reason") == "ProgressDeadlineExceeded":
        out.append(Problem("ProgressDeadlineExceeded", str(progressing.get("message", ""))))
    failure = _deployment_condition(deployment, "ReplicaFailure")
    if failure and failure.get("status") == "True":
        out.append(Problem("ReplicaFailure", str(failure.get("message", ""))))
    return out


def compute(
    *,
    name: str,
    generation: int | None,
    deployment: Mapping[str, Any] | None,
    problems: Sequence[Problem],
    previous: Mapping[str, Any] | None,
    now: str,
) -> dict[str, Any]:
    """The full status (wire form, camelCase) for one HatchetWorker."""
    problems = [*problems, *deployment_problems(deployment)]
    dep_spec = (deployment or {}).get("spec", {})
    dep_status = (deployment or {}).get("status", {})
    desired = int(dep_spec.get("replicas", 1)) if deployment else 0
    replicas = int(dep_status.get("replicas", 0))
    ready = int(dep_status.get("readyReplicas", 0))
    updated = int(dep_status.get("updatedReplicas", 0))
    available = int(dep_status.get("availableReplicas", 0))
    dep_gen = (deployment or {}).get("metadata", {}).get("generation")
    observed = dep_status.get("observedGeneration")

    if deployment is None:
        progressing = _cond(PROGRESSING, False, "NoDeployment", "the Deployment does not exist yet")
        if not problems:
            progressing = _cond(PROGRESSING, True, "Creating", "creating the Deployment")
    elif dep_gen is not None and (observed is None or observed < dep_gen):
        progressing = _cond(PROGRESSING, True, "RollingOut", "the Deployment controller has not seen the change yet")
    elif updated < desired or replicas > updated or available < desired:
        progressing = _cond(
            PROGRESSING,
            True,
            "RollingOut",
            f"{updated}/{desired} pods updated, {available} available, {replicas} total",
        )
    else:
        progressing = _cond(PROGRESSING, False, "RolloutComplete", f"{available}/{desired} pods available")

    if problems:
        first = problems[0]
        message = "; ".join(p.message for p in problems)
        degraded = _cond(DEGRADED, True, first.reason, message)
        ready_c = _cond(READY, False, first.reason, message)
        if first.reason == "ProgressDeadlineExceeded":
            progressing = _cond(PROGRESSING, False, "ProgressDeadlineExceeded", first.message)
    else:
        degraded = _cond(DEGRADED, False, "AsExpected", "no problems found")
        if progressing["status"] == "True":
            ready_c = _cond(READY, False, "RollingOut", progressing["message"])
        elif desired == 0:
            ready_c = _cond(READY, True, "ScaledToZero", "scaled to zero replicas")
        else:
            ready_c = _cond(READY, True, "AllReplicasReady", f"{ready}/{desired} pods ready")

    conditions = [ready_c, progressing, degraded]
    prior = {c.get("type"): c for c in (previous or {}).get("conditions", []) or []}
    for c in conditions:
        c["message"] = bounded(c["message"])
        old = prior.get(c["type"])
        same = old is not None and old.get("status") == c["status"]
        c["lastTransitionTime"] = str(old["lastTransitionTime"]) if same and old else now
        if generation is not None:
            c["observedGeneration"] = generation
    status: dict[str, Any] = {}
    if generation is not None:
        status["observedGeneration"] = generation
    status.update(
        {
            "replicas": replicas,
            "readyReplicas": ready,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "selector": render.selector_string(name),
        }
    )
    if deployment is not None:
        status["deployment"] = name
    status["conditions"] = conditions
    # Round-trip through the model: the status written is always one the CRD schema accepts.
    return api.HatchetWorkerStatus.model_validate(status).model_dump(by_alias=True, exclude_none=True, mode="json")


def events(previous: Mapping[str, Any] | None, current: Mapping[str, Any]) -> list[Event]:
    """Events for condition transitions between two statuses."""
    before = {c.get("type"): c for c in (previous or {}).get("conditions", []) or []}
    after = {c.get("type"): c for c in current.get("conditions", []) or []}
    out: list[Event] = []
    old_d, new_d = before.get(DEGRADED), after[DEGRADED]
    if new_d["status"] == "True":
        if old_d is None or old_d.get("status") != "True" or old_d.get("reason") != new_d["reason"]:
            out.append(Event("Warning", new_d["reason"], new_d["message"]))
    elif old_d is not None and old_d.get("status") == "True":
        out.append(Event("Normal", "Recovered", f"no longer degraded (was {old_d.get('reason')})"))
    old_r, new_r = before.get(READY), after[READY]
    # A first status that is already Ready is not a transition worth an Event (it would be one
    # write per HatchetWorker when a fleet is created).
    if new_r["status"] == "True" and old_r is not None and old_r.get("status") != "True":
        out.append(Event("Normal", "Ready", new_r["message"]))
    elif new_r["status"] != "True" and old_r is not None and old_r.get("status") == "True":
        out.append(Event("Normal", "NotReady", f"{new_r['reason']}: {new_r['message']}"))
    return out
