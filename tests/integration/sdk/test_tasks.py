"""Tasks run on a real engine: outputs come back, failures carry tracebacks, retries follow policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hatchet_worker import FailedTaskRunExceptionGroup, Hatchet

from .conftest import WorkerProc, standalone, stub, wait_until


def attempts(markers: Path, key: str) -> list[str]:
    path = markers / key
    return path.read_text().splitlines() if path.exists() else []


def test_sync_async_and_dag_outputs_are_read_back(client: Hatchet, start_worker: Any) -> None:
    worker: WorkerProc = start_worker(APP_TAG="w1")
    out = standalone(client, "echo").run({"value": {"x": [1, 2]}})
    assert out["value"] == {"x": [1, 2]}
    assert out["tag"] == "w1"
    assert out["retry_count"] == 0
    assert out["worker_id"]  # the context knows the engine's id for this worker
    assert standalone(client, "aecho").run({"value": "a"}) == {"value": "a", "tag": "w1", "async": True}
    result = stub(client, "dag").run({"value": 4})
    assert result == {"first": {"n": 5}, "second": {"n": 40}, "join": {"sum": 45}}
    assert worker.metric("hatchet_worker_tasks_succeeded_total") == 5
    assert worker.metric("hatchet_worker_tasks_started_total") == 5
    assert worker.metric("hatchet_worker_task_duration_seconds_count") == 5
    _, text = worker.get("/metrics")
    for family in ("hatchet_worker_slots gauge", "hatchet_worker_slots_in_use gauge",
                   "hatchet_worker_slots_available gauge", "hatchet_worker_tasks_failed_total counter",
                   "hatchet_worker_tasks_cancelled_total counter", "hatchet_worker_task_duration_seconds histogram",
                   "hatchet_worker_listener_reconnects_total counter", "hatchet_worker_heartbeat_age_seconds gauge",
                   "hatchet_worker_listener_health gauge", "process_resident_memory_bytes gauge"):
        assert f"# TYPE {family}\n" in text, family
    assert worker.metric("hatchet_worker_listener_health") == 1


def test_async_client_api(client: Hatchet, start_worker: Any) -> None:
    import asyncio

    start_worker()

    async def go() -> dict[str, Any]:
        ref = await standalone(client, "echo").aio_run_no_wait({"value": 7})
        assert ref.workflow_run_id
        return await ref.aio_result(timeout=30)

    assert asyncio.run(go())["echo"]["value"] == 7

    async def many() -> list[Any]:
        echo = standalone(client, "echo")
        return await echo.aio_run_many([echo.create_bulk_run_item({"value": i}) for i in range(30)])

    assert [o["value"] for o in asyncio.run(many())] == list(range(30))

    async def failing() -> None:
        await standalone(client, "fatal").aio_run({"key": "aio-fatal"})

    with pytest.raises(FailedTaskRunExceptionGroup, match="NonRetryableException: do not retry me"):
        asyncio.run(failing())


def test_exception_fails_with_traceback_after_retries(client: Hatchet, start_worker: Any,
                                                      markers: Path) -> None:
    start_worker()
    with pytest.raises(FailedTaskRunExceptionGroup) as info:
        standalone(client, "broken").run({"key": "broken"})
    [error] = info.value.exceptions
    assert error.task_name == "broken"
    assert "ValueError: boom from attempt 2" in error.message
    assert "Traceback (most recent call last)" in error.message
    assert 'in broken' in error.message  # the frame of the task function
    assert attempts(markers, "broken") == ["attempt 1", "attempt 2"]  # retries=1: two attempts


def test_retry_with_backoff_then_success(client: Hatchet, start_worker: Any, markers: Path) -> None:
    start_worker()
    out = standalone(client, "flaky").run({"succeed_on": 2, "key": "flaky"})
    assert out == {"attempts": 3}
    assert attempts(markers, "flaky") == ["attempt 1", "attempt 2", "attempt 3"]


def test_non_retryable_exception_is_not_retried(client: Hatchet, start_worker: Any, markers: Path) -> None:
    start_worker()
    with pytest.raises(FailedTaskRunExceptionGroup) as info:
        standalone(client, "fatal").run({"key": "fatal"})
    assert "NonRetryableException: do not retry me" in info.value.exceptions[0].message
    assert attempts(markers, "fatal") == ["attempt 1"]  # retries=3 are not used


def test_event_push_and_run_status(client: Hatchet, start_worker: Any) -> None:
    start_worker()
    ref = standalone(client, "echo").run_no_wait({"value": 1})
    ref.result(timeout=30)
    assert client.runs.get_status(ref.workflow_run_id) == "COMPLETED"
    assert client.event.push("some:event", {"a": 1})  # an event id comes back


def test_event_triggers_its_workflow(client: Hatchet, start_worker: Any, markers: Path) -> None:
    start_worker()
    client.event.push("app:ping", {"hello": "world"})
    seen = wait_until(lambda: attempts(markers, "evented"), 30, "the event-triggered run")
    ns = client.config.namespace
    assert json.loads(seen[0]) == {"input": {"hello": "world"}, "by_event": True, "key": f"{ns}app:ping"}


def test_run_many_and_child_runs(client: Hatchet, start_worker: Any) -> None:
    start_worker()
    echo = standalone(client, "echo")
    outs = echo.run_many([echo.create_bulk_run_item({"value": i}) for i in range(20)])
    assert [o["value"] for o in outs] == list(range(20))
    out = standalone(client, "spawner").run({"value": "kid"})
    assert out["child"]["value"] == "kid"  # a standalone run returns its task output


def test_on_failure_task_sees_the_errors(client: Hatchet, start_worker: Any, markers: Path) -> None:
    start_worker()
    with pytest.raises(FailedTaskRunExceptionGroup, match="kaboom"):
        stub(client, "guarded").run({})
    [line] = wait_until(lambda: attempts(markers, "guarded"), 30, "the on-failure task")
    errors = json.loads(line)
    assert list(errors) == ["explode"] and "RuntimeError: kaboom" in errors["explode"]
