"""Event filters, idempotency keys and the newer client calls behave as in the official SDK (issue §9, §10).

``apps/parity_filters_app.py`` is one program in the official documentation's style; the test runs it
under our SDK and under the official one (``APP_SDK``) against the real engine, and both must give the
same results:

* filters: ``default_filters`` registered with the workflow are the engine's declarative filters;
  ``hatchet.filters`` creates (also ``workflow.create_filter``), lists, gets, updates and deletes
  filters, answering with ``V1Filter``/``V1FilterList``; an event pushed with a scope starts a run only
  when a filter of that scope matches (its payload reaches ``ctx.filter_payload``), and, once the
  workflow has filters, an unscoped push or one in a scope without filters starts nothing;
* idempotency: a second trigger with the same key raises ``IdempotencyCollisionError`` naming the
  first run (sync and aio), a bulk trigger with a repeated key raises
  ``BulkTriggerIdempotencyCollisionError`` with one success and one collision;
* ``hatchet.rate_limits.list``, ``hatchet.scheduled.bulk_update``/``bulk_delete`` (by ids and by filter),
  ``hatchet.runs.get_details`` (``WorkflowRunDetail``) and ``ctx.get_task_run_error``.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from hatchet_worker import Hatchet

from .conftest import APP, standalone

FILTERS = APP.parent / "parity_filters_app.py"
SDKS = ["hatchet_worker",
        pytest.param("hatchet_sdk", marks=pytest.mark.skipif(importlib.util.find_spec("hatchet_sdk") is None,
                                                             reason="needs the official SDK"))]


@pytest.mark.parametrize("sdk", SDKS)
def test_filters_idempotency_and_clients(client: Hatchet, start_worker: Any, sdk: str) -> None:
    start_worker(script=FILTERS, APP_SDK=sdk)
    out = {name: standalone(client, name).run() for name in ("t_filters", "t_aio_filters", "t_idempotency",
                                                              "t_clients", "t_aio_clients")}

    def flt(expression: str, scope: str, payload: dict[str, Any], declarative: bool = False) -> dict[str, Any]:
        return {"model": "V1Filter", "expression": expression, "scope": scope, "payload": payload,
                "declarative": declarative, "workflow_matches": True}

    filters = out["t_filters"]
    prog = filters["created"]["scope"]
    stiva = {"who": "Stiva"}
    assert filters == {
        "created": flt("input.n > 5", prog, stiva), "listed": [flt("input.n > 5", prog, stiva)],
        "list_model": "V1FilterList",
        "declared": [flt("input.should_skip == false", "decl-scope",
                         {"main_character": "Anna", "location": "Moscow"}, declarative=True)],
        "got": flt("input.n > 5", prog, stiva), "updated": flt("input.n > 10", prog, stiva),
        "deleted": flt("input.n > 10", prog, stiva), "after_delete": 0,
        # decl-scope should_skip=false starts a run with the declared payload, should_skip=true does not;
        # the programmatic filter (updated to n > 10) starts n=20, not n=7; unscoped and unknown scope: none
        "runs": [[{"n": 1, "filter_payload": {"main_character": "Anna", "location": "Moscow"}}], [],
                 [{"n": 20, "filter_payload": stiva}], [], [], []],
    }
    aio = out["t_aio_filters"]
    assert aio == {"created": flt("true", aio["created"]["scope"], {}), "listed": ["false", "true"],
                   "got": flt("false", aio["created"]["scope"], {"a": 1}), "updated_scope_moved": True}
    assert out["t_idempotency"] == {
        "first": {"result": out["t_idempotency"]["first"]["result"]}, "single": {"existing_is_first": True},
        "sync": {"existing_is_first": True}, "bulk": {"successes": 1, "collisions": 1}, "other_key_runs": True,
        # one run for the key despite three triggers; two events with one key start one run
        "runs_with_key": 1, "event_runs": [1, 0]}
    clients = out["t_clients"]
    assert clients["limit"] == {"model": "RateLimitList", "count": 1, "key": clients["limit"]["key"],
                                "limit_value": 7, "window": "1 MINUTE", "value": 7}
    assert clients["bulk_update"] == {"model": "ScheduledWorkflowsBulkUpdateResponse", "updated": True,
                                      "errors": [], "moved": True}
    assert clients["bulk_delete"] == {"model": "ScheduledWorkflowsBulkDeleteResponse", "by_id": True,
                                      "by_filter": True, "errors": [], "left": ["0", "3"], "refused": "ValueError"}
    assert clients["details"] == {
        "model": "WorkflowRunDetail", "failed_with": "FailedTaskRunExceptionGroup", "status": "FAILED",
        "external_id_is_run": True, "done": True, "tasks": ["explode", "report-on-failure"],
        "explode": {"status": "FAILED", "has_error": True, "output": None},
        # the message's newline is escaped in the stored error; both SDKs split the header at it
        "hook_output": {"type": "TaskRunError", "exc": "kaboom: twice\\", "exc_type": "ValueError",
                        "trace_starts": "over", "trace_has_raise": True, "run_id_is_explode": True},
    }
    aio_clients = out["t_aio_clients"]
    case_id = aio_clients["details"]["input"]["id"]
    assert aio_clients == {
        "limits": [[True, 3, "1 SECOND"]], "moved": True, "deleted": True,
        "details": {"model": "WorkflowRunDetail", "status": "COMPLETED", "input": {"id": case_id},
                    "tasks": ["parity_idem"], "output": {"result": f"hello {case_id}"}, "error": None,
                    "task_status": "COMPLETED"}}
