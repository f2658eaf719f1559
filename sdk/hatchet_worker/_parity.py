"""What of the official SDK's public surface (hatchet-sdk 1.43.1) this SDK does not act on, and why.

Pure data: the declarations raise or warn naming the option, the parity test checks every entry
against the official signatures (and that each listed option really raises or warns), and the
parity table in ``docs/sdk.md`` is generated from it. An official parameter not listed here is
implemented.
"""

from __future__ import annotations

UNSUPPORTED: dict[str, dict[str, str]] = {
    # Accepted in the signature; a value other than the default raises UnsupportedFeatureError.
    "TriggerWorkflowOptions": {
        "namespace": "set the namespace on ClientConfig (the official SDK deprecates this option too)",
    },
    # Raised by the declaration (_concurrency): the pinned engine's Concurrency message has no such field.
    "ConcurrencyExpression": {
        "name": "named concurrency strategies need a newer engine (v0.104.7 does not have them)",
        "is_tenant_scoped": "tenant-scoped concurrency needs a newer engine (v0.104.7 does not have it)",
    },
}

NO_EFFECT: dict[str, dict[str, str]] = {
    # Accepted; a value warns once, naming the option, because it cannot change anything.
    "TaskDefaults": {
        "priority": "the official SDK does not send it either (a task has no priority of its own); use "
                    "hatchet.workflow(default_priority=...) or the run's priority",
    },
    "TriggerWorkflowOptions": {
        "key": "the engine's trigger request has no such field (the official SDK does not send it either); "
               "use child_key",
    },
    "ClientConfig": {
        "logger": "this SDK logs to the 'hatchet_worker' logging hierarchy; configure that logger",
        "debug": "use Hatchet(debug=True) or configure the 'hatchet_worker' logger",
        "listener_v2_timeout": "this SDK's listener has its own reconnect policy",
        "enable_force_kill_sync_threads": "sync tasks run on SDK threads; a cancelled one keeps its slot "
                                          "until it returns",
        "enable_thread_pool_monitoring": "see the worker's /metrics endpoint instead",
        "terminate_worker_after_num_tasks": "not implemented",
        "disable_log_capture": "ctx.log ships lines; print/logging output is not captured",
        "log_queue_size": "log lines are sent without a separate bounded queue setting",
        "force_shutdown_on_shutdown_signal": "SIGTERM drains within worker_drain_timeout_seconds",
        "embedded": "not implemented",
        "sync_result_poll_interval": "result() polls with a growing interval from 20 ms to 1 s",
    },
}

NO_PAUSE = "engine v0.104.7 has no PauseRateLimit"
MISSING_METHODS: dict[str, str] = {
    # Present as methods that raise UnsupportedFeatureError when called.
    "RateLimitsClient.pause": NO_PAUSE, "RateLimitsClient.aio_pause": NO_PAUSE,
}

MISSING_FEATURES: dict[str, tuple[str, str]] = {
    # Official Hatchet feature-client properties that raise UnsupportedFeatureError when accessed:
    # property -> (the official client class, whose public methods are then all not supported; reason).
    # None today. An entry is declared on Hatchet as ``name = _missing_features.missing("name")``; the
    # parity test checks it really raises.
}


SCHEDULE_DIFFERS = ("keyword options apply on top of options=, as for run; options= fields a scheduled run cannot "
                    "carry (sticky, desired worker id or labels, key) raise instead of being ignored")
DIFFERENCES: dict[str, str] = {
    # Implemented, but not identical to the official SDK.
    "Standalone.run_no_wait": "returns a WorkflowRunRef whose result() is {task_name: output}; the official "
                              "SDK returns a TaskRunRef whose result() is the task's output "
                              "(run(wait_for_result=False) returns that TaskRunRef here too)",
    "Standalone.run_many": "with wait_for_result=False returns WorkflowRunRefs ({task_name: output}), not "
                           "TaskRunRefs",
    "Workflow.run": "keyword options apply on top of options=; the official SDK ignores them when options= "
                    "is given",
    **{f"{owner}.{method}": SCHEDULE_DIFFERS for owner in ("Workflow", "Standalone")
       for method in ("schedule", "aio_schedule")},
    "Context.worker_labels": "the worker's labels with the upserts of all its tasks; the official SDK shows the "
                             "declared labels with only the calling task's own upserts",
    "Context.task_output": "an unannotated parent's output is the JSON object (a dict); the official SDK "
                           "returns an EmptyModel",
    "Workflow.batch_task": "a member whose input fails validation fails every member of its batch at once; "
                           "the official worker reports nothing and leaves them to time out",
}
NO_BRANCH = "engine v0.104.7 has no durable task branching"
MISSING_METHODS.update({"RunsClient.reset_durable_task": NO_BRANCH, "RunsClient.aio_reset_durable_task": NO_BRANCH})
MISSING_METHODS.update({"Standalone." + name.split(".", 1)[1]: reason for name, reason in list(MISSING_METHODS.items())
                        if name.startswith("Workflow.") and not name.endswith("_task")})

# Names user code imports from the official SDK (found in the official examples, plus the submodules
# the official docs use) that ``hatchet_worker`` under the same path does not provide, and why.
# Every other (path, name) of the list in tests/unit/sdk/test_parity_imports.py resolves.
_MISSING_IMPORTS: dict[str, tuple[str, ...]] = {
    "MCP tool providers are not provided": ("hatchet_sdk.runnables.workflow:MCPProvider",),
    "internal names of the official SDK, used only by its own tests": (
        "hatchet_sdk.runnables.contextvars:ctx_action_key", "hatchet_sdk.runnables.contextvars:workflow_spawn_indices",
        "hatchet_sdk.serde:is_in_hatchet_serialization_context"),
}
MISSING_IMPORTS: dict[str, str] = {name: reason for reason, names in _MISSING_IMPORTS.items() for name in names}
