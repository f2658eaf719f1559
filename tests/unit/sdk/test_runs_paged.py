"""The pure parts of the paginated runs methods (``_runs_paged``): day windows, chunks, merging pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest

from hatchet_worker import _runs_paged
from hatchet_worker._runs_paged import RunsPagedMixin, chunks, day_ranges, external_ids_query, newest_first
from hatchet_worker._runs_rest import BulkCancelReplayOpts
from hatchet_worker.clients.rest.models._enums import V1TaskStatus
from hatchet_worker.clients.rest.models.v1_task_summary_list import V1TaskSummaryList


def test_day_ranges_cut_at_utc_midnight() -> None:
    since = datetime(2026, 1, 1, 22, 30, tzinfo=UTC)
    until = datetime(2026, 1, 3, 5, 0, tzinfo=UTC)
    assert day_ranges(since, until) == [
        (since, datetime(2026, 1, 2, tzinfo=UTC)),
        (datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC)),
        (datetime(2026, 1, 3, tzinfo=UTC), until),
    ]


def test_day_ranges_naive_is_utc_and_aware_is_converted() -> None:
    plus2 = timezone(timedelta(hours=2))
    assert day_ranges(datetime(2026, 1, 1, 1, 0), datetime(2026, 1, 1, 3, 0, tzinfo=plus2)) == []  # 01:00 UTC
    assert day_ranges(datetime(2026, 1, 1, 1, 0), datetime(2026, 1, 1, 5, 0, tzinfo=plus2)) == [
        (datetime(2026, 1, 1, 1, 0, tzinfo=UTC), datetime(2026, 1, 1, 3, 0, tzinfo=UTC))]


def test_day_ranges_empty_window() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    assert day_ranges(when, when) == []
    assert day_ranges(when, when - timedelta(hours=1)) == []


def test_chunks() -> None:
    assert list(chunks(list(range(7)), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(chunks([], 500)) == []


def _row(run_id: str, created: datetime) -> dict[str, Any]:
    return {"metadata": {"id": run_id, "createdAt": created.isoformat(), "updatedAt": created.isoformat()},
            "createdAt": created.isoformat(), "displayName": run_id, "input": {}, "output": {},
            "numSpawnedChildren": 0, "status": "COMPLETED", "taskExternalId": run_id, "taskId": 1,
            "taskInsertedAt": created.isoformat(), "tenantId": "t", "type": "DAG", "workflowId": "w",
            "workflowRunExternalId": run_id, "additionalMetadata": {}}


def test_newest_first_merges_days_and_drops_repeats() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    page = lambda *rows: V1TaskSummaryList.model_validate(  # noqa: E731
        {"pagination": {"current_page": 1, "next_page": 1, "num_pages": 1}, "rows": list(rows)})
    merged = newest_first([page(_row("a", t0), _row("b", t0 + timedelta(hours=1))),
                           page(_row("b", t0 + timedelta(hours=1)), _row("c", t0 + timedelta(hours=2)))])
    assert [r.metadata.id for r in merged] == ["c", "b", "a"]


def test_external_ids_query() -> None:
    since, until = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    got = external_ids_query("ten", since=since, until=until, statuses=[V1TaskStatus.RUNNING, V1TaskStatus.QUEUED],
                             additional_metadata={"k": "v"}, workflow_ids=None)
    parts = urlsplit(got)
    assert parts.path == "/api/v1/stable/tenants/ten/workflow-runs/external-ids"
    assert parse_qsl(parts.query) == [("statuses", "RUNNING"), ("statuses", "QUEUED"),
                                      ("since", since.isoformat()), ("until", until.isoformat()),
                                      ("additional_metadata", "k:v")]


class _FakeRuns(RunsPagedMixin):
    """The mixin over recorded REST calls: ``external-ids`` answers ``ids``; bulk actions are recorded."""

    def __init__(self, ids: list[str]) -> None:
        self._client: Any = SimpleNamespace(config=SimpleNamespace(tenant_id="ten"))
        self.ids = ids
        self.asked: list[str] = []
        self.acted: list[tuple[str, list[str]]] = []

    def _rest(self, method: str, path: str, body: object | None = None) -> Any:
        self.asked.append(path)
        return self.ids

    def bulk_cancel(self, opts: BulkCancelReplayOpts) -> None:
        self.acted.append(("cancel", list(opts.ids or [])))

    def bulk_replay(self, opts: BulkCancelReplayOpts) -> None:
        self.acted.append(("replay", list(opts.ids or [])))


def test_bulk_by_filters_acts_in_chunks_with_a_pause_after_each(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(_runs_paged.time, "sleep", slept.append)
    runs = _FakeRuns([f"r{i}" for i in range(5)])
    runs.bulk_cancel_by_filters_with_pagination(sleep_time=2, chunk_size=2)
    assert runs.acted == [("cancel", ["r0", "r1"]), ("cancel", ["r2", "r3"]), ("cancel", ["r4"])]
    assert slept == [2, 2, 2]
    query = parse_qs(urlsplit(runs.asked[0]).query)
    assert query["statuses"] == ["RUNNING", "QUEUED"]
    since, until = (datetime.fromisoformat(query[k][0]) for k in ("since", "until"))
    assert until - since == timedelta(days=1)  # the last day by default
    runs = _FakeRuns(["a"])
    runs.bulk_replay_by_filters_with_pagination(sleep_time=0)
    assert runs.acted == [("replay", ["a"])]
    assert parse_qs(urlsplit(runs.asked[0]).query)["statuses"] == ["FAILED", "CANCELLED"]
    runs = _FakeRuns([])
    runs.bulk_cancel_by_filters_with_pagination(statuses=[V1TaskStatus.QUEUED])
    assert runs.acted == [] and parse_qs(urlsplit(runs.asked[0]).query)["statuses"] == ["QUEUED"]
