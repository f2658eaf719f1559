"""Compute a HatchetWorker's status from what the operator observed (pure: the clock is passed in).

Conditions follow the Kubernetes API conventions (metav1.Condition): ``Ready`` (all desired worker
pods of the current template are available and nothing is wrong), ``Progressing`` (a rollout or
scale is under way) and ``Degraded`` (something needs a human: a missing Secret or key, no image,
an invalid pod setting, a rollout past its deadline, pods the ReplicaSet cannot create), plus the
kstatus pair ``Reconciling`` and ``Stalled`` (see ``compute``), so kstatus, Argo CD and kubectl agree.
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
ROLLING_OUT = "RollingOut"
PROGRESSING = "Progressing"
DEGRADED = "Degraded"
# kstatus (sigs.k8s.io/cli-utils) conventions, abnormal-true: True means "not done" / "stuck".
RECONCILING = "Reconciling"
STALLED = "Stalled"
# With spec.autoscaling, as the HPA's condition of the same name: False while the engine's numbers
# cannot be read (the count is then held: never scaled down on missing data), with the reason why,
# and while another autoscaler writes the Deployment's replicas.
SCALING_ACTIVE = "ScalingActive"

# Characters kept of a condition message. An apiserver rejection can quote a whole object; a message
# beyond the CRD's maxLength would make every status write fail, so the status could never recover.
MESSAGE_LIMIT = 4096
_CUT = " ... [truncated]"


def bounded(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """``message`` cut to at most ``limit`` characters, marked as cut when it was."""
    if len(message) <= limit:
        return message
    return message[: max(0, limit - len(_CUT))] + _CUT


def merge_patch(previous: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) that turns ``previous`` into ``new``: a merge patch keeps every
    key it does not name, so each key gone from ``new`` (at any depth of nested objects) is sent as
    null. Lists are replaced whole."""
    out: dict[str, Any] = {k: None for k in previous if k not in new}
    for k, v in new.items():
        old = previous.get(k)
        out[k] = merge_patch(old, v) if isinstance(v, Mapping) and isinstance(old, Mapping) else v
    return out


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


@dataclass(frozen=True)
class _Phase:
    """Where the Deployment is: creating, rolling (a new template), scaling (count only), complete."""

    kind: str
    reason: str
    message: str


def _phase(deployment: Mapping[str, Any] | None, template_generation: int | None) -> _Phase:
    if deployment is None:
        return _Phase("creating", "Creating", "creating the Deployment")
    dep_status = deployment.get("status", {}) or {}
    desired = int(deployment.get("spec", {}).get("replicas", 1))
    replicas = int(dep_status.get("replicas", 0))
    updated = int(dep_status.get("updatedReplicas", 0))
    available = int(dep_status.get("availableReplicas", 0))
    dep_gen = deployment.get("metadata", {}).get("generation")
    observed = dep_status.get("observedGeneration")
    if dep_gen is not None and (observed is None or observed < dep_gen):
        # The Deployment controller has not seen the newest spec. Only the caller knows whether
        # that spec has a new pod template; unknown counts as a rollout (never Ready too early).
        known = template_generation is not None and observed is not None and observed >= template_generation
        if known and updated >= replicas:
            return _Phase("scaling", "Scaling", f"scaling to {desired} pods")
        return _Phase("rolling", ROLLING_OUT, "the Deployment controller has not seen the change yet")
    if updated < replicas:  # Pods of an older template remain: a rollout.
        return _Phase(
            "rolling", ROLLING_OUT, f"{updated}/{desired} pods updated, {available} available, {replicas} total"
        )
    if replicas != desired:
        return _Phase("scaling", "Scaling", f"{replicas} pods, {desired} wanted, {available} available")
    if available < desired:
        return _Phase("scaling", "WaitingForPods", f"{available}/{desired} pods available")
    return _Phase("complete", "RolloutComplete", f"{available}/{desired} pods available")


def _was_ready(previous: Mapping[str, Any] | None) -> bool:
    for c in (previous or {}).get("conditions", []) or []:
        if c.get("type") == READY:
            return bool(c.get("status") == "True")
    return False


