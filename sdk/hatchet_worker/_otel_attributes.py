"""The OpenTelemetry settings and span attributes, as the official SDK names them (pure: no OpenTelemetry here).

The attribute keys are ``hatchet.<OTelAttribute>`` plus ``instrumentor: hatchet``; as in the official
SDK an empty value (``None``, ``0``, ``""``, ``{}``, ``[]``) is left out, and so is any attribute listed in
``ClientConfig.otel.excluded_attributes``. The values are read from the requests this SDK sends and the
assignments it receives, so they describe what went over the wire. The trace context travels as the
W3C ``traceparent`` key of the run's or event's additional metadata, the official SDK's carrier.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TRACEPARENT = "traceparent"
_SOURCE_KEYS = ("hatchet__source_workflow_run_id", "hatchet__source_step_run_id")


class OTelAttribute(str, Enum):  # noqa: UP042 -- the official type: str() and format() as there
    """The ``hatchet.*`` span attribute names (the official enum's members and values)."""

    NAMESPACE = "namespace"
    ADDITIONAL_METADATA = "additional_metadata"
    WORKFLOW_NAME = "workflow_name"
    PRIORITY = "priority"
    ACTION_PAYLOAD = "payload"
    ACTION_NAME = "action_name"
    STEP_NAME = "step_name"
    CHILD_WORKFLOW_INDEX = "child_workflow_index"
    CHILD_WORKFLOW_KEY = "child_workflow_key"
    PARENT_WORKFLOW_RUN_ID = "parent_workflow_run_id"
    RETRY_COUNT = "retry_count"
    STEP_ID = "step_id"
    STEP_RUN_ID = "step_run_id"
    TENANT_ID = "tenant_id"
    WORKER_ID = "worker_id"
    WORKFLOW_ID = "workflow_id"
    WORKFLOW_RUN_ID = "workflow_run_id"
    WORKFLOW_VERSION_ID = "workflow_version_id"
    TRIGGERING_EVENT_EXTERNAL_ID = "triggering_event_external_id"
    TRIGGERING_EVENT_KEY = "triggering_event_key"
    EVENT_KEY = "event_key"
    FILTER_SCOPE = "scope"
    PARENT_ID = "parent_id"
    PARENT_STEP_RUN_ID = "parent_step_run_id"
    CHILD_INDEX = "child_index"
    CHILD_KEY = "child_key"
    DESIRED_WORKER_ID = "desired_worker_id"
    STICKY = "sticky"
    KEY = "key"
    RUN_AT_TIMESTAMPS = "run_at_timestamps"
    SIGNAL_KEY = "signal_key"
    NUM_CONDITIONS = "num_conditions"
    MEMO_FN_NAME = "memo_fn_name"


class OpenTelemetryConfig(BaseModel):
    """``ClientConfig.otel`` (``HATCHET_CLIENT_OPENTELEMETRY_*``): what the instrumentor puts on spans."""

    model_config = ConfigDict(frozen=True)

    excluded_attributes: list[OTelAttribute] = Field(default_factory=list)
    """Attributes never set (e.g. ``["payload"]`` to keep inputs out of traces); from the environment
    a JSON array."""
    include_task_name_in_start_step_run_span_name: bool = False
    """Name task spans ``hatchet.start_step_run.<action id>`` instead of ``hatchet.start_step_run``."""
    individual_run_spans_for_bulk_run: bool = False
    """A bulk trigger gets one ``hatchet.run_workflow`` span per run under its ``hatchet.run_workflows``
    span, and each run's trace context points at its own span."""


Attributes = dict[str, str | int]


def select(config: OpenTelemetryConfig, values: Mapping[OTelAttribute, Any]) -> Attributes:
    """``hatchet.*`` attributes of the non-empty, non-excluded values, with ``instrumentor``."""
    out: Attributes = {"instrumentor": "hatchet"}
    excluded = set(config.excluded_attributes)
    for key, value in values.items():
        if value in (None, 0, "", "{}", "[]", False) or key in excluded:
            continue
        out[f"hatchet.{key.value}"] = value if isinstance(value, int | str) else str(value)
    return out


def _opt(message: Any, field: str) -> Any:
    return getattr(message, field) if message.HasField(field) else None


def strip_namespace(namespace: str, name: str) -> str:
    """The name as the caller wrote it: the official SDK's spans carry names before namespacing."""
    return name[len(namespace):] if namespace and name.startswith(namespace) else name


def metadata_text(text: str | None, drop: Iterable[str] = (TRACEPARENT,)) -> str | None:
    """The metadata as the caller gave it (without the keys the SDK adds), as JSON text."""
    if not text:
        return None
    try:
        meta = json.loads(text)
    except ValueError:
        return text
    if not isinstance(meta, dict):
        return text
    return json.dumps({k: v for k, v in meta.items() if k not in drop}, default=str)


def with_traceparent(text: str | None, traceparent: str | None) -> str | None:
    """The metadata JSON text with ``traceparent`` set (replacing one inherited or given), unchanged without one."""
    if not traceparent:
        return text
    try:
        meta = json.loads(text) if text else {}
    except ValueError:
        meta = {}
    if not isinstance(meta, dict):
        meta = {}
    meta[TRACEPARENT] = traceparent
    return json.dumps(meta, default=str)


def traceparent_of(text: str | None) -> str | None:
    """The ``traceparent`` of a run's metadata (JSON text), if any."""
    if not text:
        return None
    try:
        meta = json.loads(text)
    except ValueError:
        return None
    value = meta.get(TRACEPARENT) if isinstance(meta, dict) else None
    return value if isinstance(value, str) and value else None


_PAYLOAD_MAPS = ("input", "parents", "overrides", "user_data", "step_run_errors")


def task_payload_text(raw: str) -> str:
    """An assignment's payload as the official worker shows it: its fields in the official order, an
    absent or null map as ``{}``, ``filter_payload`` taken from ``triggers``, any other key last."""
    try:
        payload = json.loads(raw) if raw else {}
    except ValueError:
        return raw
    if not isinstance(payload, dict):
        return raw
    out: dict[str, Any] = {key: payload.get(key) or {} for key in _PAYLOAD_MAPS}
    out["triggered_by"] = payload.get("triggered_by")
    triggers = out["triggers"] = payload.get("triggers") or {}
    out["filter_payload"] = (triggers.get("filter_payload") if isinstance(triggers, dict) else None) or {}
    out.update((k, v) for k, v in payload.items() if k not in out)
    return json.dumps(out, default=str)


def task_run(config: OpenTelemetryConfig, action: Any, worker_id: str) -> Attributes:
    """The ``hatchet.start_step_run`` attributes of an ``AssignedAction`` run by ``worker_id``."""
    return select(config, {
        OTelAttribute.TENANT_ID: action.tenant_id,
        OTelAttribute.WORKER_ID: worker_id,
        OTelAttribute.WORKFLOW_RUN_ID: action.workflow_run_id,
        OTelAttribute.STEP_ID: action.task_id,
        OTelAttribute.STEP_RUN_ID: action.task_run_external_id,
        OTelAttribute.RETRY_COUNT: action.retry_count,
        OTelAttribute.PARENT_WORKFLOW_RUN_ID: _opt(action, "parent_workflow_run_id"),
        OTelAttribute.CHILD_WORKFLOW_INDEX: _opt(action, "child_workflow_index"),
        OTelAttribute.CHILD_WORKFLOW_KEY: _opt(action, "child_workflow_key"),
        OTelAttribute.ACTION_PAYLOAD: task_payload_text(action.action_payload),
        OTelAttribute.WORKFLOW_NAME: action.job_name,
        OTelAttribute.ACTION_NAME: action.action_id,
        OTelAttribute.STEP_NAME: action.task_name,
        OTelAttribute.WORKFLOW_ID: _opt(action, "workflow_id"),
        OTelAttribute.WORKFLOW_VERSION_ID: _opt(action, "workflow_version_id"),
        OTelAttribute.TRIGGERING_EVENT_EXTERNAL_ID: _opt(action, "triggering_event_external_id"),
        OTelAttribute.TRIGGERING_EVENT_KEY: _opt(action, "triggering_event_key"),
    })


def _run_request(namespace: str, request: Any, options: Any, run_at: str | None = None) -> dict[OTelAttribute, Any]:
    """The values a trigger and a schedule request both carry. ``run_at`` (a schedule's only) is taken
    here because the official SDK puts it right after the name, and span attributes keep their order."""
    return {
        OTelAttribute.WORKFLOW_NAME: strip_namespace(namespace, request.name),
        OTelAttribute.RUN_AT_TIMESTAMPS: run_at,
        OTelAttribute.ACTION_PAYLOAD: request.input,
        OTelAttribute.PARENT_ID: _opt(request, "parent_id"),
        OTelAttribute.PARENT_STEP_RUN_ID: _opt(request, "parent_task_run_external_id"),
        OTelAttribute.CHILD_INDEX: _opt(request, "child_index"),
        OTelAttribute.CHILD_KEY: _opt(request, "child_key"),
        OTelAttribute.NAMESPACE: getattr(options, "namespace", None),
        OTelAttribute.ADDITIONAL_METADATA: metadata_text(_opt(request, "additional_metadata")),
        OTelAttribute.PRIORITY: _opt(request, "priority"),
    }


def trigger(config: OpenTelemetryConfig, namespace: str, request: Any, options: Any) -> Attributes:
    """The ``hatchet.run_workflow`` attributes of a ``TriggerWorkflowRequest`` (and its options)."""
    return select(config, {
        **_run_request(namespace, request, options),
        OTelAttribute.DESIRED_WORKER_ID: _opt(request, "desired_worker_id"),
        OTelAttribute.STICKY: bool(getattr(options, "sticky", False)),
        OTelAttribute.KEY: getattr(options, "key", None),
    })


def trigger_many(namespace: str, requests: Sequence[Any]) -> Attributes:
    """The ``hatchet.run_workflows`` attributes (never filtered, as in the official SDK)."""
    names = {strip_namespace(namespace, r.name) for r in requests}
    return {"instrumentor": "hatchet", "hatchet.num_workflows": len(requests),
            "hatchet.unique_workflow_names": json.dumps(names, default=str)}


def schedule(config: OpenTelemetryConfig, namespace: str, request: Any, options: Any) -> Attributes:
    """The ``hatchet.schedule_workflow`` attributes of a ``ScheduleWorkflowRequest``."""
    stamps = [datetime.fromtimestamp(s.seconds + s.nanos / 1e9, UTC).isoformat() for s in request.schedules]
    return select(config, _run_request(namespace, request, options, run_at=json.dumps(stamps)))


def durable_wait(config: OpenTelemetryConfig, signal_key: str, conditions: int, task_run_id: str) -> Attributes:
    """The ``hatchet.durable.wait_for`` attributes (only None is left out here, as in the official SDK)."""
    values: dict[OTelAttribute, str | int] = {OTelAttribute.SIGNAL_KEY: signal_key,
                                              OTelAttribute.NUM_CONDITIONS: conditions,
                                              OTelAttribute.STEP_RUN_ID: task_run_id}
    out: Attributes = {"instrumentor": "hatchet"}
    out.update({f"hatchet.{k.value}": v for k, v in values.items() if k not in config.excluded_attributes})
    return out


def push(config: OpenTelemetryConfig, namespace: str, request: Any) -> Attributes:
    """The ``hatchet.push_event`` attributes of a ``PushEventRequest``."""
    return select(config, {
        OTelAttribute.EVENT_KEY: strip_namespace(namespace, request.key),
        OTelAttribute.ACTION_PAYLOAD: request.payload,
        OTelAttribute.ADDITIONAL_METADATA: metadata_text(_opt(request, "additional_metadata"),
                                                         (TRACEPARENT, *_SOURCE_KEYS)),
        OTelAttribute.PRIORITY: _opt(request, "priority"),
        OTelAttribute.FILTER_SCOPE: _opt(request, "scope"),
    })


def bulk_push(namespace: str, request: Any) -> Attributes:
    """The ``hatchet.bulk_push_event`` attributes (never filtered, as in the official SDK)."""
    keys = {strip_namespace(namespace, e.key) for e in request.events}
    return {"instrumentor": "hatchet", "hatchet.num_events": len(request.events),
            "hatchet.unique_event_keys": json.dumps(keys, default=str)}
