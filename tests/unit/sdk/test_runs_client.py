"""What ``hatchet.runs`` sends to the engine's REST API (the answers are checked on the real engine)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import ValidationError

from hatchet_worker import BulkCancelReplayOpts, RunFilter, V1TaskStatus
from hatchet_worker._runs_rest import list_query
from hatchet_worker.clients.rest.models.v1_workflow_run_details import V1WorkflowRunDetails

SINCE = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_bulk_options_need_ids_or_a_filter_but_not_both() -> None:
    with pytest.raises(ValidationError, match="ids or filters must be set"):
        BulkCancelReplayOpts()
    with pytest.raises(ValidationError, match="cannot both be set"):
        BulkCancelReplayOpts(ids=["a"], filters=RunFilter(since=SINCE))


def test_bulk_body_by_ids_or_by_filter_as_the_official_sdk_sends_it() -> None:
    assert BulkCancelReplayOpts(ids=["a", "b"]).to_body() == {"externalIds": ["a", "b"]}
    body = BulkCancelReplayOpts(filters=RunFilter(
        since=SINCE, statuses=[V1TaskStatus.RUNNING, V1TaskStatus.QUEUED], workflow_ids=["w"],
        additional_metadata={"team": "a"})).to_body()
    assert body == {"filter": {"since": "2026-01-02T03:04:05+00:00", "statuses": ["RUNNING", "QUEUED"],
                               "workflowIds": ["w"], "additionalMetadata": ["team:a"]}}


def test_list_defaults_to_the_last_day_and_sends_snake_case_parameters() -> None:
    now = SINCE + timedelta(days=3)
    path = list_query("t", since=None, only_tasks=False, offset=None, limit=5, statuses=[V1TaskStatus.FAILED],
                      until=None, additional_metadata={"k": "v"}, workflow_ids=["w1", "w2"], worker_id=None,
                      parent_task_external_id=None, triggering_event_external_id="e",
                      include_payloads=True, now=now)
    url = urlsplit(path)
    assert url.path == "/api/v1/stable/tenants/t/workflow-runs"
    assert parse_qs(url.query) == {
        "limit": ["5"], "statuses": ["FAILED"], "since": [(now - timedelta(days=1)).isoformat()],
        "until": [now.isoformat()], "additional_metadata": ["k:v"], "workflow_ids": ["w1", "w2"],
        "only_tasks": ["false"], "triggering_event_external_id": ["e"], "include_payloads": ["true"]}


def test_a_range_of_a_week_or_more_warns_as_the_official_sdk() -> None:
    with pytest.warns(RuntimeWarning, match="7 days"):
        list_query("t", since=SINCE, only_tasks=True, offset=None, limit=None, statuses=None,
                   until=SINCE + timedelta(days=7), additional_metadata=None, workflow_ids=None, worker_id=None,
                   parent_task_external_id=None, triggering_event_external_id=None, include_payloads=False)


def test_status_is_a_str_enum_that_compares_equal_to_its_name() -> None:
    assert V1TaskStatus("COMPLETED") == "COMPLETED" and V1TaskStatus.COMPLETED.value == "COMPLETED"


def test_run_details_read_the_engine_json_by_alias() -> None:
    meta = {"id": "r", "createdAt": "2026-01-02T03:04:05Z", "updatedAt": "2026-01-02T03:04:05Z"}
    details = V1WorkflowRunDetails.model_validate({
        "run": {"metadata": meta, "status": "FAILED", "tenantId": "t", "displayName": "d", "workflowId": "w",
                "output": {}, "input": {"a": 1}, "errorMessage": "boom"},
        "taskEvents": [{"id": 1, "taskId": "x", "timestamp": "2026-01-02T03:04:05Z", "eventType": "FAILED",
                        "message": "m"}],
        "shape": [{"taskExternalId": "x", "stepId": "s", "childrenStepIds": [], "taskName": "n"}], "tasks": []})
    assert details.run.status is V1TaskStatus.FAILED and details.run.error_message == "boom"
    assert details.task_events[0].event_type.value == "FAILED" and details.shape[0].task_name == "n"