def compute(
    *,
    name: str,
    generation: int | None,
    deployment: Mapping[str, Any] | None,
    problems: Sequence[Problem],
    previous: Mapping[str, Any] | None,
    now: str,
    template_generation: int | None = None,
    autoscaling: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The full status (wire form, camelCase) for one HatchetWorker.

    ``autoscaling`` is the new ``status.autoscaling``; None carries the previous one over (the
    status is merge-patched, so leaving it out would only make every status differ from the last);
    an empty mapping leaves it out (autoscaling was turned off; the caller patches it away).

    ``template_generation`` is the Deployment's ``metadata.generation`` since which its pod template
    is unchanged (see ``next_template_generation``); None when the caller does not know, which makes
    a not-yet-observed Deployment change count as a rollout.

    kstatus conventions: ``Reconciling`` is True while the Deployment has not caught up (creating,
    rolling out, scaling, pods not yet available); ``Stalled`` is True when a problem blocks progress
    (it mirrors ``Degraded``); the two are never True together. ``Ready`` is True when the current
    template is fully available, and *stays* True through a change of the pod count alone as long as
    no pod that was available is lost (available >= min(desired, previously reported available)).
    """
    problems = [*problems, *deployment_problems(deployment)]
    dep_spec = (deployment or {}).get("spec", {})
    dep_status = (deployment or {}).get("status", {})
    desired = int(dep_spec.get("replicas", 1)) if deployment else 0
    replicas = int(dep_status.get("replicas", 0))
    ready = int(dep_status.get("readyReplicas", 0))
    updated = int(dep_status.get("updatedReplicas", 0))
    available = int(dep_status.get("availableReplicas", 0))
    phase = _phase(deployment, template_generation)

    if phase.kind == "complete":
        progressing = _cond(PROGRESSING, False, phase.reason, phase.message)
    elif deployment is None and problems:
        progressing = _cond(PROGRESSING, False, "NoDeployment", "the Deployment does not exist yet")
    else:
        progressing = _cond(PROGRESSING, True, phase.reason, phase.message)

    if problems:
        first = problems[0]
        message = "; ".join(p.message for p in problems)
        degraded = _cond(DEGRADED, True, first.reason, message)
        stalled = _cond(STALLED, True, first.reason, message)
        reconciling = _cond(RECONCILING, False, "Stalled", "cannot progress until the problem is fixed (see Stalled)")
        ready_c = _cond(READY, False, first.reason, message)
        if first.reason == "ProgressDeadlineExceeded":
            progressing = _cond(PROGRESSING, False, "ProgressDeadlineExceeded", first.message)
    else:
        degraded = _cond(DEGRADED, False, "AsExpected", "no problems found")
        stalled = _cond(STALLED, False, "AsExpected", "nothing blocks progress")
        if phase.kind == "complete":
            reconciling = _cond(RECONCILING, False, "UpToDate", phase.message)
            if desired == 0:
                ready_c = _cond(READY, True, "ScaledToZero", "scaled to zero replicas")
            else:
                ready_c = _cond(READY, True, "AllReplicasReady", f"{ready}/{desired} pods ready")
        else:
            reconciling = _cond(RECONCILING, True, phase.reason, phase.message)
            prior_available = int((previous or {}).get("availableReplicas", 0) or 0)
            keeps = phase.kind == "scaling" and _was_ready(previous) and available >= min(desired, prior_available)
            if keeps:
                ready_c = _cond(
                    READY, True, "Scaling", f"{available}/{desired} pods available; the pod count is changing"
                )
            else:
                ready_c = _cond(READY, False, phase.reason, phase.message)

    conditions = [ready_c, progressing, degraded, reconciling, stalled]
    if autoscaling:
        if autoscaling.get("externalAutoscaler"):
            conditions.append(_cond(SCALING_ACTIVE, False, "ExternalAutoscaler",
                                    f"not scaling: {autoscaling['externalAutoscaler']} writes the Deployment's "
                                    "replicas; remove it or spec.autoscaling"))
        elif autoscaling.get("metricsAvailable"):
            conditions.append(_cond(SCALING_ACTIVE, True, "EngineRead", "scaling from the engine's queue and slots"))
        else:
            why = str(autoscaling.get("reason") or "the engine has not been read yet")
            conditions.append(_cond(SCALING_ACTIVE, False, "EngineUnavailable", f"holding the count: {why}"))
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
    carried = autoscaling if autoscaling is not None else (previous or {}).get("autoscaling")
    if carried:
        status["autoscaling"] = dict(carried)
    status["conditions"] = conditions
    # Round-trip through the model: the status written is always one the CRD schema accepts.
    return api.HatchetWorkerStatus.model_validate(status).model_dump(by_alias=True, exclude_none=True, mode="json")


def next_template_generation(
    known: int | None, before: Mapping[str, Any] | None, after: Mapping[str, Any]
) -> int | None:
    """The Deployment generation since which its pod template is unchanged, after one apply (pure).

    ``before`` is the live Deployment before the apply (None: it was created), ``after`` the apply's
    response (both as the apiserver normalized them). A changed template starts at ``after``'s
    generation; an unchanged one keeps ``known``, or when that is unknown ``before``'s generation.
    """
    after_gen = (after.get("metadata") or {}).get("generation")
    if before is None or (before.get("spec") or {}).get("template") != (after.get("spec") or {}).get("template"):
        return int(after_gen) if after_gen is not None else None
    if known is not None:
        return known
    before_gen = (before.get("metadata") or {}).get("generation")
    return int(before_gen) if before_gen is not None else None


def only_scaled(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> bool:
    """True when an apply changed nothing of the Deployment's spec but ``replicas`` (pure): no
    DeploymentUpdated Event for that, a scale is not a rollout."""
    if before is None:
        return False
    b = {k: v for k, v in (before.get("spec") or {}).items() if k != "replicas"}
    a = {k: v for k, v in (after.get("spec") or {}).items() if k != "replicas"}
    labels = ((before.get("metadata") or {}).get("labels"), (after.get("metadata") or {}).get("labels"))
    return a == b and labels[0] == labels[1]


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
    # A first status that is already Ready is not a transition worth an Event, nor is a rollout
    # starting or finishing (DeploymentUpdated tells of those): either would be one more write per
    # HatchetWorker when a fleet is created or changed.
    if old_r is None or ROLLING_OUT in (old_r.get("reason"), new_r["reason"]):
        return out
    if new_r["status"] == "True" and old_r.get("status") != "True":
        out.append(Event("Normal", "Ready", new_r["message"]))
    elif new_r["status"] != "True" and old_r.get("status") == "True":
        out.append(Event("Normal", "NotReady", f"{new_r['reason']}: {new_r['message']}"))
    return out
