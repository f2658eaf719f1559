"""``hatchet.runs``' paginated forms on the real engine (``_runs_paged``).

Five long runs tagged with a metadata value of their own: ``list_with_pagination`` over a window of
three UTC days finds each once, newest first; ``bulk_cancel_by_filters_with_pagination`` with chunks
of two cancels all five in three chunks (so at least three pauses of ``sleep_time``);
``bulk_replay_by_filters_with_pagination`` starts the cancelled ones again. With the official SDK
installed, its ``list_with_pagination`` (in this process) returns the same runs in the same order, and
its ``bulk_cancel_by_filters_with_pagination`` cancels the replayed runs again.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from hatchet_worker import Hatchet, TriggerWorkflowOptions
from hatchet_worker.clients.rest.models._enums import V1TaskStatus

from .conftest import stub, wait_until


def test_paginated_list_cancel_and_replay(client: Hatchet, start_worker: Any, ns: str) -> None:
    start_worker()
    tag = {"batch": ns}
    sleepy = stub(client, "sleepy")
    ids = [sleepy.run_no_wait({"seconds": 90}, options=TriggerWorkflowOptions(additional_metadata=tag)).workflow_run_id
           for _ in range(5)]
    since = datetime.now(tz=UTC) - timedelta(days=2)

    def listed() -> list[Any]:
        rows = client.runs.list_with_pagination(since=since, additional_metadata=tag)
        return rows if len(rows) == 5 and all(r.status == V1TaskStatus.RUNNING for r in rows) else []

    rows = wait_until(listed, 30, "the five runs listed RUNNING")
    assert sorted(r.workflow_run_external_id for r in rows) == sorted(ids)
    assert [r.created_at for r in rows] == sorted((r.created_at for r in rows), reverse=True)
    official_cancel: Any = None
    aio_rows = asyncio.run(client.runs.aio_list_with_pagination(since=since, additional_metadata=tag))
    assert [r.metadata.id for r in aio_rows] == [r.metadata.id for r in rows]
    if importlib.util.find_spec("hatchet_sdk") is not None:  # the official client lists the same runs, same order
        import hatchet_sdk

        config = client.config
        official = hatchet_sdk.Hatchet(config=hatchet_sdk.ClientConfig(
            token=config.token, host_port=config.host_port, server_url=config.server_url, namespace=ns,
            tls_config=hatchet_sdk.config.ClientTLSConfig(strategy="none")))
        theirs = official.runs.list_with_pagination(since=since, additional_metadata=tag)
        assert [r.metadata.id for r in theirs] == [r.metadata.id for r in rows]
        official_cancel = official.runs.bulk_cancel_by_filters_with_pagination

    started = time.monotonic()
    client.runs.bulk_cancel_by_filters_with_pagination(sleep_time=1, chunk_size=2, additional_metadata=tag)
    took = time.monotonic() - started
    assert took >= 3.0, took  # three chunks, a one-second pause after each
    wait_until(lambda: all(client.runs.get_status(i) == V1TaskStatus.CANCELLED for i in ids), 30,
               "the five runs CANCELLED")

    asyncio.run(client.runs.aio_bulk_replay_by_filters_with_pagination(sleep_time=0, additional_metadata=tag))
    wait_until(lambda: all(client.runs.get_status(i) in (V1TaskStatus.QUEUED, V1TaskStatus.RUNNING) for i in ids),
               30, "the five runs running again after the replay")
    # The replayed runs are cancelled again, by the official SDK's method when it is installed.
    (official_cancel if official_cancel is not None else client.runs.bulk_cancel_by_filters_with_pagination)(
        sleep_time=0, additional_metadata=tag)
    wait_until(lambda: all(client.runs.get_status(i) == V1TaskStatus.CANCELLED for i in ids), 30,
               "the five runs CANCELLED again")
