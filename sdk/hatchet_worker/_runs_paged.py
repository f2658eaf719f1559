"""The paginated and chunked forms of ``hatchet.runs``, with the official SDK's behaviour.

* ``list_with_pagination`` splits the time window at UTC midnights (one ``runs.list`` per day, so
  no single query scans more than a day) and returns the rows of all days as one list, each run
  once, newest first. The ``aio_`` form lists at most three days at a time.
* ``bulk_cancel_by_filters_with_pagination`` / ``bulk_replay_by_filters_with_pagination`` read the
  ids of the matching runs first (``workflow-runs/external-ids``), then cancel or replay them by id
  in chunks of ``chunk_size`` (500), sleeping ``sleep_time`` (3 s) after each chunk, so a large
  window does not land on the engine as one request. Without a window they act on the last day.
  Default statuses: RUNNING and QUEUED for a cancel, FAILED and CANCELLED for a replay.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from hatchet_worker import _rest
from hatchet_worker._runs_rest import BulkCancelReplayOpts, RunsRestMixin
from hatchet_worker.clients.rest.models._enums import V1TaskStatus
from hatchet_worker.clients.rest.models.v1_task_summary import V1TaskSummary

if TYPE_CHECKING:
    from hatchet_worker.clients.rest.models.v1_task_summary_list import V1TaskSummaryList

log = logging.getLogger("hatchet_worker")
T = TypeVar("T")
LIST_CONCURRENCY = 3  # days listed at once by aio_list_with_pagination, as the official SDK


def _utc(when: datetime) -> datetime:
    # A naive datetime is taken as UTC (the official SDK does the same), an aware one converted.
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def day_ranges(since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    """``[since, until)`` cut at each UTC midnight in between: the first and last pieces may be partial."""
    start, end = _utc(since), _utc(until)
    out: list[tuple[datetime, datetime]] = []
    while start < end:
        midnight = (start + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        out.append((start, min(midnight, end)))
        start = midnight
    return out


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for i in range(0, len(items), size):
        yield list(items[i:i + size])


def newest_first(pages: Iterable[V1TaskSummaryList]) -> list[V1TaskSummary]:
    """The rows of every page, each run once (a run can appear in two adjacent days), newest first."""
    by_id = {row.metadata.id: row for page in pages for row in page.rows}
    return sorted(by_id.values(), key=lambda row: row.created_at, reverse=True)


def external_ids_query(tenant_id: str, *, since: datetime, until: datetime, statuses: Sequence[V1TaskStatus],
                       additional_metadata: Mapping[str, str] | None,
                       workflow_ids: Sequence[str] | None) -> str:
    return _rest.with_query(f"/api/v1/stable/tenants/{tenant_id}/workflow-runs/external-ids", {
        "statuses": list(statuses) or None, "since": since.isoformat(), "until": until.isoformat(),
        "additional_metadata": _rest.metadata_kv(additional_metadata),
        "workflow_ids": list(workflow_ids) if workflow_ids else None})


class RunsPagedMixin(RunsRestMixin):
    """The ``*_with_pagination`` methods of ``RunsClient`` (on top of its REST half)."""

    def _windows(self, since: datetime | None, until: datetime | None) -> list[tuple[datetime, datetime]]:
        now = datetime.now(tz=UTC)
        return day_ranges(since or now - timedelta(days=1), until or now)

    def list_with_pagination(
            self, since: datetime | None = None, only_tasks: bool = False, offset: int | None = None,
            limit: int | None = None, statuses: builtins.list[V1TaskStatus] | None = None,
            until: datetime | None = None, additional_metadata: dict[str, str] | None = None,
            workflow_ids: builtins.list[str] | None = None, worker_id: str | None = None,
            parent_task_external_id: str | None = None, triggering_event_external_id: str | None = None,
            include_payloads: bool = True) -> builtins.list[V1TaskSummary]:
        """The runs of the window (default: the last day), listed one UTC day at a time, newest first.

        ``offset`` and ``limit`` apply to each day's page, as in the official SDK.
        """
        filters: dict[str, Any] = dict(
            only_tasks=only_tasks, offset=offset, limit=limit, statuses=statuses,
            additional_metadata=additional_metadata, workflow_ids=workflow_ids, worker_id=worker_id,
            parent_task_external_id=parent_task_external_id,
            triggering_event_external_id=triggering_event_external_id, include_payloads=include_payloads)
        return newest_first([self.list(since=s, until=u, **filters) for s, u in self._windows(since, until)])

    async def aio_list_with_pagination(
            self, since: datetime | None = None, only_tasks: bool = False, offset: int | None = None,
            limit: int | None = None, statuses: builtins.list[V1TaskStatus] | None = None,
            until: datetime | None = None, additional_metadata: dict[str, str] | None = None,
            workflow_ids: builtins.list[str] | None = None, worker_id: str | None = None,
            parent_task_external_id: str | None = None, triggering_event_external_id: str | None = None,
            include_payloads: bool = True) -> builtins.list[V1TaskSummary]:
        filters: dict[str, Any] = dict(
            only_tasks=only_tasks, offset=offset, limit=limit, statuses=statuses,
            additional_metadata=additional_metadata, workflow_ids=workflow_ids, worker_id=worker_id,
            parent_task_external_id=parent_task_external_id,
            triggering_event_external_id=triggering_event_external_id, include_payloads=include_payloads)
        gate = asyncio.Semaphore(LIST_CONCURRENCY)

        async def one_day(s: datetime, u: datetime) -> V1TaskSummaryList:
            async with gate:
                return await asyncio.to_thread(self.list, since=s, until=u, **filters)

        pages = await asyncio.gather(*(one_day(s, u) for s, u in self._windows(since, until)))
        return newest_first(pages)

    def _in_chunks(self, action: Literal["cancel", "replay"], statuses: builtins.list[V1TaskStatus],
                   sleep_time: float, chunk_size: int, since: datetime | None, until: datetime | None,
                   additional_metadata: dict[str, str] | None, workflow_ids: builtins.list[str] | None) -> None:
        until = until or datetime.now(tz=UTC)
        since = since or until - timedelta(days=1)
        ids: builtins.list[str] = self._rest("GET", external_ids_query(
            self._client.config.tenant_id, since=since, until=until, statuses=statuses,
            additional_metadata=additional_metadata, workflow_ids=workflow_ids)) or []
        parts = builtins.list(chunks(ids, chunk_size))
        act = self.bulk_cancel if action == "cancel" else self.bulk_replay
        for n, part in enumerate(parts, 1):
            log.info("%s: chunk %d/%d of %d ids", action, n, len(parts), len(part))
            act(BulkCancelReplayOpts(ids=part))
            time.sleep(sleep_time)  # after every chunk, the last too, as the official SDK

    def bulk_replay_by_filters_with_pagination(
            self, sleep_time: int = 3, chunk_size: int = 500, since: datetime | None = None,
            until: datetime | None = None, statuses: builtins.list[V1TaskStatus] | None = None,
            additional_metadata: dict[str, str] | None = None,
            workflow_ids: builtins.list[str] | None = None) -> None:
        """Replay the matching runs (default: FAILED and CANCELLED ones of the last day) in chunks."""
        self._in_chunks("replay", statuses or [V1TaskStatus.FAILED, V1TaskStatus.CANCELLED], sleep_time,
                        chunk_size, since, until, additional_metadata, workflow_ids)

    def bulk_cancel_by_filters_with_pagination(
            self, sleep_time: int = 3, chunk_size: int = 500, since: datetime | None = None,
            until: datetime | None = None, statuses: builtins.list[V1TaskStatus] | None = None,
            additional_metadata: dict[str, str] | None = None,
            workflow_ids: builtins.list[str] | None = None) -> None:
        """Cancel the matching runs (default: RUNNING and QUEUED ones of the last day) in chunks."""
        self._in_chunks("cancel", statuses or [V1TaskStatus.RUNNING, V1TaskStatus.QUEUED], sleep_time,
                        chunk_size, since, until, additional_metadata, workflow_ids)

    async def aio_bulk_replay_by_filters_with_pagination(
            self, sleep_time: int = 3, chunk_size: int = 500, since: datetime | None = None,
            until: datetime | None = None, statuses: builtins.list[V1TaskStatus] | None = None,
            additional_metadata: dict[str, str] | None = None,
            workflow_ids: builtins.list[str] | None = None) -> None:
        await asyncio.to_thread(self.bulk_replay_by_filters_with_pagination, sleep_time, chunk_size, since, until,
                                statuses, additional_metadata, workflow_ids)

    async def aio_bulk_cancel_by_filters_with_pagination(
            self, sleep_time: int = 3, chunk_size: int = 500, since: datetime | None = None,
            until: datetime | None = None, statuses: builtins.list[V1TaskStatus] | None = None,
            additional_metadata: dict[str, str] | None = None,
            workflow_ids: builtins.list[str] | None = None) -> None:
        await asyncio.to_thread(self.bulk_cancel_by_filters_with_pagination, sleep_time, chunk_size, since, until,
                                statuses, additional_metadata, workflow_ids)
