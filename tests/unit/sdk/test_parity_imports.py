"""Import paths (issue §11): what user code imports from ``hatchet_sdk`` resolves under ``hatchet_worker``.

The list below is every ``from hatchet_sdk... import name`` in the official examples (which the
official documentation embeds) that exists in hatchet-sdk 1.43.1, plus the submodules the official
docs use for configuration, labels, options and exceptions (with ``RetryAfterException`` and
``InvalidDependencyError``, which user code raises or catches). Each pair either resolves to the
same name under ``hatchet_worker`` or is listed in ``hatchet_worker._parity.MISSING_IMPORTS`` with the
reason; a subprocess importing ``hatchet_sdk`` (test-only) keeps the list true to the official SDK.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hatchet_worker import _parity

DOCS = Path(__file__).resolve().parents[3] / "docs" / "sdk.md"
BEGIN, END = "<!-- import-paths:begin -->", "<!-- import-paths:end -->"

OFFICIAL_IMPORTS: dict[str, list[str]] = {
    "hatchet_sdk": [
        "BulkCancelReplayOpts", "BulkPushEventOptions", "BulkPushEventWithMetadata", "PushEventOptions",
        "BulkTriggerIdempotencyCollisionError", "ClientConfig", "ConcurrencyExpression", "DedupeViolationError",
        "ConcurrencyLimitStrategy", "Context", "DefaultFilter", "Depends", "DurableContext", "EmptyModel",
        "EvictionPolicy", "FailedTaskRunExceptionGroup", "Hatchet", "IdempotencyCollisionError", "ParentCondition",
        "Priority", "RateLimit", "RateLimitDuration", "RetryAfterException", "RunFilter", "RunStatus", "SleepCondition",
        "StatusBasedIdempotencyConfig", "StickyStrategy", "TTLBasedIdempotencyConfig", "Task", "TaskDefaults",
        "TaskRunRef", "TriggerWorkflowOptions", "UserEventCondition", "V1TaskStatus", "WorkerLabel",
        "WorkerLabelComparator", "WorkflowRunRef", "or_"],
    "hatchet_sdk.clients.admin": ["TriggerWorkflowOptions", "WorkflowRunDetail"],
    "hatchet_sdk.clients.events": ["BulkPushEventOptions", "BulkPushEventWithMetadata", "Event", "EventClient",
                                   "PushEventOptions"],
    "hatchet_sdk.clients.listeners.run_event_listener": ["StepRunEventType"],
    "hatchet_sdk.clients.rest.models.cron_workflows": ["CronWorkflows"],
    "hatchet_sdk.clients.rest.models.cron_workflows_list": ["CronWorkflowsList"],
    "hatchet_sdk.clients.rest.models.scheduled_run_status": ["ScheduledRunStatus"],
    "hatchet_sdk.clients.rest.models.scheduled_workflows": ["ScheduledWorkflows"],
    "hatchet_sdk.clients.rest.models.scheduled_workflows_list": ["ScheduledWorkflowsList"],
    "hatchet_sdk.clients.rest.models.v1_task_status": ["V1TaskStatus"],
    "hatchet_sdk.clients.rest.models.v1_task_summary": ["V1TaskSummary"],
    "hatchet_sdk.clients.rest.models.v1_workflow_run_details": ["V1WorkflowRunDetails"],
    "hatchet_sdk.config": ["ClientConfig", "ClientTLSConfig", "HealthcheckConfig", "OpenTelemetryConfig",
                           "TenacityConfig"],
    "hatchet_sdk.context.context": ["Context", "DurableContext"],
    "hatchet_sdk.exceptions": ["DedupeViolationError", "FailedTaskRunExceptionGroup", "IllegalTaskOutputError",
                               "InvalidDependencyError", "LoopAlreadyRunningError", "NonDeterminismError",
                               "NonRetryableException", "RetryAfterException", "TaskRunError"],
    "hatchet_sdk.hatchet": ["Hatchet"],
    "hatchet_sdk.labels": ["DesiredWorkerLabel", "WorkerLabel"],
    "hatchet_sdk.opentelemetry.instrumentor": ["HatchetInstrumentor"],
    "hatchet_sdk.rate_limit": ["RateLimit", "RateLimitDuration"],
    "hatchet_sdk.runnables.contextvars": ["ctx_action_key", "workflow_spawn_indices"],
    "hatchet_sdk.runnables.eviction": ["EvictionPolicy"],
    "hatchet_sdk.runnables.task": ["Depends", "Task"],
    "hatchet_sdk.runnables.types": ["BatchMemberId", "ConcurrencyExpression", "EmptyModel", "StickyStrategy",
                                    "TaskDefaults"],
    "hatchet_sdk.runnables.workflow": ["BaseWorkflow", "MCPProvider", "Standalone", "TaskRunRef", "Workflow"],
    "hatchet_sdk.serde": ["is_in_hatchet_serialization_context"],
    "hatchet_sdk.utils.opentelemetry": ["OTelAttribute"],
    "hatchet_sdk.workflow_run": ["WorkflowRunRef"],
}


def missing_reason(module: str, name: str) -> str | None:
    for key in (f"{module}:{name}", *(k for k in _parity.MISSING_IMPORTS if k.endswith(".*")
                                      and module.startswith(k[:-2]))):
        if key in _parity.MISSING_IMPORTS:
            return _parity.MISSING_IMPORTS[key]
    return None


def resolve(module: str, name: str) -> object | None:
    try:
        mod = importlib.import_module("hatchet_worker" + module[len("hatchet_sdk"):])
    except ImportError:
        return None
    return getattr(mod, name, None)


@pytest.mark.skipif(importlib.util.find_spec("hatchet_sdk") is None, reason="needs the official SDK")
def test_the_list_is_true_to_the_official_sdk() -> None:
    code = ("import importlib, json, sys; pairs = json.loads(sys.argv[1]); "
            "print(json.dumps([f'{m}:{n}' for m, names in pairs.items() for n in names "
            "if not hasattr(importlib.import_module(m), n)]))")
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(OFFICIAL_IMPORTS)], capture_output=True,
                          text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if not k.startswith("HATCHET_CLIENT_")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_each_official_import_resolves_to_the_same_name_or_is_listed_with_a_reason() -> None:
    problems = []
    for module, names in OFFICIAL_IMPORTS.items():
        for name in names:
            found, reason = resolve(module, name), missing_reason(module, name)
            if found is None and reason is None:
                problems.append(f"from {module} import {name}: not under hatchet_worker and not listed")
            if found is not None and reason is not None:
                problems.append(f"from {module} import {name}: resolves but _parity lists it missing")
    listed = {k for k in _parity.MISSING_IMPORTS if not k.endswith(".*")}
    known = {f"{m}:{n}" for m, names in OFFICIAL_IMPORTS.items() for n in names}
    problems += [f"_parity lists {k}, which is not in the list" for k in sorted(listed - known)]
    assert not problems, "\n".join(problems)
    # The resolved names are this SDK's own classes, not copies.
    import hatchet_worker

    assert resolve("hatchet_sdk.context.context", "Context") is hatchet_worker.Context
    assert resolve("hatchet_sdk.clients.admin", "TriggerWorkflowOptions") is hatchet_worker.TriggerWorkflowOptions
    assert resolve("hatchet_sdk.runnables.workflow", "Standalone") is hatchet_worker.Standalone


def render() -> str:
    lines = ["| Official import | hatchet_worker |", "|---|---|"]
    for module, names in OFFICIAL_IMPORTS.items():
        for name in names:
            reason = missing_reason(module, name)
            lines.append(f"| `from {module} import {name}` | {'not provided: ' + reason if reason else 'same path'} |")
    return "\n".join(lines)


def test_docs_import_table_is_in_sync() -> None:
    text = DOCS.read_text()
    if os.environ.get("PARITY_WRITE") == "1":
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        DOCS.write_text(f"{head}{BEGIN}\n{render()}\n{END}{tail}")
        text = DOCS.read_text()
    assert BEGIN in text and END in text
    assert text.split(BEGIN, 1)[1].split(END, 1)[0].strip() == render(), \
        "docs/sdk.md import table is stale: run this test with PARITY_WRITE=1"
