"""The autoscaling part of the HatchetWorker API (``spec.autoscaling``, ``status.autoscaling``).

Kept apart from ``v1alpha1`` so the autoscaler can grow without touching the rest of the API; the
models follow the same conventions (camelCase on the wire, unknown fields rejected, defaults applied
by the operator and stated in every description, not stored by the apiserver).

What the apiserver can enforce (CEL, in the CRD): ``minReplicas <= maxReplicas``, and that
``spec.replicas`` and ``spec.autoscaling`` are never both set. The second rule is what keeps an
external autoscaler off an autoscaled HatchetWorker: the scale subresource reads and writes
``spec.replicas``, so while ``autoscaling`` is set the apiserver has no replica count to serve
(``GET .../scale`` fails, so an HPA or KEDA ScaledObject targeting the HatchetWorker cannot act) and
a write through it (``kubectl scale``) is refused by the same rule. What CEL cannot see: an HPA or
KEDA targeting the *Deployment* directly (another object); the operator has to detect that from the
Deployment's managed fields (not built yet, see docs/autoscaling.md).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel
from pydantic.config import JsonValue

DEFAULT_MIN_REPLICAS = 1
DEFAULT_TARGET_UTILIZATION_PERCENT = 80
DEFAULT_SCALE_UP_STABILIZATION_SECONDS = 0
DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS = 300
DEFAULT_IDLE_SECONDS_BEFORE_REMOVAL = 0
MAX_REPLICAS = 10000
# Actions remembered in the status (a HatchetWorker registering more is unusual; the list is cut,
# and the cut is recorded, so the status stays bounded).
MAX_ACTIONS = 1000
REASON_LIMIT = 1024

# Spec-level rule (a rule on the spec object: it compares two of its fields).
SPEC_RULES: list[JsonValue] = [
    {
        "rule": "!has(self.autoscaling) || !has(self.replicas)",
        "message": "replicas and autoscaling are mutually exclusive: with autoscaling the operator owns the "
        "replica count, so remove spec.replicas (the scale subresource, kubectl scale, an HPA or KEDA write "
        "spec.replicas and are refused while autoscaling is set)",
        "fieldPath": ".autoscaling",
    }
]


class _Model(BaseModel):
    """Same wire conventions as ``v1alpha1._Model`` (kept separate to avoid an import cycle)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class Autoscaling(_Model):
    """Scale the worker pods with the HatchetWorker's own queued and running work, read from the
    Hatchet engine (task-stats and the worker list), never removing a worker that runs a task."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": f"(has(self.minReplicas) ? self.minReplicas : {DEFAULT_MIN_REPLICAS}) <= self.maxReplicas",
                    "message": f"minReplicas (default {DEFAULT_MIN_REPLICAS}) must be less than or equal to "
                    "maxReplicas",
                    "fieldPath": ".minReplicas",
                }
            ]
        }
    )

    min_replicas: int = Field(
        default=DEFAULT_MIN_REPLICAS,
        ge=0,
        le=MAX_REPLICAS,
        description="Fewest worker pods. 0 allows scaling to zero: the first task queued for an action this "
        "HatchetWorker serves brings a worker back (its actions are remembered in status.autoscaling.actions). "
        f"Default: {DEFAULT_MIN_REPLICAS}.",
    )
    max_replicas: int = Field(
        ge=1,
        le=MAX_REPLICAS,
        description="Most worker pods (required: the ceiling on what a burst of work may cost).",
    )
    target_slot_utilization_percent: int = Field(
        default=DEFAULT_TARGET_UTILIZATION_PERCENT,
        ge=1,
        le=100,
        description="Share of the fleet's task slots the queued plus running work should fill: desired pods = "
        "ceil(slots needed / (slots per worker * this / 100)). Lower keeps spare slots for bursts. "
        f"Default: {DEFAULT_TARGET_UTILIZATION_PERCENT}.",
    )
    scale_up_stabilization_seconds: int = Field(
        default=DEFAULT_SCALE_UP_STABILIZATION_SECONDS,
        ge=0,
        le=3600,
        description="Scale up only to the lowest recommendation of this many past seconds (as the HPA's "
        "scaleUp stabilizationWindowSeconds): a short spike does not add pods. "
        f"Default: {DEFAULT_SCALE_UP_STABILIZATION_SECONDS} (at once).",
    )
    scale_down_stabilization_seconds: int = Field(
        default=DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS,
        ge=0,
        le=86400,
        description="Scale down only to the highest recommendation of this many past seconds (as the HPA's "
        "scaleDown stabilizationWindowSeconds): a short lull does not remove pods. "
        f"Default: {DEFAULT_SCALE_DOWN_STABILIZATION_SECONDS}.",
    )
    max_scale_up_step: int | None = Field(
        default=None,
        ge=1,
        le=MAX_REPLICAS,
        description="Most pods added by one decision. Default: unset (no limit: a burst gets its capacity at once).",
    )
    max_scale_down_step: int | None = Field(
        default=None,
        ge=1,
        le=MAX_REPLICAS,
        description="Most pods removed by one decision (only idle workers are ever removed). "
        "Default: unset (no limit).",
    )
    idle_seconds_before_removal: int = Field(
        default=DEFAULT_IDLE_SECONDS_BEFORE_REMOVAL,
        ge=0,
        le=86400,
        description="A worker counts as removable on scale-down only after it has run no task for this many "
        f"seconds. Default: {DEFAULT_IDLE_SECONDS_BEFORE_REMOVAL} (any idle worker).",
    )

    @model_validator(mode="after")
    def _min_at_most_max(self) -> Autoscaling:
        # The same rule as the CEL one, so a manifest checked offline (hatchet-operator render) fails alike.
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"minReplicas ({self.min_replicas}) must be less than or equal to maxReplicas ({self.max_replicas})"
            )
        return self


class AutoscalingStatus(_Model):
    """The autoscaler's last decision and the inputs it was made from."""

    desired_replicas: int | None = Field(default=None, ge=0, description="Worker pods the last decision asked for.")
    queued: int | None = Field(
        default=None, ge=0, description="Tasks queued for this HatchetWorker's actions at the last decision."
    )
    running: int | None = Field(
        default=None, ge=0, description="Tasks running on this HatchetWorker's workers at the last decision."
    )
    slots_per_worker: int | None = Field(
        default=None, ge=0, description="Task slots of one worker (as the engine reported, else spec.slots)."
    )
    workers: int | None = Field(
        default=None, ge=0, description="Workers of this HatchetWorker the engine listed as active or paused."
    )
    busy_workers: int | None = Field(default=None, ge=0, description="Workers running at least one task.")
    idle_workers: int | None = Field(default=None, ge=0, description="Workers running no task.")
    actions: list[Annotated[str, Field(max_length=512)]] | None = Field(
        default=None,
        max_length=MAX_ACTIONS,
        description="Actions (workflow:task) this HatchetWorker's workers registered, kept while it has no "
        "workers, so queued work for them can scale it up from zero.",
    )
    actions_truncated: bool | None = Field(
        default=None, description=f"True when more than {MAX_ACTIONS} actions were seen and the list was cut."
    )
    metrics_available: bool | None = Field(
        default=None,
        description="False when the engine could not be read for the last decision: the previous decision "
        "stands (the fleet is never scaled down on missing data).",
    )
    last_metrics_time: str | None = Field(
        default=None, max_length=64, description="When the inputs were last read from the engine (RFC 3339)."
    )
    last_scale_time: str | None = Field(
        default=None, max_length=64, description="When the desired replicas last changed (RFC 3339)."
    )
    reason: str | None = Field(
        default=None, max_length=REASON_LIMIT, description="Why the last decision is what it is, for humans."
    )
    external_autoscaler: str | None = Field(
        default=None,
        max_length=512,
        description="Set while another autoscaler (a HorizontalPodAutoscaler, such as the one a KEDA ScaledObject "
        "creates) writes the Deployment's replicas: kind/name of it. The operator then does not scale; remove "
        "one of the two.",
    )
