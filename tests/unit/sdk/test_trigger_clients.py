"""The REST query the cron and scheduled-run clients send (the answers are checked on the real engine)."""

from __future__ import annotations

from hatchet_worker._rest import with_query
from hatchet_worker._trigger_clients import metadata_filter
from hatchet_worker.clients.rest.models.cron_workflows_order_by_field import CronWorkflowsOrderByField
from hatchet_worker.clients.rest.models.scheduled_run_status import ScheduledRunStatus


def test_lists_repeat_a_parameter_and_none_is_left_out() -> None:
    assert with_query("crons", {"limit": 5, "cronName": None}) == "crons?limit=5"
    assert with_query("scheduled", {"statuses": [ScheduledRunStatus.SCHEDULED, ScheduledRunStatus.FAILED],
                                    "orderByField": CronWorkflowsOrderByField.CREATEDAT}) == (
        "scheduled?statuses=SCHEDULED&statuses=FAILED&orderByField=createdAt")
    assert with_query("crons", {}) == "crons"


def test_metadata_filters_are_key_colon_value_as_the_official_sdk_sends_them() -> None:
    assert metadata_filter({"team": "a", "n": 1}) == ["team:a", "n:1"]
    assert metadata_filter({}) is None and metadata_filter(None) is None
    assert with_query("crons", {"additionalMetadata": metadata_filter({"k": "v w"})}) == (
        "crons?additionalMetadata=k%3Av+w")
